"""Sampler choice. All share the paper's linear 0.00085 -> 0.012 beta schedule of SD1.5 training."""

from __future__ import annotations

from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

_SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear"}


def make_scheduler(name: str) -> SchedulerMixin:
    """A fresh scheduler for one run (schedulers hold per-run state, so never share one)."""
    kwargs: dict[str, Any] = dict(_SCHEDULE)
    if name == "ddim":
        return DDIMScheduler(**kwargs, clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                             timestep_spacing="linspace")
    if name == "euler":
        return EulerDiscreteScheduler(**kwargs, steps_offset=1, timestep_spacing="linspace")
    if name == "euler-ancestral":
        return EulerAncestralDiscreteScheduler(**kwargs, steps_offset=1, timestep_spacing="linspace")
    if name == "dpm++-2m-karras":
        return DPMSolverMultistepScheduler(**kwargs, algorithm_type="dpmsolver++", solver_order=2,
                                           use_karras_sigmas=True, steps_offset=1)
    if name == "lcm":
        return LCMScheduler(**kwargs, steps_offset=1, timestep_spacing="linspace")
    raise ValueError(f"unknown scheduler {name!r}")

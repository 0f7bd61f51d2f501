"""Sampler choice. All share the paper's linear 0.00085 -> 0.012 beta schedule of SD1.5 training, and take the
base's prediction type (and zero-terminal-SNR rescaling) from its `NoiseSchedule`."""

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

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule


def make_scheduler(name: str, schedule: NoiseSchedule = SD15_SCHEDULE) -> SchedulerMixin:
    """A fresh scheduler for one run (schedulers hold per-run state, so never share one)."""
    kwargs: dict[str, Any] = schedule.scheduler_kwargs()
    spacing = kwargs.pop("timestep_spacing", "linspace")
    if name == "ddim":
        return DDIMScheduler(**kwargs, clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                             timestep_spacing=spacing)
    if name == "euler":
        return EulerDiscreteScheduler(**kwargs, steps_offset=1, timestep_spacing=spacing)
    if name == "euler-ancestral":
        return EulerAncestralDiscreteScheduler(**kwargs, steps_offset=1, timestep_spacing=spacing)
    if name == "dpm++-2m-karras":
        # Karras sigmas are spaced between finite end points; zero terminal SNR puts the first at infinity, so such
        # a base gets the trailing spacing of the other samplers instead.
        return DPMSolverMultistepScheduler(**kwargs, algorithm_type="dpmsolver++", solver_order=2,
                                           use_karras_sigmas=not schedule.zero_terminal_snr, steps_offset=1,
                                           timestep_spacing=spacing)
    if name == "lcm":
        return LCMScheduler(**kwargs, steps_offset=1, timestep_spacing=spacing)
    raise ValueError(f"unknown scheduler {name!r}")

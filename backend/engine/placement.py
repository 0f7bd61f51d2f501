"""Where a pipeline's weights live for a job: all on the device, or model CPU offload as the memory plan chose.

Offload uses diffusers' own hooks (`enable_model_cpu_offload`, built on accelerate): they act on each model's
forward, and on the VAE's `encode`/`decode`, so the engine's own sampler and decode run under them unchanged. A
pipeline keeps its placement between jobs and is only moved when a job's plan asks for another one, so warm jobs
that fit stay resident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers import AnimateDiffPipeline

PLACEMENTS: tuple[str, ...] = ("none", "model")  # MemoryPlan.offload
_ATTR = "_studio_placement"  # on the pipeline: the placement it has now ("unplaced" after assembly)


def placement_of(pipe: AnimateDiffPipeline) -> str:
    return getattr(pipe, _ATTR, "none")


def bytes_on_device(pipe: AnimateDiffPipeline, device: torch.device) -> int:
    """Weights of the pipeline's models that sit on `device` now (what the free-memory figure leaves out)."""
    total = 0
    for model in (pipe.unet, pipe.vae, pipe.text_encoder):
        for t in (*model.parameters(), *model.buffers()):
            if t.device.type == device.type:
                total += t.numel() * t.element_size()
    return total


def place(pipe: AnimateDiffPipeline, offload: str, device: torch.device) -> None:
    """Put the models where `offload` says; nothing moves when they are there already."""
    if offload not in PLACEMENTS:
        raise ValueError(f"offload: {offload!r} is not one of {', '.join(PLACEMENTS)}")
    if placement_of(pipe) == offload:
        return
    pipe.remove_all_hooks()
    if offload == "none":
        pipe.to(device)
    else:
        pipe.enable_model_cpu_offload(device=device)
    setattr(pipe, _ATTR, offload)


def mark_unplaced(pipe: AnimateDiffPipeline) -> None:
    """A freshly assembled pipeline on the CPU: the first job's plan places it."""
    setattr(pipe, _ATTR, "unplaced")


@contextmanager
def offload_session(pipe: AnimateDiffPipeline) -> Iterator[None]:
    """Around one job: under model offload the last model used (the VAE) stays on the device after the job,
    and the chain of hooks would not move it off when the next job's text encoder runs; so every model goes
    back to the CPU when the job ends, however it ends."""
    try:
        yield
    finally:
        if placement_of(pipe) == "model":
            pipe.maybe_free_model_hooks()

"""Typed progress events the engine reports, and the exception that cancels a run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from models.errors import StudioError


class Cancelled(StudioError):
    """Raised from the step callback: unwinds the denoising loop and skips the VAE decode."""

    code = "cancelled"


@dataclass(frozen=True)
class Progress:
    """`phase` is "loading", "encoding", "denoising" or "decoding"; `step`/`total` count denoising steps."""

    phase: str
    step: int = 0
    total: int = 0
    latents: torch.Tensor | None = None  # current latents while denoising, for previews
    memory_plan: dict | None = None  # with the first "denoising" report: what the job runs with (MemoryPlan)


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]

"""How much of a clip's motion its noisy version still shows at a training timestep.

A motion module is paid to predict the clip from the noisy clip and the prompt; where the noisy clip already
tells the motion, the prompt's word is worth nothing to the loss, and at sampling (pure noise) the module reads
a random motion instead. For a clip's latents z and their time reverse z_r (the same path the other way), the
noisy clip at step t is sqrt(abar) z + sqrt(1 - abar) eps. Telling which of the two was noised is a test between
two Gaussians with the same covariance, whose separation is

    d' = sqrt(abar / (1 - abar)) * ||z - z_r||,

and the best possible test gets it right with probability Phi(d' / 2) (position and shape known, so an upper
bound on what a denoiser can read). On the paper's linear schedule d' stays above 2 at t = 999 for this
project's clips; with zero terminal SNR it is 0 there (docs/builtin-model.md, 2026-12-08).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

import torch


def reversal_separation(latents: torch.Tensor, alpha_bar: float) -> float:
    """d' between a clip's latents (frames first: (F, ...)) and their time reverse, noised to `alpha_bar`."""
    if not 0.0 <= alpha_bar < 1.0:
        raise ValueError(f"alpha_bar: {alpha_bar!r} is not in [0, 1)")
    distance = float((latents - latents.flip(0)).float().norm())
    return math.sqrt(alpha_bar / (1.0 - alpha_bar)) * distance


def best_test_accuracy(separation: float) -> float:
    """Phi(d' / 2): how often the optimal test tells the clip from its reverse."""
    return 0.5 * (1.0 + math.erf(separation / 2.0 / math.sqrt(2.0)))


def reversal_evidence(clips: Sequence[torch.Tensor], alphas_cumprod: torch.Tensor, timesteps: Iterable[int]
                      ) -> dict[int, float]:
    """The median d' over `clips` (latents, frames first) at each timestep of a schedule's `alphas_cumprod`."""
    if not clips:
        raise ValueError("clips: none given; at least one clip's latents are needed")
    out = {}
    for t in timesteps:
        if not 0 <= t < len(alphas_cumprod):
            raise ValueError(f"timesteps: {t!r} is outside the schedule's 0..{len(alphas_cumprod) - 1}")
        out[t] = statistics.median(reversal_separation(z, float(alphas_cumprod[t])) for z in clips)
    return out

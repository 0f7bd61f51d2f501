"""The noisy clip's own evidence of its direction (backend/training/noise_evidence.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule
from backend.training.datasets import to_pixels
from backend.training.diffusion import make_noise_scheduler
from backend.training.noise_evidence import best_test_accuracy, reversal_evidence, reversal_separation
from backend.training.shapes import random_clip, render_clip


def test_the_best_test_tells_a_noised_clip_from_its_reverse_as_often_as_d_prime_says():
    """Monte Carlo: noise the clip, pick whichever of clip / reverse is nearer (the optimal test between two
    Gaussians of one covariance): the share right matches Phi(d'/2)."""
    gen = torch.Generator().manual_seed(0)
    clip = torch.zeros(16, 4, 4, 4)
    clip[torch.arange(16), 0, 1, torch.arange(16) // 4] = 0.5  # a faint blob that steps across the frame
    reverse = clip.flip(0)
    # At 0.5 the noise's own scale matters: sqrt(alpha_bar) * ||z - z_r|| alone would say 84%, not 92%.
    for alpha_bar in (0.1, 0.5):
        d = reversal_separation(clip, alpha_bar)
        a, s = math.sqrt(alpha_bar), math.sqrt(1 - alpha_bar)
        noisy = a * clip + s * torch.randn(4000, *clip.shape, generator=gen)
        nearer = ((noisy - a * clip) ** 2).sum((1, 2, 3, 4)) < ((noisy - a * reverse) ** 2).sum((1, 2, 3, 4))
        assert float(nearer.float().mean()) == pytest.approx(best_test_accuracy(d), abs=0.025)
    assert 0.6 < best_test_accuracy(reversal_separation(clip, 0.1)) < best_test_accuracy(
        reversal_separation(clip, 0.5)) < 0.95


def test_a_still_clip_shows_no_direction_and_pure_noise_shows_none():
    still = torch.randn(1, 4, 8, 8).repeat(16, 1, 1, 1)  # the same frame 16 times is its own reverse
    assert reversal_separation(still, 0.5) == 0.0
    moving = torch.randn(16, 4, 8, 8)
    assert reversal_separation(moving, 0.0) == 0.0 and reversal_separation(moving, 0.5) > 0


def test_the_linear_schedule_leaves_the_direction_in_the_noise_at_t999_and_zero_terminal_snr_does_not():
    latents = []
    for i, move in enumerate(("left", "right", "up", "down")):
        spec = random_clip(np.random.default_rng([7, i]), 64, 16, move)
        latents.append(to_pixels(render_clip(spec, 64, watermark=False)))  # pixels stand in for latents
    linear = reversal_evidence(latents, make_noise_scheduler(SD15_SCHEDULE).alphas_cumprod, (999, 900, 500))
    zero = reversal_evidence(latents, make_noise_scheduler(NoiseSchedule("v_prediction", zero_terminal_snr=True))
                             .alphas_cumprod, (999, 900, 500))
    assert zero[999] == 0.0 < linear[999] < linear[900] < linear[500]
    assert 0 < zero[900] < linear[900]


def test_bad_input_is_refused_with_the_field_and_value():
    with pytest.raises(ValueError, match="alpha_bar: 1.0"):
        reversal_separation(torch.zeros(2, 1), 1.0)
    with pytest.raises(ValueError, match="timesteps: 1000"):
        reversal_evidence([torch.zeros(2, 1)], torch.full((1000,), 0.5), (1000,))
    with pytest.raises(ValueError, match="clips"):
        reversal_evidence([], torch.full((1000,), 0.5), (0,))

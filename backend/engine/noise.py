"""Starting noise: plain, FreeNoise's rescheduled noise for long clips, and FreeInit's re-initialisation.

All noise is drawn on the CPU from the request's seed, so a seed gives the same clip on any device.
"""

from __future__ import annotations

import torch
from diffusers.utils.torch_utils import randn_tensor


def initial_noise(shape: tuple[int, ...], generator: torch.Generator, free_noise_window: int | None = None
                  ) -> torch.Tensor:
    """(B, C, F, h, w) standard normal noise on the CPU, float32.

    With `free_noise_window` (FreeNoise, Qiu et al. 2023) only the first window's frames get fresh noise;
    every later chunk of frames reuses the noise of the chunk before it in a shuffled frame order. Windows
    of a long clip then start from correlated noise, which keeps content consistent across windows.
    """
    noise = randn_tensor(shape, generator=generator, dtype=torch.float32)
    frames = shape[2]
    if not free_noise_window or frames <= free_noise_window:
        return noise
    for start in range(free_noise_window, frames, free_noise_window):
        count = min(free_noise_window, frames - start)
        source = torch.arange(start - free_noise_window, start - free_noise_window + count)
        order = source[torch.randperm(count, generator=generator)]
        noise[:, :, start:start + count] = noise[:, :, order]
    return noise


def free_init_filter(frames: int, height: int, width: int, spatial_stop: float = 0.25,
                     temporal_stop: float = 0.25, order: int = 4) -> torch.Tensor:
    """FreeInit's Butterworth low-pass filter over (frames, height, width) in centred frequency space."""
    t = (2 * torch.arange(frames) / frames - 1) * (spatial_stop / temporal_stop)
    h = 2 * torch.arange(height) / height - 1
    w = 2 * torch.arange(width) / width - 1
    d_square = t[:, None, None] ** 2 + h[None, :, None] ** 2 + w[None, None, :] ** 2
    return 1 / (1 + (d_square / spatial_stop**2) ** order)


def free_init_reinitialise(denoised: torch.Tensor, first_noise: torch.Tensor, scheduler,
                           generator: torch.Generator) -> torch.Tensor:
    """FreeInit (Wu et al. 2023): diffuse the clip just made back to the last training timestep, keep its
    low spatio-temporal frequencies (layout and motion) and take the high ones from fresh noise.

    Diffused in the variance-preserving form (all our samplers share SD1.5's linear betas), then scaled to
    the sampler's starting noise level, so it works for DDIM and the sigma-based samplers alike.
    """
    alpha_bar = scheduler.alphas_cumprod[scheduler.config.num_train_timesteps - 1].float()
    z_t = alpha_bar.sqrt() * denoised.float().cpu() + (1 - alpha_bar).sqrt() * first_noise
    fresh = randn_tensor(tuple(denoised.shape), generator=generator, dtype=torch.float32)
    low_pass = free_init_filter(*denoised.shape[-3:])
    dims = (-3, -2, -1)
    z_freq = torch.fft.fftshift(torch.fft.fftn(z_t, dim=dims), dim=dims)
    n_freq = torch.fft.fftshift(torch.fft.fftn(fresh, dim=dims), dim=dims)
    mixed = z_freq * low_pass + n_freq * (1 - low_pass)
    return torch.fft.ifftn(torch.fft.ifftshift(mixed, dim=dims), dim=dims).real * scheduler.init_noise_sigma

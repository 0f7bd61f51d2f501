"""The denoising loop: classifier-free guidance, context windows, per-frame prompts, pinned frames.

Written out instead of calling `AnimateDiffPipeline.__call__` because long clips need the UNet run
window by window with the predictions fused, prompt travel needs a different text embedding per frame,
and continuation needs the overlap frames pinned to the source clip after every step. Without any of
those it computes exactly what diffusers' pipeline does (tested for equality).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import UNetMotionModel
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

from backend.engine.context_windows import ContextPlan
from backend.engine.deep_cache import DeepCache

StepCallback = Callable[[int, torch.Tensor], None]  # (step index from 0, latents after the step)
# (window frame indices, latent model input, timestep, text embeddings) -> extra UNet kwargs (SparseCtrl)
ControlHook = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], dict]


@dataclass
class PinnedFrames:
    """Frames held to known clean latents (a source clip's last frames when continuing it)."""

    frames: torch.Tensor  # (k,) frame indices
    latents: torch.Tensor  # (1, C, k, h, w) clean latents
    noise: torch.Tensor  # (1, C, k, h, w) fixed noise to re-noise them with at each level

    def at(self, scheduler, timestep: torch.Tensor | None) -> torch.Tensor:
        """The pinned latents at the noise level of `timestep` (clean when None: after the last step)."""
        if timestep is None:
            return self.latents
        return scheduler.add_noise(self.latents, self.noise, timestep.reshape(1))


@dataclass
class Conditioning:
    text: torch.Tensor  # (F, 77, D): one text embedding per frame
    negative: torch.Tensor | None  # (F, 77, D), None without classifier-free guidance
    guidance: float
    guidance_rescale: float = 0.0  # 0: plain classifier-free guidance
    batched: bool = True  # both guidance halves in one UNet call; False: two calls, half the activation memory


def step_kwargs(scheduler, generator: torch.Generator | None, eta: float = 0.0) -> dict:
    """What `scheduler.step` accepts of eta/generator (as diffusers' `prepare_extra_step_kwargs`)."""
    accepted = set(inspect.signature(scheduler.step).parameters)
    kwargs: dict = {}
    if "eta" in accepted:
        kwargs["eta"] = eta
    if "generator" in accepted:
        kwargs["generator"] = generator
    return kwargs


def denoise(unet: UNetMotionModel, scheduler, latents: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning,
            plan: ContextPlan, *, generator: torch.Generator | None = None, pinned: PinnedFrames | None = None,
            control: ControlHook | None = None, on_step: StepCallback | None = None,
            deep: DeepCache | None = None) -> torch.Tensor:
    """Run `timesteps` on `latents` (1, C, F, h, w); returns the denoised latents. `deep`: the UNet's
    feature cache (`deep_cache.py`), told where each step starts."""
    extra = step_kwargs(scheduler, generator)
    frames = latents.shape[2]
    whole = len(plan.windows) == 1 and plan.windows[0] == tuple(range(frames))
    windows = [torch.tensor(w, device=latents.device) for w in plan.windows]
    position_weights = torch.tensor(plan.weights, device=latents.device, dtype=latents.dtype)
    for i, t in enumerate(timesteps):
        if deep is not None:
            deep.begin_step(i)
        if whole:
            noise_pred = _predict(unet, scheduler, latents, t, cond, windows[0], control)
        else:
            noise_pred = torch.zeros_like(latents)
            total = torch.zeros(frames, device=latents.device, dtype=latents.dtype)
            for window in windows:
                pred = _predict(unet, scheduler, latents[:, :, window], t, cond, window, control)
                noise_pred.index_add_(2, window, pred * position_weights.view(1, 1, -1, 1, 1))
                total.index_add_(0, window, position_weights)
            noise_pred = noise_pred / total.view(1, 1, -1, 1, 1)
        latents = scheduler.step(noise_pred, t, latents, **extra).prev_sample
        if pinned is not None:
            latents[:, :, pinned.frames] = pinned.at(scheduler, timesteps[i + 1] if i + 1 < len(timesteps) else None
                                                     ).to(latents.dtype)
        if on_step is not None:
            on_step(i, latents)
    return latents


def _predict(unet: UNetMotionModel, scheduler, latents: torch.Tensor, t: torch.Tensor, cond: Conditioning,
             window: torch.Tensor, control: ControlHook | None) -> torch.Tensor:
    """Guided noise prediction for one window of frames (the UNet sees exactly these frames)."""
    if cond.negative is None:
        return _unet(unet, scheduler, latents, t, cond.text[window], window, control)
    if cond.batched:
        # UNetMotionModel folds (batch, frames) batch-major: all unconditional frames, then all conditional ones.
        text = torch.cat([cond.negative[window], cond.text[window]])
        uncond, conditional = _unet(unet, scheduler, torch.cat([latents] * 2), t, text, window, control).chunk(2)
    else:
        uncond = _unet(unet, scheduler, latents, t, cond.negative[window], window, control)
        conditional = _unet(unet, scheduler, latents, t, cond.text[window], window, control)
    guided = uncond + cond.guidance * (conditional - uncond)
    if cond.guidance_rescale > 0:
        guided = _rescale_per_frame(guided, conditional, cond.guidance_rescale)
    return guided


def _rescale_per_frame(guided: torch.Tensor, conditional: torch.Tensor, amount: float) -> torch.Tensor:
    """diffusers' `rescale_noise_cfg` on each frame as the picture it is (B, C, F, h, w): a frame's result then
    does not depend on the window or clip it was computed in."""
    def frames(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).flatten(0, 1)

    out = rescale_noise_cfg(frames(guided), frames(conditional), amount)
    b, c, f = guided.shape[:3]
    return out.reshape(b, f, c, *guided.shape[3:]).transpose(1, 2)


def _unet(unet: UNetMotionModel, scheduler, latents: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
          window: torch.Tensor, control: ControlHook | None) -> torch.Tensor:
    model_input = scheduler.scale_model_input(latents, t)
    kwargs = control(window, model_input, t, text) if control is not None else {}
    return unet(model_input, t, encoder_hidden_states=text, **kwargs).sample

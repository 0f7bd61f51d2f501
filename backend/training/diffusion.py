"""The objective every trainer optimises: L2 on the paper's linear 0.00085-0.012 schedule, of the noise (SD1.5's
`epsilon`) or of the velocity (`v_prediction`, with the betas rescaled to zero terminal SNR when the base's
`NoiseSchedule` says so: a module trained on a base must learn what that base predicts).

`DiffusionObjective` is one `nn.Module` (what `accelerate` wraps) holding the frozen VAE, the text encoder,
the denoiser and the schedule. Stills (B, 3, H, W) train a `UNet2DConditionModel`; clips (B, F, 3, H, W) train
a `UNetMotionModel`, whose forward wants latents (B, C, F, h, w) and the text embeddings repeated per frame.
What is trained is whatever parameters the trainer left with `requires_grad` (a LoRA, the motion modules, the
whole UNet and text encoder); everything else is frozen and runs without building a graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from diffusers import AutoencoderKL, DDPMScheduler
from torch import nn
from transformers import CLIPTextModel, CLIPTokenizer

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule


def make_noise_scheduler(schedule: NoiseSchedule = SD15_SCHEDULE) -> DDPMScheduler:
    """The schedule the engine samples with (backend/engine/schedulers.py) and the paper trains with."""
    kwargs = schedule.scheduler_kwargs()
    kwargs.pop("timestep_spacing", None)  # sampling only
    return DDPMScheduler(**kwargs)


def tokenize(tokenizer: CLIPTokenizer, captions: list[str]) -> torch.Tensor:
    return tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


@torch.no_grad()
def encode_pixels(vae: AutoencoderKL, pixels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Images in [-1, 1], (N, 3, H, W) -> scaled latents (N, C, H/s, W/s), sampled from the posterior."""
    posterior = vae.encode(pixels.to(vae.dtype)).latent_dist
    return posterior.sample(generator) * vae.config.scaling_factor


class DiffusionObjective(nn.Module):
    """`forward(pixels, captions, generator)` -> the mean squared error of the prediction (noise or velocity).

    `caption_dropout` replaces a caption by "" with that probability, so classifier-free guidance has an
    unconditional branch to work with (used when the text encoder itself is trained).
    """

    def __init__(self, denoiser: nn.Module, vae: AutoencoderKL, text_encoder: CLIPTextModel,
                 tokenizer: CLIPTokenizer, caption_dropout: float = 0.0, schedule: NoiseSchedule = SD15_SCHEDULE
                 ) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.vae = vae.requires_grad_(False).eval()
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.schedule = schedule
        self.scheduler = make_noise_scheduler(schedule)
        self.caption_dropout = caption_dropout

    def encode_text(self, captions: list[str], generator: torch.Generator | None) -> torch.Tensor:
        if self.caption_dropout > 0:
            keep = torch.rand(len(captions), generator=generator, device=generator.device if generator else "cpu")
            captions = [c if float(k) >= self.caption_dropout else "" for c, k in zip(captions, keep, strict=True)]
        ids = tokenize(self.tokenizer, captions).to(self.vae.device)
        trains_text = any(p.requires_grad for p in self.text_encoder.parameters())
        with torch.set_grad_enabled(trains_text and torch.is_grad_enabled()):
            return self.text_encoder(ids)[0]

    def forward(self, pixels: torch.Tensor, captions: list[str], generator: torch.Generator | None = None
                ) -> torch.Tensor:
        video = pixels.ndim == 5
        batch = pixels.shape[0]
        frames = pixels.shape[1] if video else 1
        flat = pixels.reshape(batch * frames, *pixels.shape[-3:]) if video else pixels
        latents = encode_pixels(self.vae, flat.to(self.vae.device), generator)
        if video:  # (B*F, C, h, w) -> (B, C, F, h, w): UNetMotionModel's layout
            latents = latents.reshape(batch, frames, *latents.shape[1:]).permute(0, 2, 1, 3, 4)
        device = latents.device
        noise = torch.randn(latents.shape, generator=generator, device=device, dtype=latents.dtype)
        steps = self.scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, steps, (batch,), generator=generator, device=device)
        noisy = self.scheduler.add_noise(latents, noise, timesteps)
        text = self.encode_text(list(captions), generator)
        if video:
            text = text.repeat_interleave(frames, dim=0)
        prediction = self.denoiser(noisy, timesteps, encoder_hidden_states=text).sample
        target = noise if self.schedule.prediction_type == "epsilon" else \
            self.scheduler.get_velocity(latents, noise, timesteps)
        return F.mse_loss(prediction.float(), target.float())

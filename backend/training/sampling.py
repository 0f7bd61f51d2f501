"""Samples rendered during training with the weights as they are: a PNG grid of stills or a GIF clip.

Both go through the same diffusers pipelines the engine uses (DDIM on the paper's linear schedule), so a
sample shows what a user would get at that step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import AnimateDiffPipeline, AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from PIL import Image
from transformers import CLIPTextModel, CLIPTokenizer

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule
from backend.engine.outputs import write_gif
from backend.engine.schedulers import make_scheduler


def image_pipeline(unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: CLIPTextModel,
                   tokenizer: CLIPTokenizer, schedule: NoiseSchedule = SD15_SCHEDULE) -> StableDiffusionPipeline:
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=make_scheduler("ddim", schedule), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_grid(images: torch.Tensor, per_row: int, path: Path) -> Path:
    """(N, 3, H, W) in [-1, 1] -> one PNG, `per_row` images a row."""
    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    rows = [np.concatenate(list(arr[i:i + per_row]), axis=1) for i in range(0, len(arr), per_row)]
    if len(rows) > 1 and rows[-1].shape != rows[0].shape:
        rows[-1] = np.pad(rows[-1], ((0, 0), (0, rows[0].shape[1] - rows[-1].shape[1]), (0, 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def sample_images(pipe: StableDiffusionPipeline, prompts: list[str], path: Path, size: int = 64,
                  steps: int = 20, guidance: float = 4.0) -> Path:
    generator = torch.Generator("cpu").manual_seed(0)
    images = pipe(prompts, height=size, width=size, num_inference_steps=steps, guidance_scale=guidance,
                  generator=generator, output_type="pt").images
    return save_grid(images * 2 - 1, len(prompts), path)


def sample_clip(unet, vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, prompt: str,
                path: Path, *, frames: int = 16, size: int = 64, steps: int = 20, guidance: float = 4.0,
                schedule: NoiseSchedule = SD15_SCHEDULE) -> Path:
    """A GIF of `prompt` through `AnimateDiffPipeline` with `unet` (a `UNetMotionModel`), seed 0."""
    pipe = AnimateDiffPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                               motion_adapter=None, scheduler=make_scheduler("ddim", schedule))
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator("cpu").manual_seed(0)
    video = pipe(prompt, num_frames=frames, height=size, width=size, num_inference_steps=steps,
                 guidance_scale=guidance, generator=generator, output_type="pil").frames[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_gif(video, path, fps=8)


@dataclass(frozen=True)
class ClipSample:
    """What the motion trainers render as their sample: `prompt` as a GIF of `frames` frames."""

    prompt: str = "a red circle moving right"
    frames: int = 16
    size: int = 64
    steps: int = 20

    def render(self, unet, base, step: int, folder: Path) -> Path:  # noqa: ANN001 - UNetMotionModel, BaseComponents
        return sample_clip(unet, base.vae, base.text_encoder, base.tokenizer, self.prompt,
                           folder / f"step-{step:06d}.gif", frames=self.frames, size=self.size, steps=self.steps,
                           schedule=base.schedule)

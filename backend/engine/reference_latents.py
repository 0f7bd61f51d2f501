"""Start a clip from reference pictures: their VAE latents, spread over the frames, noised as img2img does.

This is the image-to-video path that needs no extra model: every frame starts from the latents of the
reference at its index (between two references, a linear blend by frame distance; before the first and
after the last, the nearest one), noised to the timestep where a schedule shortened by
`reference_strength` begins. The motion module then turns the still start into motion.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AnimateDiffPipeline
from PIL import Image, ImageOps

from backend.engine.request import GenerationRequest


def reference_start_latents(pipe: AnimateDiffPipeline, frames_and_files: list[tuple[int, Path]],
                            req: GenerationRequest, noise: torch.Tensor, run_steps: int) -> torch.Tensor:
    """The latents denoising starts from: (frame index, image file) pairs -> noised (1, C, F, h, w)."""
    images = [load_reference_image(path, req.width, req.height) for _, path in frames_and_files]
    encoded = encode_images(pipe, images).to(noise.device, noise.dtype)
    init = spread_over_frames({index: encoded[i] for i, (index, _) in enumerate(frames_and_files)}, req.frames)
    return noise_to_start(pipe.scheduler, init, noise, req.steps, run_steps)


def load_reference_image(path: Path, width: int, height: int) -> Image.Image:
    """RGB, upright (EXIF), centre-cropped to the clip's aspect ratio and resized to its size."""
    with Image.open(path) as img:
        upright = ImageOps.exif_transpose(img).convert("RGB")
    return ImageOps.fit(upright, (width, height), Image.Resampling.LANCZOS)


def encode_images(pipe: AnimateDiffPipeline, images: list[Image.Image]) -> torch.Tensor:
    """(n, C, h, w) latents, scaled like the ones the UNet denoises; the distribution's mode, not a sample."""
    vae = pipe.vae
    pixels = pipe.video_processor.preprocess(images, height=images[0].height, width=images[0].width)
    # fp16 SD VAEs overflow while encoding (`force_upcast`): encode in fp32, then go back.
    dtype = vae.dtype
    upcast = dtype == torch.float16 and vae.config.get("force_upcast", False)
    if upcast:
        vae.to(torch.float32)
    try:
        with torch.inference_mode():
            latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode()
    finally:
        if upcast:
            vae.to(dtype)
    return latents * vae.config.scaling_factor


def spread_over_frames(by_frame: dict[int, torch.Tensor], frames: int) -> torch.Tensor:
    """{frame index: (C, h, w)} -> (1, C, frames, h, w): each frame the reference at it, a blend between two."""
    keys = sorted(by_frame)
    out = []
    for f in range(frames):
        if f <= keys[0]:
            out.append(by_frame[keys[0]])
        elif f >= keys[-1]:
            out.append(by_frame[keys[-1]])
        else:
            right = next(k for k in keys if k >= f)
            left = max(k for k in keys if k <= f)
            w = 0.0 if right == left else (f - left) / (right - left)
            out.append(torch.lerp(by_frame[left], by_frame[right], w))
    return torch.stack(out, dim=1).unsqueeze(0)


def noise_to_start(scheduler, init: torch.Tensor, noise: torch.Tensor, steps: int, run_steps: int) -> torch.Tensor:
    """`init` noised to the first timestep of the last `run_steps` of a `steps`-step schedule.

    The same timesteps diffusers' video-to-video pipeline then runs (`get_timesteps` with this strength).
    """
    scheduler.set_timesteps(steps, device=init.device)
    start = (steps - run_steps) * scheduler.order
    t0 = scheduler.timesteps[start:start + 1]
    return scheduler.add_noise(init, noise, t0)

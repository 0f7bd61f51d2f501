"""Latents to start a clip from: reference pictures spread over the frames, or every frame of a video.

This is the image-to-video path that needs no extra model: every frame starts from the latents of the
reference at its index (between two references, a linear blend by frame distance; before the first and
after the last, the nearest one), noised, as img2img does, to the timestep where a schedule shortened
by the strength begins. The motion module then turns the still start into motion. A video gives each
frame its own start instead (video-to-video).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AnimateDiffPipeline
from PIL import Image, ImageOps

from backend.engine.keyframes import interpolate_keyframes


def load_reference_image(path: Path, width: int, height: int) -> Image.Image:
    """RGB, upright (EXIF), centre-cropped to the clip's aspect ratio and resized to its size."""
    with Image.open(path) as img:
        return fit_image(img, width, height)


def fit_image(img: Image.Image, width: int, height: int) -> Image.Image:
    upright = ImageOps.exif_transpose(img).convert("RGB")
    return ImageOps.fit(upright, (width, height), Image.Resampling.LANCZOS)


def encode_images(pipe: AnimateDiffPipeline, images: list[Image.Image], chunk: int = 8) -> torch.Tensor:
    """(n, C, h, w) latents, scaled like the ones the UNet denoises; the distribution's mode, not a sample.

    Encoded `chunk` pictures at a time, so a long video does not take the VAE's memory peak times its length.
    """
    vae = pipe.vae
    # fp16 SD VAEs overflow while encoding (`force_upcast`): encode in fp32, then go back.
    dtype = vae.dtype
    upcast = dtype == torch.float16 and vae.config.get("force_upcast", False)
    if upcast:
        vae.to(torch.float32)
    out = []
    try:
        with torch.no_grad():  # not inference_mode: CPU offload may move the VAE here (see engine._run)
            for i in range(0, len(images), chunk):
                part = images[i:i + chunk]
                pixels = pipe.video_processor.preprocess(part, height=part[0].height, width=part[0].width)
                out.append(vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode())
    finally:
        if upcast:
            vae.to(dtype)
    return torch.cat(out) * vae.config.scaling_factor


def reference_init_latents(pipe: AnimateDiffPipeline, frames_and_files: list[tuple[int, Path]], width: int,
                           height: int, frames: int) -> torch.Tensor:
    """(frame index, picture) pairs -> clean (1, C, frames, h, w) latents, blended between the pictures."""
    images = [load_reference_image(path, width, height) for _, path in frames_and_files]
    encoded = encode_images(pipe, images)
    by_frame = {index: encoded[i] for i, (index, _) in enumerate(frames_and_files)}
    return interpolate_keyframes(by_frame, frames).movedim(0, 1).unsqueeze(0)


def video_init_latents(pipe: AnimateDiffPipeline, video: list[Image.Image], width: int, height: int,
                       chunk: int) -> torch.Tensor:
    """Each video frame fitted to the clip's size and encoded: clean (1, C, frames, h, w) latents."""
    encoded = encode_images(pipe, [fit_image(frame, width, height) for frame in video], chunk)
    return encoded.movedim(0, 1).unsqueeze(0)

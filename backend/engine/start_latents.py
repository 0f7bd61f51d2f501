"""Step 5 of a generation: the latents denoising starts from, the timesteps it runs, the pinned frames.

Plain text-to-video starts from the seed's noise at the first timestep. References, a video, or a clip
being continued are encoded and noised into that start (img2img: a strength shortens the schedule).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import AnimateDiffPipeline

from backend.engine.continuation import SourceClip, source_tail_latents
from backend.engine.device import DeviceChoice
from backend.engine.noise import initial_noise
from backend.engine.reference_latents import reference_init_latents, video_init_latents
from backend.engine.request import GenerationRequest, denoising_steps, segment_frames
from backend.engine.resolved_inputs import ResolvedModels
from backend.engine.sampler import PinnedFrames
from backend.engine.video_input import read_video_frames


@dataclass
class StartState:
    latents: torch.Tensor  # (1, C, F, h, w) on the device, ready for the first step
    timesteps: torch.Tensor  # the (possibly shortened) schedule to run
    noise: torch.Tensor  # the seed's noise, CPU float32 (FreeInit diffuses back with it)
    pinned: PinnedFrames | None  # a continuation's overlap frames


def prepare_start(pipe: AnimateDiffPipeline, scheduler, req: GenerationRequest, models: ResolvedModels,
                  source: SourceClip | None, generator: torch.Generator, choice: DeviceChoice) -> StartState:
    device, dtype = choice.device, choice.dtype
    frames = segment_frames(req)
    shape = (1, pipe.unet.config.in_channels, frames, req.height // pipe.vae_scale_factor,
             req.width // pipe.vae_scale_factor)
    # Drawn on the CPU, so a seed gives the same clip on any device.
    noise = initial_noise(shape, generator, req.context_length if req.free_noise else None)
    scheduler.set_timesteps(req.steps, device=device)
    timesteps = scheduler.timesteps[(req.steps - denoising_steps(req)) * scheduler.order:]
    on_device = noise.to(device, dtype)

    init = None
    if req.references and req.sparsectrl is None:  # with SparseCtrl they condition through it instead
        pairs = [(r.frame % req.frames, p) for r, p in zip(req.references, models.references, strict=True)]
        init = reference_init_latents(pipe, pairs, req.width, req.height, frames)
    elif req.video:
        init = video_init_latents(pipe, read_video_frames(models.video, frames), req.width, req.height,
                                  req.decode_chunk_size)
    if init is not None:
        latents = scheduler.add_noise(init.to(device, dtype), on_device, timesteps[:1])
    else:
        latents = on_device * scheduler.init_noise_sigma

    pinned = None
    if source is not None:
        overlap = req.extend_overlap
        tail = source_tail_latents(pipe, source, overlap).to(device, dtype)
        pinned = PinnedFrames(torch.arange(overlap, device=device), tail, on_device[:, :, :overlap])
        latents[:, :, :overlap] = pinned.at(scheduler, timesteps[0])
    return StartState(latents, timesteps, noise, pinned)

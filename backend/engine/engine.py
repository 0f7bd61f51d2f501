"""`AnimationEngine`: one generation from a `GenerationRequest`, as explicit numbered steps.

Example:
    >>> engine = AnimationEngine()
    >>> result = engine.generate(GenerationRequest(prompt="a cat", base="sd15.safetensors",
    ...                                            motion_module="mm_sd_v15_v2.ckpt", seed=42))
    >>> result.frames[0].size
    (512, 512)
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import AnimateDiffVideoToVideoPipeline
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from backend.engine.adapters import AdapterSpec
from backend.engine.assembly import PipelineCache
from backend.engine.device import DeviceChoice, choose_device, peak_memory_bytes, reset_peak_memory
from backend.engine.progress import CancelCheck, Cancelled, Progress, ProgressCallback
from backend.engine.reference_latents import reference_start_latents
from backend.engine.request import MAX_SEED, GenerationRequest, check_request, denoising_steps
from backend.engine.schedulers import make_scheduler
from backend.uploads import resolve_reference_image
from models.errors import InvalidInputError
from models.resolve import resolve_camera_move, resolve_model


@dataclass(frozen=True)
class ResolvedModels:
    """The files a request names, resolved to absolute paths (what metadata records and hashes)."""

    base: Path
    motion_module: Path
    adapters: tuple[AdapterSpec, ...]
    references: tuple[Path, ...] = ()  # the image of each of `request.references`, in order


@dataclass
class GenerationResult:
    frames: list[Image.Image]
    request: GenerationRequest  # with the seed actually used
    models: ResolvedModels
    device: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    peak_memory_bytes: int | None = None
    motion_module_version: str = ""
    pipeline_cached: bool = False


def resolve_models(req: GenerationRequest) -> ResolvedModels:
    adapters: list[AdapterSpec] = []
    for i, cam in enumerate(req.camera):
        adapters.append(AdapterSpec(resolve_camera_move(cam.move, f"camera[{i}]"), "motion-lora", cam.strength,
                                    f"camera[{i}]"))
    for i, ml in enumerate(req.motion_loras):
        f = f"motion_loras[{i}]"
        adapters.append(AdapterSpec(resolve_model(ml.path, "motion-loras", f), "motion-lora", ml.weight, f))
    for i, lora in enumerate(req.loras):
        f = f"loras[{i}]"
        adapters.append(AdapterSpec(resolve_model(lora.path, "loras", f), "lora", lora.weight, f))
    if req.domain_adapter is not None:
        path = resolve_model(req.domain_adapter.path, "domain-adapters", "domain_adapter")
        adapters.append(AdapterSpec(path, "domain-adapter", req.domain_adapter.weight, "domain_adapter"))
    return ResolvedModels(
        base=resolve_model(req.base, "checkpoints", "base"),
        motion_module=resolve_model(req.motion_module, "motion-modules", "motion_module"),
        adapters=tuple(adapters),
        references=tuple(resolve_reference_image(r.image, f"references[{i}].image")
                         for i, r in enumerate(req.references)),
    )


class AnimationEngine:
    """Owns the device and the pipeline cache; `generate` is safe to call repeatedly from one thread."""

    def __init__(self, device: str | None = None) -> None:
        self._device = device
        self.cache = PipelineCache()

    def generate(
        self,
        req: GenerationRequest,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GenerationResult:
        report = on_progress or (lambda _p: None)
        timings: dict[str, float] = {}

        # 1. Check inputs and draw the seed (recorded, so the run can be repeated)
        check_request(req)
        if req.seed is None:
            req = dataclasses.replace(req, seed=random.randint(0, MAX_SEED))
        choice = choose_device(req.precision, self._device)
        reset_peak_memory(choice)

        # 2. Resolve model files
        models = resolve_models(req)

        # 3. Load (or reuse) base + motion module, then activate this request's adapters
        report(Progress("loading"))
        t0 = time.perf_counter()
        assembled, cached = self.cache.get(models.base, models.motion_module, choice)
        max_frames = assembled.motion_info.config["motion_max_seq_length"]
        if req.frames > max_frames:
            raise InvalidInputError(
                f"frames: {req.frames} is more than this motion module's position encoding covers "
                f"({max_frames} frames); ask for at most {max_frames} frames",
                field="frames",
            )
        assembled.adapters.activate(list(models.adapters))
        pipe = assembled.pipe
        pipe.scheduler = make_scheduler(req.scheduler)
        timings["load"] = time.perf_counter() - t0

        # 4. Encode the prompt
        report(Progress("encoding"))
        t0 = time.perf_counter()
        cfg = req.guidance > 1.0
        with torch.inference_mode():
            prompt_embeds, negative_embeds = pipe.encode_prompt(
                req.prompt, choice.device, 1, cfg, req.negative_prompt or None
            )
        timings["text_encode"] = time.perf_counter() - t0

        # 5. Initial latents: noise drawn on the CPU, so a seed gives the same clip on any device; with
        #    references, their latents noised to where the schedule shortened by reference_strength begins
        generator = torch.Generator("cpu").manual_seed(req.seed)
        latent_shape = (1, pipe.unet.config.in_channels, req.frames, req.height // pipe.vae_scale_factor,
                        req.width // pipe.vae_scale_factor)
        latents = randn_tensor(latent_shape, generator=generator, dtype=torch.float32).to(choice.device, choice.dtype)
        run_steps = denoising_steps(req)
        sampler, options = pipe, {"num_frames": req.frames}
        if req.references:
            t0 = time.perf_counter()
            pairs = [(r.frame % req.frames, p) for r, p in zip(req.references, models.references, strict=True)]
            latents = reference_start_latents(pipe, pairs, req, latents, run_steps)
            # diffusers' video-to-video pipeline runs exactly the shortened schedule on given latents.
            sampler, options = AnimateDiffVideoToVideoPipeline.from_pipe(pipe), {"strength": req.reference_strength}
            sampler.set_progress_bar_config(disable=True)
            timings["reference_encode"] = time.perf_counter() - t0

        # 6. Denoise; the step callback reports progress and raises `Cancelled` (skipping the decode)
        def on_step_end(_pipe, i: int, _t, kwargs: dict) -> dict:
            report(Progress("denoising", i + 1, run_steps, kwargs["latents"]))
            if should_cancel is not None and should_cancel():
                raise Cancelled("the job was cancelled")
            return {}

        report(Progress("denoising", 0, run_steps))
        t0 = time.perf_counter()
        with torch.inference_mode():
            latents = sampler(
                prompt_embeds=prompt_embeds,
                negative_prompt_embeds=negative_embeds,
                height=req.height,
                width=req.width,
                num_inference_steps=req.steps,
                guidance_scale=req.guidance,
                generator=generator,
                latents=latents,
                output_type="latent",
                callback_on_step_end=on_step_end,
                **options,
            ).frames
        _sync(choice)
        timings["denoise"] = time.perf_counter() - t0
        timings["per_step"] = timings["denoise"] / run_steps

        # 7. Decode in chunks of frames (bounds the VAE's memory peak)
        report(Progress("decoding", run_steps, run_steps))
        t0 = time.perf_counter()
        with torch.inference_mode():
            video = pipe.decode_latents(latents, decode_chunk_size=req.decode_chunk_size)
            frames = pipe.video_processor.postprocess_video(video=video, output_type="pil")[0]
        _sync(choice)
        timings["decode"] = time.perf_counter() - t0

        return GenerationResult(
            frames=frames,
            request=req,
            models=models,
            device=choice.label,
            timings=timings,
            peak_memory_bytes=peak_memory_bytes(choice),
            motion_module_version=assembled.motion_info.version,
            pipeline_cached=cached,
        )


def _sync(choice: DeviceChoice) -> None:
    if choice.device.type == "cuda":
        torch.cuda.synchronize(choice.device)

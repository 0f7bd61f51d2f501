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

import torch
from PIL import Image

from backend.engine.assembly import AssembledPipeline, PipelineCache
from backend.engine.context_windows import plan_windows
from backend.engine.continuation import SourceClip, check_fits, join, load_source_clip
from backend.engine.deep_cache import deep_cache
from backend.engine.device import DeviceChoice, choose_device, peak_memory_bytes, reset_peak_memory
from backend.engine.feed_forward_chunks import chunked_feed_forward
from backend.engine.memory_plan import JobShape, MemoryPlan, SetUp, choose_plan, device_budget
from backend.engine.noise import free_init_reinitialise
from backend.engine.placement import bytes_on_device, offload_session, place
from backend.engine.progress import CancelCheck, Cancelled, Progress, ProgressCallback
from backend.engine.prompts import encode_conditioning
from backend.engine.request import MAX_SEED, GenerationRequest, denoising_steps, segment_frames
from backend.engine.request_checks import check_request
from backend.engine.resolved_inputs import ResolvedModels, resolve_models
from backend.engine.sampler import denoise
from backend.engine.schedulers import make_scheduler
from backend.engine.sparsectrl import control_hook, sparse_condition
from backend.engine.start_latents import prepare_start
from models.errors import InvalidInputError
from models.motion_config import MotionModuleInfo
from models.preflight import AdapterRef, check_files


@dataclass
class GenerationResult:
    frames: list[Image.Image]
    request: GenerationRequest  # with the seed actually used
    models: ResolvedModels
    device: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    peak_memory_bytes: int | None = None
    memory_plan: MemoryPlan | None = None
    motion_module_version: str = ""
    pipeline_cached: bool = False
    latents: torch.Tensor | None = None  # final latents of the clip's last frames (what a continuation pins)
    latents_first_frame: int = 0  # the clip frame `latents` starts at


def check_frames_fit(req: GenerationRequest, info: MotionModuleInfo) -> None:
    """Without windows the whole clip must fit the module's position encoding (diffusers crashes past it)."""
    max_frames = info.config["motion_max_seq_length"]
    frames = segment_frames(req)
    if req.context_length > max_frames:
        raise InvalidInputError(
            f"context_length: {req.context_length} is more than this motion module's position encoding covers "
            f"({max_frames} frames); use at most {max_frames} (16, its training length, is the usual choice)",
            field="context_length")
    if not req.context_length and frames > max_frames:
        what = f"{frames} frames (with the {req.extend_overlap}-frame overlap)" if req.extend else str(frames)
        raise InvalidInputError(
            f"frames: {what} is more than this motion module's position encoding covers ({max_frames} frames); "
            f"ask for at most {max_frames} frames, or set context_length (e.g. 16) for sliding context windows",
            field="frames")


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

        # 2. Resolve model and input files; a clip to continue must match this request's size. The model
        #    manager's pre-flight check reads only headers: a bad combination fails here, before any load.
        models = resolve_models(req)
        check_files(base=models.base, motion_module=models.motion_module, sparsectrl=models.sparsectrl,
                    adapters=[AdapterRef(a.path, a.kind, a.field, a.weight) for a in models.adapters],
                    scheduler=req.scheduler).raise_first()
        source = load_source_clip(models.extend) if models.extend else None
        if source is not None:
            check_fits(source, req.width, req.height, req.extend_overlap)

        # 3. Load (or reuse) base + motion module, then activate this request's adapters
        report(Progress("loading"))
        t0 = time.perf_counter()
        assembled, cached = self.cache.get(models.base, models.motion_module, choice)
        check_frames_fit(req, assembled.motion_info)
        assembled.adapters.activate(list(models.adapters))
        pipe = assembled.pipe
        pipe.scheduler = make_scheduler(req.scheduler, assembled.schedule)
        timings["load"] = time.perf_counter() - t0

        # 4. Plan the memory: predict the peak, choose guidance batching, feed-forward pieces, decode chunk,
        #    CPU offload and (last resort) context windows that fit the device's free memory; then put the
        #    weights where the plan says, before anything runs on the device
        t0 = time.perf_counter()
        frames = segment_frames(req)
        memory = self._plan_memory(req, assembled, frames, choice, models.sparsectrl is not None)
        place(pipe, memory.offload, choice.device)
        timings["plan"] = time.perf_counter() - t0
        with offload_session(pipe):
            return self._run(req, models, assembled, cached, source, memory, choice, timings, report, should_cancel)

    def _run(self, req: GenerationRequest, models: ResolvedModels, assembled: AssembledPipeline, cached: bool,
             source: SourceClip | None, memory: MemoryPlan, choice: DeviceChoice, timings: dict[str, float],
             report: ProgressCallback, should_cancel: CancelCheck | None) -> GenerationResult:
        """Steps 5-8 of `generate`, with the weights placed."""
        pipe, scheduler = assembled.pipe, assembled.pipe.scheduler
        frames = segment_frames(req)

        # 5. Encode the prompt(s): one text embedding per frame
        report(Progress("encoding"))
        t0 = time.perf_counter()
        offset = req.extend_overlap if source is not None else 0
        cond = encode_conditioning(pipe, req, frames, choice.device, offset)
        timings["text_encode"] = time.perf_counter() - t0

        # 6. Starting latents and schedule: noise, or references / a video / a source clip noised into it
        t0 = time.perf_counter()
        generator = torch.Generator("cpu").manual_seed(req.seed)
        start = prepare_start(pipe, scheduler, req, models, source, generator, choice)
        control = None
        if models.sparsectrl is not None:
            sparse_model, kind = self.cache.sparsectrl(models.sparsectrl, choice)
            pairs = [(r.frame % req.frames, p) for r, p in zip(req.references, models.references, strict=True)]
            condition = sparse_condition(pipe, kind, pairs, req.width, req.height, frames, choice.device, choice.dtype)
            control = control_hook(sparse_model, condition, req.sparsectrl.weight)
        timings["prepare"] = time.perf_counter() - t0
        cond = dataclasses.replace(cond, batched=memory.cfg != "sequential")

        # 7. Denoise (window by window for long clips; FreeInit repeats it from re-initialised noise; with
        #    deep_cache, most steps run only the UNet's outer blocks). The step callback reports progress and
        #    raises `Cancelled`, which skips the decode.
        run_steps = denoising_steps(req)
        total = run_steps * (1 + req.free_init)
        context = memory.context_length
        overlap = req.context_overlap if context == req.context_length else context // 2  # the plan's windows
        plan = (plan_windows(frames, context, overlap, req.closed_loop, req.context_weighting)
                if context else plan_windows(frames, frames, 0))

        def on_step(i: int, latents: torch.Tensor, done_before: int) -> None:
            report(Progress("denoising", done_before + i + 1, total, latents))
            if should_cancel is not None and should_cancel():
                raise Cancelled("the job was cancelled")

        report(Progress("denoising", 0, total, memory_plan=memory.to_dict()))
        t0 = time.perf_counter()
        latents, timesteps = start.latents, start.timesteps
        # no_grad, not inference_mode, here and in every phase: CPU offload moves weights inside these blocks,
        # and weights moved under inference_mode become inference tensors that peft cannot touch afterwards.
        with torch.no_grad(), chunked_feed_forward(pipe.unet, memory.ff_pieces), \
                deep_cache(pipe.unet, req.deep_cache) as deep:
            for round_ in range(1 + req.free_init):
                if round_:
                    scheduler.set_timesteps(req.steps, device=choice.device)
                    timesteps = scheduler.timesteps
                    latents = free_init_reinitialise(latents, start.noise, scheduler, generator).to(
                        choice.device, choice.dtype)
                done = round_ * run_steps
                latents = denoise(pipe.unet, scheduler, latents, timesteps, cond, plan, generator=generator,
                                  pinned=start.pinned, control=control, on_step=lambda i, x, d=done: on_step(i, x, d),
                                  deep=deep)
        _sync(choice)
        timings["denoise"] = time.perf_counter() - t0
        timings["per_step"] = timings["denoise"] / total

        # 8. Decode in chunks of frames (bounds the memory peak); a continuation joins its source
        report(Progress("decoding", total, total))
        t0 = time.perf_counter()
        clip = decode_to_images(pipe, latents, memory.decode_chunk)
        first_frame = 0
        if source is not None:
            first_frame = len(source.frames) - req.extend_overlap
            clip = join(source.frames, clip, req.extend_overlap)
        _sync(choice)
        timings["decode"] = time.perf_counter() - t0

        return GenerationResult(
            frames=clip,
            request=req,
            models=models,
            device=choice.label,
            timings=timings,
            peak_memory_bytes=peak_memory_bytes(choice),
            memory_plan=memory,
            motion_module_version=assembled.motion_info.version,
            pipeline_cached=cached,
            latents=latents.detach().to("cpu", torch.float16),
            latents_first_frame=first_frame,
        )

    def _plan_memory(self, req: GenerationRequest, assembled: AssembledPipeline, frames: int, choice: DeviceChoice,
                     sparsectrl: bool) -> MemoryPlan:
        shape = JobShape(req.width, req.height, frames, req.context_length, req.guidance > 1.0, req.decode_chunk_size,
                         req.deep_cache, req.context_overlap, req.closed_loop)
        estimator = assembled.memory_estimator()
        if req.memory_plan != "auto":  # off, model-offload: run as asked, predicted anyway
            offload = "model" if req.memory_plan == "model-offload" else "none"
            setup = SetUp("batched" if shape.guided else "none", 1, req.decode_chunk_size, req.context_length, offload)
            return MemoryPlan(setup.cfg, 1, setup.decode_chunk, setup.context_length, estimator.predict(shape, setup),
                              estimator.weights_bytes(), None, True, f"memory plan {req.memory_plan}: run as asked",
                              offload)
        in_use = bytes_on_device(assembled.pipe, choice.device)  # our own weights there now: counted in the plan
        budget = device_budget(choice.device, req.memory_limit_mb, in_use=in_use)
        plan = choose_plan(shape, estimator, budget, offload_possible=choice.device.type == "cuda")
        if sparsectrl:  # its ControlNet's activations run beside the UNet's and are not in the dry run
            plan = dataclasses.replace(plan, note=(plan.note + "; " if plan.note else "")
                                       + "SparseCtrl's own activations are not in the prediction")
        return plan


def decode_to_images(pipe, latents: torch.Tensor, chunk: int) -> list[Image.Image]:
    """Latents -> PIL frames, `chunk` frames at a time through the VAE *and* the post-processing, so no
    float copy of the whole clip ever exists (128 frames of 512x512 would be 400 MB per copy)."""
    frames: list[Image.Image] = []
    with torch.no_grad():  # not inference_mode: the VAE may be moved here by CPU offload (see `_run`)
        for start in range(0, latents.shape[2], chunk):
            video = pipe.decode_latents(latents[:, :, start:start + chunk], decode_chunk_size=chunk)
            frames += pipe.video_processor.postprocess_video(video=video, output_type="pil")[0]
    return frames


def _sync(choice: DeviceChoice) -> None:
    if choice.device.type == "cuda":
        torch.cuda.synchronize(choice.device)

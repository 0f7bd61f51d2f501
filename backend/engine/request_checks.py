"""What the engine accepts: `check_request` raises `InvalidInputError` for the first field out of it.

Each message names the field, the offending value and what would be accepted. The CLI, the service (at
submission) and the engine (before loading anything) all call this one function.
"""

from __future__ import annotations

from typing import Any

from backend.engine.context_windows import WEIGHTINGS
from backend.engine.request import MAX_SEED, MEMORY_PLANS, GenerationRequest, denoising_steps
from models.camera import CAMERA_MOVES
from models.errors import InvalidInputError

SCHEDULERS: tuple[str, ...] = ("ddim", "euler", "euler-ancestral", "dpm++-2m-karras", "lcm")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
MAX_FREE_INIT = 5
MAX_DEEP_CACHE = 10


def check_request(req: GenerationRequest) -> None:
    if not isinstance(req.prompt, str) or not req.prompt.strip():
        raise InvalidInputError(f"prompt: {req.prompt!r} is not accepted; expected non-empty text", field="prompt")
    for name in ("base", "motion_module"):
        value = getattr(req, name)
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"{name}: {value!r} is not accepted; expected a path or a model name", field=name)
    for name in ("width", "height"):
        value = getattr(req, name)
        _check_range(name, value, 64, 2048)
        if value % 8:
            raise InvalidInputError(
                f"{name}: {value} is not accepted; expected a multiple of 8 (e.g. {value - value % 8})", field=name
            )
    _check_range("frames", req.frames, 1, 1024)
    _check_range("steps", req.steps, 1, 200)
    _check_range("guidance", req.guidance, 0.0, 30.0, float)
    _check_range("guidance_rescale", req.guidance_rescale, 0.0, 1.0, float)
    _check_range("fps", req.fps, 1, 60)
    _check_range("decode_chunk_size", req.decode_chunk_size, 1, 1024)
    _check_choice("memory_plan", req.memory_plan, MEMORY_PLANS)
    _check_range("memory_limit_mb", req.memory_limit_mb, 0, 16 * 2**20)
    _check_deep_cache(req)
    if req.seed is not None:
        _check_range("seed", req.seed, 0, MAX_SEED)
    _check_choice("scheduler", req.scheduler, SCHEDULERS)
    _check_choice("precision", req.precision, PRECISIONS)
    for i, cam in enumerate(req.camera):
        if cam.move not in CAMERA_MOVES:
            raise InvalidInputError(
                f"camera[{i}]: unknown move {cam.move!r}; accepted moves: {', '.join(CAMERA_MOVES)}",
                field=f"camera[{i}]",
            )
        _check_range(f"camera[{i}].strength", cam.strength, 0.0, 2.0, float)
    for i, ml in enumerate(req.motion_loras):
        _check_range(f"motion_loras[{i}].weight", ml.weight, -2.0, 2.0, float)
    for i, lora in enumerate(req.loras):
        _check_range(f"loras[{i}].weight", lora.weight, -4.0, 4.0, float)
    if req.domain_adapter is not None:
        _check_range("domain_adapter.weight", req.domain_adapter.weight, 0.0, 1.0, float)
    _check_references(req)
    _check_prompt_at(req)
    _check_long_clip(req)
    _check_video_and_extend(req)


def _check_range(name: str, value: Any, lo: float, hi: float, kind: type = int) -> None:
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else (
        isinstance(value, int) and not isinstance(value, bool)
    )
    if not ok_type or not lo <= value <= hi:
        what = "an integer" if kind is int else "a number"
        raise InvalidInputError(f"{name}: {value!r} is not accepted; expected {what} from {lo} to {hi}", field=name)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidInputError(f"{name}: {value!r} is not accepted; expected one of {', '.join(choices)}",
                                field=name)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name}: {value!r} is not accepted; expected true or false", field=name)


def _check_strength(name: str, value: Any, req: GenerationRequest) -> None:
    _check_range(name, value, 0.0, 1.0, float)
    if denoising_steps(req) < 1:
        raise InvalidInputError(
            f"{name}: {value} leaves no denoising step out of steps={req.steps}; expected at least "
            f"{1 / req.steps:.3g} (or more steps)", field=name)


def _check_references(req: GenerationRequest) -> None:
    seen: dict[int, int] = {}
    for i, ref in enumerate(req.references):
        if not isinstance(ref.image, str) or not ref.image:
            raise InvalidInputError(f"references[{i}].image: {ref.image!r} is not accepted; expected an upload id "
                                    "or an image path", field=f"references[{i}].image")
        _check_range(f"references[{i}].frame", ref.frame, -req.frames, req.frames - 1)
        index = ref.frame % req.frames
        if index in seen:
            raise InvalidInputError(
                f"references[{i}].frame: {ref.frame} is frame {index}, which references[{seen[index]}] already "
                "sets; give each frame at most one reference", field=f"references[{i}].frame")
        seen[index] = i
    if req.sparsectrl is not None:
        if not req.references:
            raise InvalidInputError("sparsectrl: conditions the frames given in references; add at least one "
                                    "reference (e.g. the first frame)", field="sparsectrl")
        _check_range("sparsectrl.weight", req.sparsectrl.weight, 0.0, 2.0, float)
    elif req.references:
        _check_strength("reference_strength", req.reference_strength, req)


def _check_prompt_at(req: GenerationRequest) -> None:
    seen: set[int] = set()
    for i, entry in enumerate(req.prompt_at):
        _check_range(f"prompt_at[{i}].frame", entry.frame, 1, max(1, req.frames - 1))
        if entry.frame >= req.frames:
            raise InvalidInputError(f"prompt_at[{i}].frame: {entry.frame} is not a frame of a {req.frames}-frame "
                                    f"clip; expected 1 to {req.frames - 1}", field=f"prompt_at[{i}].frame")
        if entry.frame in seen:
            raise InvalidInputError(f"prompt_at[{i}].frame: {entry.frame} already has a prompt; give each frame one",
                                    field=f"prompt_at[{i}].frame")
        seen.add(entry.frame)
        if not isinstance(entry.prompt, str) or not entry.prompt.strip():
            raise InvalidInputError(f"prompt_at[{i}].prompt: {entry.prompt!r} is not accepted; expected non-empty "
                                    "text", field=f"prompt_at[{i}].prompt")


def _check_deep_cache(req: GenerationRequest) -> None:
    _check_range("deep_cache", req.deep_cache, 0, MAX_DEEP_CACHE)
    if req.deep_cache == 1:
        raise InvalidInputError("deep_cache: 1 would cache nothing; expected 0 (off) or 2 to "
                                f"{MAX_DEEP_CACHE} (the whole UNet every N-th step)", field="deep_cache")
    if req.deep_cache and req.sparsectrl is not None:
        raise InvalidInputError(f"deep_cache: {req.deep_cache} skips the UNet blocks that SparseCtrl feeds; "
                                "use deep_cache 0 with sparsectrl", field="deep_cache")


def _check_long_clip(req: GenerationRequest) -> None:
    _check_range("context_length", req.context_length, 0, 1024)
    _check_choice("context_weighting", req.context_weighting, WEIGHTINGS)
    _check_bool("closed_loop", req.closed_loop)
    _check_bool("free_noise", req.free_noise)
    _check_range("free_init", req.free_init, 0, MAX_FREE_INIT)
    if req.free_init and (req.references or req.video or req.extend):
        raise InvalidInputError(f"free_init: {req.free_init} re-draws the start from noise, which would drop the "
                                "references/video/source clip; use free_init only for text-to-video", field="free_init")
    if req.context_length:
        if req.context_length < 2:
            raise InvalidInputError(f"context_length: {req.context_length} is not accepted; expected 0 (no windows) "
                                    "or at least 2 frames", field="context_length")
        _check_range("context_overlap", req.context_overlap, 0, req.context_length - 1)
    else:
        for name in ("closed_loop", "free_noise"):
            if getattr(req, name):
                raise InvalidInputError(f"{name}: true needs context windows; set context_length (e.g. 16)",
                                        field=name)


def _check_video_and_extend(req: GenerationRequest) -> None:
    if req.video:
        if req.references:
            raise InvalidInputError("video: a clip starts from a video or from references, not both; drop one",
                                    field="video")
        for i, item in enumerate(req.video):
            if not isinstance(item, str) or not item:
                raise InvalidInputError(f"video[{i}]: {item!r} is not accepted; expected an upload id or a path",
                                        field=f"video[{i}]")
        _check_strength("video_strength", req.video_strength, req)
    if req.extend is not None:
        if not isinstance(req.extend, str) or not req.extend:
            raise InvalidInputError(f"extend: {req.extend!r} is not accepted; expected a finished clip's folder",
                                    field="extend")
        if req.references or req.video:
            raise InvalidInputError("extend: a continuation starts from its source clip; drop references/video",
                                    field="extend")
        _check_range("extend_overlap", req.extend_overlap, 1, 64)

"""The generation request (the service's `POST /v1/jobs` body) built from the sidebar's settings.

Only what the sidebar cannot enforce by itself is checked here (an empty prompt, a model not chosen, a
manual size that is not a multiple of 8, settings that depend on each other: reference_request.py and
long_clip_request.py); the service checks every field again and its sentence is shown as is. Nothing is
silently corrected.
"""

from __future__ import annotations

import json
import random
from typing import Any

from bpy.types import Scene

from .camera_analysis import CAMERA_MOVES
from .long_clip_request import context_fields, free_init_fields, prompt_travel_fields
from .property_groups.generation_settings import (
    CONTEXT_WEIGHTINGS,
    MAX_DEEP_CACHE,
    MAX_SEED,
    SCHEDULERS,
    AnimateDiffSettings,
    effective_fps,
    effective_frames,
    effective_size,
)
from .reference_request import reference_fields
from .settings_error import SettingsError

__all__ = ["SettingsError", "apply_request", "build_request", "new_seed", "request_json"]


def new_seed() -> int:
    return random.randint(0, MAX_SEED)


def build_request(settings: AnimateDiffSettings, scene: Scene) -> dict[str, Any]:
    """The request for the current settings (without the pictures or video frames: those are uploaded first)."""
    prompt = settings.prompt.strip()
    if not prompt:
        raise SettingsError("Prompt", settings.prompt, "text describing the clip")
    if not settings.base:
        raise SettingsError("Model", settings.base, "a checkpoint from the service's list (press Connect to load it)")
    if not settings.motion_module:
        raise SettingsError("Motion Module", settings.motion_module,
                            "a motion module from the service's list (press Connect to load it)")
    width, height = effective_size(settings, scene)
    for name, value in (("Width", width), ("Height", height)):
        if value % 8:
            raise SettingsError(name, value, f"a multiple of 8, e.g. {value - value % 8} or {value - value % 8 + 8}")
    request: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": settings.negative_prompt,
        "base": settings.base,
        "motion_module": settings.motion_module,
        "width": width,
        "height": height,
        "frames": effective_frames(settings, scene),
        "steps": settings.steps,
        "guidance": round(settings.guidance, 4),  # a float32 property: 7.5 stays 7.5, 0.1 is not 0.10000000149
        "seed": new_seed() if settings.use_random_seed else settings.seed,
        "scheduler": settings.scheduler,
        "fps": effective_fps(settings, scene),
    }
    loras = []
    for i, lora in enumerate(settings.loras):
        if not lora.model:
            raise SettingsError(f"Image LoRA {i + 1}", lora.model, "a LoRA from the service's list, or remove the row")
        loras.append({"path": lora.model, "weight": round(lora.weight, 4)})
    if loras:
        request["loras"] = loras
    if settings.deep_cache == 1:
        raise SettingsError("Feature Cache", 1, f"0 (off) or 2 to {MAX_DEEP_CACHE} (the whole UNet every N-th step)")
    if settings.deep_cache:
        request["deep_cache"] = settings.deep_cache
    if settings.domain_adapter:
        request["domain_adapter"] = {"path": settings.domain_adapter,
                                     "weight": round(settings.domain_adapter_weight, 4)}
    moves = [item.move for item in settings.camera_moves]
    for move in moves:
        if moves.count(move) > 1:
            raise SettingsError("Camera Moves", move, "each move at most once (add up the strengths instead)")
    if moves:
        request["camera"] = [{"move": item.move, "strength": round(item.strength, 4)}
                             for item in settings.camera_moves]
    frames = request["frames"]
    request.update(reference_fields(settings, frames))
    request.update(context_fields(settings))
    request.update(free_init_fields(settings, from_pictures=settings.reference_mode != "NONE"))
    request.update(prompt_travel_fields(settings, frames))
    return request


def apply_request(settings: AnimateDiffSettings, request: dict[str, Any]) -> None:
    """Put a stored request back into the sidebar ("Use Settings" on an imported clip)."""
    settings.prompt = request.get("prompt", "")
    settings.negative_prompt = request.get("negative_prompt", "")
    settings.base = request.get("base", "")
    settings.motion_module = request.get("motion_module", "")
    settings.loras.clear()
    for lora in request.get("loras", []):
        item = settings.loras.add()
        item.model, item.weight = lora["path"], lora.get("weight", 1.0)
    adapter = request.get("domain_adapter") or {}
    settings.domain_adapter = adapter.get("path", "")
    settings.domain_adapter_weight = adapter.get("weight", 1.0)
    settings.camera_moves.clear()
    for cam in request.get("camera", []):
        if cam["move"] in CAMERA_MOVES:
            item = settings.camera_moves.add()
            item.move, item.strength = cam["move"], cam.get("strength", 1.0)
    settings.use_random_seed = False
    seed = request.get("seed")
    if isinstance(seed, int) and 0 <= seed <= MAX_SEED:
        settings.seed = seed
    for name in ("steps", "guidance", "frames"):
        if name in request:
            setattr(settings, name, request[name])
    if request.get("scheduler") in SCHEDULERS:  # a sampler this add-on does not list keeps the sidebar's
        settings.scheduler = request["scheduler"]
    settings.deep_cache = request.get("deep_cache", 0)
    settings.use_scene_size = False
    settings.width, settings.height = request.get("width", 512), request.get("height", 512)
    settings.use_scene_fps = False
    settings.fps = request.get("fps", 8)
    strength = "video_strength" if request.get("video") else "reference_strength"
    if strength in request:
        settings.reference_strength = request[strength]
    apply_clip_options(settings, request)


def apply_clip_options(settings: AnimateDiffSettings, request: dict[str, Any]) -> None:
    """SparseCtrl, context windows, FreeNoise, FreeInit and prompt travel of a stored request."""
    sparsectrl = request.get("sparsectrl") or {}
    settings.sparsectrl = sparsectrl.get("path", "")
    settings.sparsectrl_weight = sparsectrl.get("weight", 1.0)
    settings.context_length = request.get("context_length", 0)
    settings.context_overlap = request.get("context_overlap", 4)
    if request.get("context_weighting") in CONTEXT_WEIGHTINGS:
        settings.context_weighting = request["context_weighting"]
    settings.closed_loop = bool(request.get("closed_loop", False))
    settings.free_noise = bool(request.get("free_noise", False))
    settings.free_init = request.get("free_init", 0)
    settings.prompt_at.clear()
    for entry in request.get("prompt_at", []):
        item = settings.prompt_at.add()
        item.frame, item.prompt = entry["frame"], entry["prompt"]


def request_json(request: dict[str, Any]) -> str:
    return json.dumps(request, sort_keys=True)

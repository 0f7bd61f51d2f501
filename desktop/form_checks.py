"""What the Generate view refuses before sending anything: the clip options of issue 7 that do not fit together.

The rules are the service's (`backend.engine.request_checks`, which the UI must not import: it pulls in the
engine), restated for the fields whose widgets can hold a bad combination: reference frames, strengths that
leave no denoising step, prompt travel, context windows, FreeInit, a video shorter than the clip, a clip longer
than the motion module covers. Each sentence names the field, the value and what is accepted, like the
service's; anything these rules miss the service still refuses with its own sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_FREE_INIT = 5
MAX_EXTEND_OVERLAP = 64
SUGGESTED_CONTEXT = 16  # the motion modules' training length


@dataclass(frozen=True)
class FormProblem:
    field: str  # the request field, as the service names it (`references[1].frame`)
    message: str


def check_form(request: dict[str, Any], module_frames: int | None = None,
               video_frames: int | None = None) -> FormProblem | None:
    """The first problem of `request` (a `POST /v1/jobs` body whose pictures may not be uploaded yet), or None.

    `module_frames`: the chosen motion module's position-encoding length when the listing says it;
    `video_frames`: how many frames the chosen video holds when it was counted.
    """
    for check in (_references, _prompt_at, _long_clip, _video):
        problem = check(request, video_frames) if check is _video else check(request)
        if problem is not None:
            return problem
    return _module_length(request, module_frames)


def _references(req: dict[str, Any]) -> FormProblem | None:
    frames = req.get("frames", 16)
    seen: dict[int, int] = {}
    for i, ref in enumerate(req.get("references") or []):
        frame = ref.get("frame", 0)
        if not -frames <= frame <= frames - 1:
            return FormProblem(f"references[{i}].frame", f"references[{i}].frame: {frame} is not accepted; expected "
                               f"a frame from {-frames} to {frames - 1} of a {frames}-frame clip (-1 is the last)")
        index = frame % frames
        if index in seen:
            return FormProblem(f"references[{i}].frame", f"references[{i}].frame: {frame} is frame {index}, which "
                               f"references[{seen[index]}] already sets; give each frame at most one reference")
        seen[index] = i
    sparsectrl = req.get("sparsectrl")
    if sparsectrl is not None:
        if not req.get("references"):
            return FormProblem("sparsectrl", "sparsectrl: conditions the frames given in references; add at least "
                               "one reference picture (e.g. the first frame)")
        if not 0.0 <= sparsectrl.get("weight", 1.0) <= 2.0:
            return FormProblem("sparsectrl.weight", f"sparsectrl.weight: {sparsectrl['weight']} is not accepted; "
                               "expected a number from 0.0 to 2.0")
    elif req.get("references"):
        return _strength(req, "reference_strength")
    return None


def _strength(req: dict[str, Any], name: str) -> FormProblem | None:
    strength, steps = req.get(name, 0.8), req.get("steps", 25)
    if not 0.0 <= strength <= 1.0:
        return FormProblem(name, f"{name}: {strength} is not accepted; expected a number from 0.0 to 1.0")
    if int(steps * strength) < 1:
        return FormProblem(name, f"{name}: {strength} leaves no denoising step out of steps={steps}; expected at "
                           f"least {1 / steps:.3g} (or more steps)")
    return None


def _prompt_at(req: dict[str, Any]) -> FormProblem | None:
    frames = req.get("frames", 16)
    seen: set[int] = set()
    for i, entry in enumerate(req.get("prompt_at") or []):
        frame = entry.get("frame")
        if not isinstance(frame, int) or not 1 <= frame <= frames - 1:
            accepted = f"1 to {frames - 1}" if frames > 1 else "none: a 1-frame clip has one prompt"
            return FormProblem(f"prompt_at[{i}].frame", f"prompt_at[{i}].frame: {frame} is not a frame of a "
                               f"{frames}-frame clip where a prompt can start; expected {accepted} (the main prompt "
                               "holds at 0)")
        if frame in seen:
            return FormProblem(f"prompt_at[{i}].frame", f"prompt_at[{i}].frame: {frame} already has a prompt; give "
                               "each frame one")
        seen.add(frame)
        if not str(entry.get("prompt", "")).strip():
            return FormProblem(f"prompt_at[{i}].prompt", f"prompt_at[{i}].prompt: {entry.get('prompt', '')!r} is not "
                               "accepted; expected non-empty text")
    return None


def _long_clip(req: dict[str, Any]) -> FormProblem | None:
    length = req.get("context_length", 0)
    if length and not 2 <= length <= 1024:
        return FormProblem("context_length", f"context_length: {length} is not accepted; expected 0 (no windows) "
                           "or 2 to 1024 frames")
    if length:
        overlap = req.get("context_overlap", 4)
        if not 0 <= overlap <= length - 1:
            return FormProblem("context_overlap", f"context_overlap: {overlap} is not accepted; expected 0 to "
                               f"{length - 1} (less than context_length={length})")
    else:
        for name in ("closed_loop", "free_noise"):
            if req.get(name):
                return FormProblem(name, f"{name}: true needs context windows; set context_length (e.g. "
                                   f"{SUGGESTED_CONTEXT})")
    free_init = req.get("free_init", 0)
    if not 0 <= free_init <= MAX_FREE_INIT:
        return FormProblem("free_init", f"free_init: {free_init} is not accepted; expected 0 to {MAX_FREE_INIT}")
    if free_init and (req.get("references") or req.get("video") or req.get("extend")):
        return FormProblem("free_init", f"free_init: {free_init} re-draws the start from noise, which would drop the "
                           "references/video/source clip; use FreeInit only for text-to-video (set it to 0)")
    return None


def _video(req: dict[str, Any], video_frames: int | None) -> FormProblem | None:
    if not req.get("video"):
        return None
    if req.get("references"):
        return FormProblem("video", "video: a clip starts from a video or from reference pictures, not both; "
                           "clear one of them")
    frames = req.get("frames", 16)
    if video_frames is not None and video_frames < frames:
        return FormProblem("frames", f"frames: {frames} is not accepted; the video holds {video_frames} frames, "
                           f"expected at most {video_frames}")
    return _strength(req, "video_strength")


def _module_length(req: dict[str, Any], module_frames: int | None) -> FormProblem | None:
    if module_frames is None:
        return None
    length = req.get("context_length", 0)
    if length > module_frames:
        return FormProblem("context_length", f"context_length: {length} is more than the motion module's position "
                           f"encoding covers ({module_frames} frames); expected at most {module_frames} "
                           f"(usually {SUGGESTED_CONTEXT})")
    frames = req.get("frames", 16)
    if not length and frames > module_frames:
        return FormProblem("frames", f"frames: {frames} is more than the motion module's position encoding covers "
                           f"({module_frames} frames); ask for at most {module_frames} frames, or set context "
                           f"windows (context_length {SUGGESTED_CONTEXT})")
    return None


def check_extend(frames: int, overlap: int, source_frames: int) -> FormProblem | None:
    """The Extend dialog's values against the source clip."""
    if not 1 <= frames <= 1024:
        return FormProblem("frames", f"frames: {frames} is not accepted; expected 1 to 1024 new frames")
    if not 1 <= overlap <= min(MAX_EXTEND_OVERLAP, source_frames):
        return FormProblem("extend_overlap", f"extend_overlap: {overlap} is not accepted; expected 1 to "
                           f"{min(MAX_EXTEND_OVERLAP, source_frames)} (the source clip has {source_frames} frames)")
    return None

"""The request fields of the Reference panel: reference pictures (first frame, a chosen frame, first + last),
SparseCtrl, and the rendered frame range for video-to-video.

The pictures themselves are captured on the main thread (`job_inputs.py`) and uploaded by the job's thread,
which then adds `references: [{image, frame}]` or `video: [ids]`; here are the fields that need no upload,
and the checks the service would otherwise make after the upload.
"""

from __future__ import annotations

from typing import Any

from .property_groups.generation_settings import AnimateDiffSettings
from .settings_error import SettingsError

START, END = "START", "END"  # which picture of the Reference panel a slot is
END_FRAME = -1  # the end reference is pinned to the clip's last frame, whatever its length


def reference_slots(settings: AnimateDiffSettings, frames: int) -> list[tuple[str, int]]:
    """(START or END, the clip frame it is pinned to) for each reference picture to send, in that order."""
    if settings.reference_mode not in ("IMAGE", "RENDER"):
        return []
    slots = [(START, settings.reference_frame)]
    if settings.end_reference_mode != "NONE":
        slots.append((END, END_FRAME))
    return slots


def reference_fields(settings: AnimateDiffSettings, frames: int) -> dict[str, Any]:
    """`reference_strength` / `sparsectrl` for pictures, `video_strength` for a rendered range; checked first."""
    mode, strength = settings.reference_mode, round(settings.reference_strength, 4)
    if mode == "RANGE":
        if settings.sparsectrl:
            raise SettingsError("SparseCtrl", settings.sparsectrl, "no SparseCtrl model with Render Frame Range "
                                "(SparseCtrl conditions reference pictures; a video is restyled directly), or "
                                "Reference Image / Render Current Frame")
        return {"video_strength": strength}
    if mode == "NONE":
        if settings.sparsectrl:
            raise SettingsError("SparseCtrl", settings.sparsectrl, "a reference picture to condition (Reference "
                                "Image or Render Current Frame), or no SparseCtrl model")
        return {}
    first = settings.reference_frame
    if not -frames <= first < frames:
        raise SettingsError("Reference At Frame", first, f"a frame of the {frames}-frame clip: 0 to {frames - 1}, "
                            f"or -{frames} to -1 counting from the end")
    if settings.end_reference_mode != "NONE" and first % frames == END_FRAME % frames:
        raise SettingsError("Reference At Frame", first, f"another frame than the last ({frames - 1}), which the "
                            f"End Reference sets: 0 to {frames - 2}" if frames > 1 else
                            "a clip of at least 2 frames for a first and an end reference")
    fields: dict[str, Any] = {"reference_strength": strength}
    if settings.sparsectrl:
        fields["sparsectrl"] = {"path": settings.sparsectrl, "weight": round(settings.sparsectrl_weight, 4)}
    return fields

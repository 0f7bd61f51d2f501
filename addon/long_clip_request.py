"""The request fields of the Long Clip and Prompt Travel panels, checked as the service would check them.

Context windows (`context_length`, `context_overlap`, `context_weighting`, `closed_loop`), FreeNoise,
FreeInit and prompt travel (`prompt_at: [{frame, prompt}]`). Whether the clip fits the motion module
without windows depends on the module (24 frames for v1, 32 for v2/v3): the service says so at submission.
"""

from __future__ import annotations

from typing import Any

from .property_groups.generation_settings import AnimateDiffSettings
from .settings_error import SettingsError


def context_fields(settings: AnimateDiffSettings) -> dict[str, Any]:
    """Sliding context windows and FreeNoise; only the fields that differ from the service's defaults."""
    length = settings.context_length
    if length == 0:
        for name, label in (("closed_loop", "Closed Loop"), ("free_noise", "FreeNoise")):
            if getattr(settings, name):
                raise SettingsError(label, True, "a Context Length (e.g. 16): it works on context windows, or "
                                    f"turn {label} off")
        return {}
    if length < 2:
        raise SettingsError("Context Length", length, "0 (no windows) or at least 2 frames (16 is the usual)")
    if settings.context_overlap >= length:
        raise SettingsError("Context Overlap", settings.context_overlap,
                            f"0 to {length - 1}, fewer frames than the Context Length ({length})")
    fields: dict[str, Any] = {"context_length": length, "context_overlap": settings.context_overlap,
                              "context_weighting": settings.context_weighting}
    if settings.closed_loop:
        fields["closed_loop"] = True
    if settings.free_noise:
        fields["free_noise"] = True
    return fields


def free_init_fields(settings: AnimateDiffSettings, from_pictures: bool) -> dict[str, Any]:
    """FreeInit re-draws the start from noise: text-to-video only."""
    if not settings.free_init:
        return {}
    if from_pictures:
        raise SettingsError("FreeInit", settings.free_init, "0 when the clip starts from a reference, a rendered "
                            "frame range or another clip (FreeInit would discard them)")
    return {"free_init": settings.free_init}


def prompt_travel_fields(settings: AnimateDiffSettings, frames: int) -> dict[str, Any]:
    """`prompt_at`, in frame order; each frame at most once, within the clip, with text."""
    entries, seen = [], set()
    for i, item in enumerate(settings.prompt_at):
        name = f"Prompt Travel {i + 1}"
        if not 1 <= item.frame < frames:
            raise SettingsError(f"{name} Frame", item.frame, f"1 to {frames - 1}, a frame of the {frames}-frame clip "
                                "after the first (the main prompt holds at frame 0)" if frames > 1 else
                                "a clip of at least 2 frames")
        if item.frame in seen:
            raise SettingsError(f"{name} Frame", item.frame, "each frame at most once (another row has it)")
        seen.add(item.frame)
        if not item.prompt.strip():
            raise SettingsError(f"{name} Prompt", item.prompt, "text describing the clip from that frame on, or "
                                "remove the row")
        entries.append({"frame": item.frame, "prompt": item.prompt.strip()})
    return {"prompt_at": sorted(entries, key=lambda e: e["frame"])} if entries else {}

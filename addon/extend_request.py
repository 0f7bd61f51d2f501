"""Continuing an imported clip ("Extend" in the Result panel): the request for `extend: <job id>`.

The clip's own request (prompt, models, size, seed) is continued by *New Frames* frames, starting from
its last *Overlap* frames; the service returns the whole longer clip (the source's frames, then the new
ones), imported as a new result. What made the source start (references, video, SparseCtrl, FreeInit,
prompt travel) does not apply to a continuation and is left out; the context windows are the sidebar's
Long Clip settings, since the new segment (overlap + new frames) may be longer than the source was.
"""

from __future__ import annotations

from typing import Any

from bpy.types import Image

from .long_clip_request import context_fields
from .property_groups.generation_settings import AnimateDiffSettings
from .settings_error import SettingsError

SOURCE_ONLY = ("references", "reference_strength", "sparsectrl", "video", "video_strength", "prompt_at",
               "free_init", "extend", "extend_overlap")
WINDOW_FIELDS = ("context_length", "context_overlap", "context_weighting", "closed_loop", "free_noise")


def extend_request(image: Image, settings: AnimateDiffSettings) -> dict[str, Any]:
    """The request continuing the clip of `image` (an Image imported by this add-on)."""
    info = image.animatediff
    if not info.job_id or not info.request_json:
        raise SettingsError("Result", image.name, "an Image imported by AnimateDiff Studio (it carries the job id "
                            "the service continues)")
    overlap = settings.extend_overlap
    if overlap > info.frames:
        raise SettingsError("Extend Overlap", overlap, f"1 to {info.frames}, at most the clip's {info.frames} frames")
    request = {k: v for k, v in info.request.items() if k not in SOURCE_ONLY + WINDOW_FIELDS}
    request.update(extend=info.job_id, extend_overlap=overlap, frames=settings.extend_frames)
    request.update(context_fields(settings))
    return request

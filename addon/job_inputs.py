"""The pictures a job sends besides its request: reference pictures, or the rendered frame range.

Captured on the main thread when Generate is pressed (they are Blender data: Images, renders), uploaded
by the job's thread (`POST /v1/uploads`, one file at a time, stopping early when asked), which then adds
`references: [{image, frame}]` or `video: [ids]` to the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpy.types import Context, Image

from .frame_range import RenderedRange, render_frame_range
from .property_groups.generation_settings import range_frames
from .reference_frames import ReferenceImageError, image_file_bytes, render_frame
from .reference_request import START, reference_slots

if TYPE_CHECKING:
    from .service_client import Client


@dataclass(frozen=True)
class JobInputs:
    pictures: tuple[tuple[int, bytes], ...] = ()  # (the clip frame it is pinned to, PNG/JPEG/WebP bytes)
    video: RenderedRange | None = None  # video-to-video: the rendered frames, in order

    @property
    def count(self) -> int:
        return len(self.pictures) + (len(self.video.paths) if self.video else 0)

    def remove(self) -> None:
        """Delete the rendered frames' temporary folder (once uploaded, or when the job ends early)."""
        if self.video is not None:
            self.video.remove()


def capture_inputs(context: Context, request: dict[str, Any]) -> JobInputs:
    """What the Reference panel asks for, as files: taken now, on the main thread (renders block, as F12 does).

    Every source is checked before the first render starts, so a missing Image never costs a render.
    """
    settings, scene = context.scene.animatediff, context.scene
    width, height = request["width"], request["height"]
    if settings.reference_mode == "RANGE":
        return JobInputs(video=render_frame_range(scene, width, height))
    sources = [(frame, _source(context, slot)) for slot, frame in reference_slots(settings, request["frames"])]
    return JobInputs(tuple(
        (frame, image_file_bytes(source, scene) if isinstance(source, Image)
         else render_frame(scene, width, height, frame=source))
        for frame, source in sources))


def _source(context: Context, slot: str) -> Image | int | None:
    """The picture of a slot: an Image, or the scene frame to render (None: the current one)."""
    settings, scene = context.scene.animatediff, context.scene
    if slot == START:
        if settings.reference_mode == "RENDER":
            return None
        image = settings.reference_image or image_in_editor(context)
        if image is None:
            raise ReferenceImageError("Reference Image: none chosen; pick an Image, or set Reference to None")
        return image
    if settings.end_reference_mode == "IMAGE":
        if settings.end_reference_image is None:
            raise ReferenceImageError("End Image: none chosen; pick an Image, or set End Reference to None")
        return settings.end_reference_image
    return range_frames(scene)[-1]  # never empty: a range's end is never before its start


def image_in_editor(context: Context) -> Image | None:
    """The Image shown in an Image Editor of this screen (the "active" image), if any."""
    screen = context.screen
    for area in screen.areas if screen else ():
        if area.type == "IMAGE_EDITOR" and area.spaces.active.image is not None:
            return area.spaces.active.image
    return None


def attach_uploads(service: Client, request: dict[str, Any], inputs: JobInputs, should_stop: Callable[[], bool],
                   on_progress: Callable[[int, int], None]) -> dict[str, Any] | None:
    """Upload the inputs (job thread) and return the request naming them; None when stopped first."""
    request, done, total = dict(request), 0, inputs.count
    references = []
    for frame, data in inputs.pictures:
        references.append({"image": service.upload_image(data).id, "frame": frame})
        done += 1
        on_progress(done, total)
    if references:
        request["references"] = references
    if inputs.video is not None:
        ids = []
        for path in inputs.video.paths:
            if should_stop():
                return None
            ids.append(service.upload_image(path).id)
            done += 1
            on_progress(done, total)
        request["video"] = ids
    return request

"""Reference pictures: an Image datablock, or a render of one of the scene's frames, as file bytes.

Both run on the main thread (they read Blender data); the upload happens later in the job's thread.
The service accepts PNG, JPEG and WebP and fits the picture to the clip's size (centre crop).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import bpy
from bpy.types import Image, Scene

SENDABLE_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})


class ReferenceImageError(ValueError):
    """No usable reference picture; the message says which setting to change."""


def image_file_bytes(image: Image, scene: Scene) -> bytes:
    """The Image as PNG/JPEG/WebP bytes: its own file when it has one of those, else a PNG of its pixels."""
    if image.source == "FILE" and image.file_format in SENDABLE_FORMATS:
        if image.packed_file is not None:
            return bytes(image.packed_file.data)
        path = Path(bpy.path.abspath(image.filepath, library=image.library))
        if path.is_file():
            return path.read_bytes()
    if not image.has_data and image.source != "VIEWER":
        image.reload()  # loads a not-yet-used image's pixels
    if image.size[0] == 0 or image.size[1] == 0:
        raise ReferenceImageError(f"Reference Image: {image.name!r} has no pixels (is its file missing?); expected an "
                             "image with content")
    with _temporary_png() as path, png_output(scene):
        image.save_render(str(path), scene=scene)  # any kind of Image (generated, render result, sequence frame)
        return path.read_bytes()


def render_frame(scene: Scene, width: int, height: int, frame: int | None = None) -> bytes:
    """Render `frame` (default: the current one) at the clip's size (what the model needs, and faster) as PNG bytes.

    Blocks while the render runs, like F12: the scene's own render engine and settings are used.
    """
    with _temporary_png() as path:
        with clip_resolution(scene, width, height), at_frame(scene, frame):
            render_to_png(scene, path)
        return path.read_bytes()


def render_to_png(scene: Scene, path: Path) -> None:
    """Render the scene's current frame with its current settings into an 8-bit RGB PNG at `path`."""
    if scene.camera is None:
        raise ReferenceImageError("Reference: the scene has no camera to render from; add one, or choose an Image "
                                  "or None")
    bpy.ops.render.render(write_still=False, scene=scene.name)
    result = bpy.data.images.get("Render Result")
    if result is None:
        raise ReferenceImageError("Reference: the render produced no image")
    with png_output(scene):
        result.save_render(str(path), scene=scene)


@contextmanager
def clip_resolution(scene: Scene, width: int, height: int):  # noqa: ANN201 - a context manager
    """Render at exactly `width` x `height` for the time being (100 %), then put the scene's size back."""
    render = scene.render
    saved = (render.resolution_x, render.resolution_y, render.resolution_percentage)
    try:
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        yield
    finally:
        render.resolution_x, render.resolution_y, render.resolution_percentage = saved


@contextmanager
def at_frame(scene: Scene, frame: int | None):  # noqa: ANN201 - a context manager
    """Make `frame` current for the time being (None: stay where the scene is)."""
    current, subframe = scene.frame_current, scene.frame_subframe
    try:
        if frame is not None and frame != current:
            scene.frame_set(frame)
        yield
    finally:
        if scene.frame_current != current or scene.frame_subframe != subframe:
            scene.frame_set(current, subframe=subframe)


@contextmanager
def png_output(scene: Scene):  # noqa: ANN201 - a context manager
    """`save_render` writes in the scene's output format: make it 8-bit RGB PNG for the time being."""
    settings = scene.render.image_settings
    saved = (settings.file_format, settings.color_mode, settings.color_depth)
    try:
        settings.file_format, settings.color_mode, settings.color_depth = "PNG", "RGB", "8"
        yield
    finally:
        settings.file_format = saved[0]
        settings.color_mode, settings.color_depth = saved[1], saved[2]


@contextmanager
def _temporary_png():  # noqa: ANN202
    fd, name = tempfile.mkstemp(prefix="animatediff-reference-", suffix=".png")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)

"""Video-to-video from Blender: render every frame of the scene's frame range to PNG files.

Runs on the main thread (a render reads Blender data and blocks, as Ctrl+F12 does); the files go to a
temporary folder that the job's thread uploads (`client.upload_image`) and then removes.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bpy.types import Scene

from .property_groups.generation_settings import MAX_FRAMES, range_frames
from .reference_frames import ReferenceImageError, at_frame, clip_resolution, render_to_png


@dataclass(frozen=True)
class RenderedRange:
    """The rendered frames (`0000.png ...` in scene order) and the temporary folder holding them."""

    folder: Path
    paths: tuple[Path, ...]
    scene_frames: tuple[int, ...]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def check_range(scene: Scene) -> list[int]:
    """The scene frames to render, or a `ReferenceImageError` naming the range and what is accepted."""
    frames = range_frames(scene)
    if not frames or len(frames) > MAX_FRAMES:
        start, end = (frames[0], frames[-1]) if frames else (scene.frame_start, scene.frame_end)
        raise ReferenceImageError(f"Frame Range: {start}-{end} ({len(frames)} frames) is not accepted; expected 1 to "
                                  f"{MAX_FRAMES} frames (set the scene's frame range, or its preview range)")
    return frames


def render_frame_range(scene: Scene, width: int, height: int) -> RenderedRange:
    """Render the scene's frame range at the clip's size; the current frame and output settings are put back."""
    frames = check_range(scene)
    folder = Path(tempfile.mkdtemp(prefix="animatediff-range-"))
    paths = []
    try:
        with clip_resolution(scene, width, height), at_frame(scene, None):
            for i, frame in enumerate(frames):
                scene.frame_set(frame)
                path = folder / f"{i:04d}.png"
                render_to_png(scene, path)
                paths.append(path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return RenderedRange(folder, tuple(paths), tuple(frames))

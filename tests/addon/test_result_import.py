"""Importing frames into the scene, without a service: frames written by Blender itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
import pytest


def write_frames(folder: Path, count: int = 3, size: tuple[int, int] = (80, 48)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = bpy.data.images.new(f"frame {i}", *size)
        image.pixels.foreach_set([i / count, 0.5, 0.2, 1.0] * (size[0] * size[1]))
        image.filepath_raw, image.file_format = str(folder / f"{i:04d}.png"), "PNG"
        image.save()
        bpy.data.images.remove(image)
        paths.append(folder / f"{i:04d}.png")
    return paths


def import_all(frames: list[Path], start: int = 1, job_id: str = "job-1", **options: bool):  # noqa: ANN201
    from addon.result_import import ImportOptions, import_clip

    return import_clip(bpy.context.scene, frames, job_id=job_id, request={"prompt": "a test", "seed": 5, "fps": 8},
                       start_frame=start, options=ImportOptions(**options))


def test_plane_is_sized_to_the_clip_and_strips_avoid_busy_channels(tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "a")
    first = import_all(frames, plane=True, strip=True)
    assert first.plane.dimensions.x == pytest.approx(80 / 48) and first.plane.dimensions.z == pytest.approx(1.0)
    assert tuple(first.plane.location) == tuple(bpy.context.scene.cursor.location)
    assert first.plane.data.uv_layers.active is not None
    second = import_all(frames, start=2, job_id="job-2", strip=True)  # overlaps the first strip's frames 1-3
    assert (first.strip.channel, second.strip.channel) == (1, 2)
    third = import_all(frames, start=10, job_id="job-3", strip=True)  # free again from frame 10
    assert third.strip.channel == 1


def test_camera_background_slot_is_reused_by_the_next_clip(tmp_path: Path) -> None:
    camera = bpy.context.scene.camera.data
    user_slot = camera.background_images.new()  # the user's own reference stays untouched
    first = import_all(write_frames(tmp_path / "a"))
    second = import_all(write_frames(tmp_path / "b"), job_id="job-2")
    assert len(camera.background_images) == 2
    assert first.camera_background == second.camera_background and second.camera_background.image == second.image
    assert user_slot.image is None


def test_no_scene_camera_is_a_note_not_an_error(tmp_path: Path) -> None:
    bpy.context.scene.camera = None
    clip = import_all(write_frames(tmp_path / "a"))
    assert clip.camera_background is None
    assert clip.notes == ["the scene has no camera, so the clip was not set as a camera background"]
    assert clip.image.source == "SEQUENCE"


def test_saved_file_keeps_relative_paths(tmp_path: Path) -> None:
    from addon.result_import import ImportOptions, import_clip

    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    frames = write_frames(tmp_path / "AnimateDiff" / "job" / "frames")
    clip = import_clip(bpy.context.scene, frames, job_id="j", request={"fps": 8}, start_frame=1,
                       options=ImportOptions(), relative=True)
    assert clip.image.filepath == "//AnimateDiff/job/frames/0000.png"
    assert tuple(clip.image.size) == (80, 48)  # the relative path still finds the file


def test_output_folder_rules(tmp_path: Path) -> None:
    from addon.generation_job import output_folder

    assert output_folder(str(tmp_path / "out")) == (tmp_path / "out", False)
    # Unsaved and not installed as an extension: the system's temporary folder.
    assert output_folder("//AnimateDiff/") == (Path(tempfile.gettempdir()) / "animatediff-studio" / "results", False)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    assert output_folder("//AnimateDiff/") == (tmp_path / "AnimateDiff", True)


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="job job-1: the service returned no frames"):
        import_all([])

"""Issue 7's options sent to the real service on loopback (tiny models, 64x64, 2 steps) and their effect checked:
references at chosen frames (first + last), SparseCtrl, video-to-video from the rendered frame range, long
clips with context windows, prompt travel, FreeInit, continuation of an imported clip."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import bpy
import pytest

from tests.addon.conftest import Service, drive, generate, quick_settings


def fast_renders(scene: bpy.types.Scene) -> None:
    """Cycles on the CPU with one sample and no denoiser (the same frame renders the same bytes): the bpy module
    has no GPU context for Eevee."""
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.device, scene.cycles.use_denoising = 1, "CPU", False


def animate_cube(scene: bpy.types.Scene, first: int, last: int) -> None:
    """The default cube travels across the camera's view, so every frame of the range renders differently."""
    cube = scene.objects["Cube"]
    for frame, x in ((first, -2.5), (last, 2.5)):
        cube.location.x = x
        cube.keyframe_insert("location", index=0, frame=frame)


def pixels(png: bytes, tmp_path: Path) -> list[float]:
    """A PNG's pixels as Blender reads them (the files' own bytes differ: render time is stamped in them)."""
    path = tmp_path / f"pixels-{len(list(tmp_path.glob('pixels-*')))}.png"
    path.write_bytes(png)
    image = bpy.data.images.load(str(path), check_existing=False)
    values = [0.0] * (image.size[0] * image.size[1] * 4)
    image.pixels.foreach_get(values)
    bpy.data.images.remove(image)
    return values


def metadata(service: Service, job_id: str) -> dict:
    return json.loads((service.data_dir / "jobs" / job_id / "metadata.json").read_text())


def range_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("animatediff-range-*"))


def test_first_and_end_reference_at_their_frames(connected: Service, tmp_path: Path) -> None:
    from addon.reference_frames import render_frame

    scene = bpy.context.scene
    fast_renders(scene)
    animate_cube(scene, 1, 8)
    scene.frame_start, scene.frame_end = 1, 8
    scene.frame_set(3)
    quick_settings(scene, frames=6, reference_strength=0.7)
    settings = scene.animatediff
    settings.output_directory = str(tmp_path)
    picture = bpy.data.images.new("Start", 48, 32)
    picture.pixels.foreach_set([0.1, 0.2, 0.9, 1.0] * (48 * 32))
    settings.reference_mode, settings.reference_image, settings.reference_frame = "IMAGE", picture, 1
    settings.end_reference_mode = "RENDER_END"
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    request = connected.client.job(job["job_id"]).request
    start, end = request["references"]
    assert (start["frame"], end["frame"], request["reference_strength"]) == (1, -1, 0.7)
    uploads = connected.data_dir / "uploads"
    # The end picture is the range's last frame (8) rendered at the clip's size, not the current frame (3).
    end_png = (uploads / f"{end['image']}.png").read_bytes()
    end_frame, current = (pixels(render_frame(scene, 64, 64, frame=f), tmp_path) for f in (8, None))
    assert pixels(end_png, tmp_path) == end_frame != current
    assert scene.frame_current == 3
    assert [r["frame"] for r in metadata(connected, job["job_id"])["references"]] == [1, -1]


def test_sparsectrl_from_the_services_list(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    assert bpy.ops.animatediff.connect() == {"FINISHED"}
    drive()
    state = bpy.context.window_manager.animatediff
    assert [m.name for m in state.sparsectrl_models] == ["tiny_sparsectrl_rgb"]
    assert state.sparsectrl_models[0].kind == "sparsectrl"
    quick_settings(scene)
    settings = scene.animatediff
    settings.output_directory = str(tmp_path)
    picture = bpy.data.images.new("Key", 64, 64)
    settings.reference_mode, settings.reference_image = "IMAGE", picture
    settings.sparsectrl, settings.sparsectrl_weight = state.sparsectrl_models[0].name, 0.5
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    assert connected.client.job(job["job_id"]).request["sparsectrl"] == {"path": "tiny_sparsectrl_rgb",
                                                                         "weight": 0.5}
    used = metadata(connected, job["job_id"])["sparsectrl"]
    assert Path(used["path"]).name == "tiny_sparsectrl_rgb.ckpt" and used["weight"] == 0.5


def test_video_to_video_from_the_rendered_frame_range(connected: Service, tmp_path: Path) -> None:
    from addon import background

    scene = bpy.context.scene
    fast_renders(scene)
    scene.frame_start, scene.frame_end = 5, 8
    animate_cube(scene, 5, 8)
    scene.frame_set(2)
    scene.render.filepath = "//my_render_"
    quick_settings(scene, frames=16, reference_mode="RANGE", reference_strength=0.6)  # Frames is the range's: 4
    scene.animatediff.output_directory = str(tmp_path)
    renders: list[int] = []
    handler = lambda scene, *_: renders.append(scene.frame_current)  # noqa: E731
    before = range_folders()
    bpy.app.handlers.render_pre.append(handler)
    try:
        assert bpy.ops.animatediff.generate() == {"FINISHED"}
    finally:
        bpy.app.handlers.render_pre.remove(handler)
    assert renders == [5, 6, 7, 8]  # rendered on the main thread, before the job thread uploads them
    state, seen = bpy.context.window_manager.animatediff, set()
    while background.drain() is not None:
        seen.add((state.job_status, state.phase, state.step, state.total_steps))
    drive()
    assert state.job_status == "SUCCEEDED", state.message
    uploading = {s[2] for s in seen if s[:2] == ("SUBMITTING", "uploading") and s[3] == 4}
    assert uploading and uploading <= {1, 2, 3, 4}, seen  # the progress bar counts the uploads

    request = connected.client.job(state.job_id).request
    assert (request["frames"], request["video_strength"], len(request["video"])) == (4, 0.6, 4)
    assert request["references"] == []
    video = metadata(connected, state.job_id)["video"]
    assert len(video) == 4 and len({v["sha256"] for v in video}) == 4  # four different rendered frames, in order
    assert [Path(v["path"]).stem for v in video] == request["video"]
    image = scene.animatediff.result_image
    assert image.animatediff.frames == 4 and json.loads(image.animatediff.request_json)["video"] == request["video"]
    # The scene is as it was: current frame, output path and size; the rendered files are gone.
    assert (scene.frame_current, scene.render.filepath) == (2, "//my_render_")
    assert (scene.render.resolution_x, scene.render.resolution_percentage) == (1920, 100)
    assert range_folders() == before


def test_uploading_stops_when_asked(connected: Service) -> None:
    """A cancel during a long upload stops it between two frames: nothing more is sent, nothing is submitted."""
    from addon.frame_range import RenderedRange
    from addon.job_inputs import JobInputs, attach_uploads

    folder = Path(tempfile.mkdtemp(prefix="animatediff-range-"))
    paths = []
    for i in range(5):
        picture = bpy.data.images.new(f"frame{i}", 16, 16)
        picture.pixels.foreach_set([i / 5, 0.5, 0.5, 1.0] * 256)
        picture.filepath_raw, picture.file_format = str(folder / f"{i:04d}.png"), "PNG"
        picture.save()
        paths.append(folder / f"{i:04d}.png")
    inputs = JobInputs(video=RenderedRange(folder, tuple(paths), tuple(range(5))))
    progress: list[tuple[int, int]] = []
    result = attach_uploads(connected.client, {"prompt": "x"}, inputs, lambda: len(progress) >= 2,
                            lambda done, total: progress.append((done, total)))
    assert result is None and progress == [(1, 5), (2, 5)]
    uploads = connected.data_dir / "uploads"
    assert (uploads / f"{connected.client.upload_image(paths[0]).id}.png").is_file()
    inputs.remove()
    assert not folder.exists()


def test_cancel_right_after_generate_with_a_rendered_range(connected: Service, tmp_path: Path) -> None:
    """Cancel pressed while the frames upload (or, on a fast machine, just after the submit): the job ends
    cancelled, nothing is imported and the rendered frames are removed."""
    scene = bpy.context.scene
    fast_renders(scene)
    scene.frame_start, scene.frame_end = 1, 3
    quick_settings(scene, reference_mode="RANGE", steps=200)
    scene.animatediff.output_directory = str(tmp_path)
    before = range_folders()
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    assert bpy.ops.animatediff.cancel() == {"FINISHED"}
    drive()
    state = bpy.context.window_manager.animatediff
    assert state.job_status == "CANCELLED", state.message
    if state.job_id:  # submitted before the cancel was seen: the service cancelled it
        assert connected.client.job(state.job_id).status == "cancelled"
    else:
        assert state.message == "Generation cancelled before it was submitted"
    assert scene.animatediff.result_image is None and not list(tmp_path.iterdir())
    assert range_folders() == before


def test_long_clip_with_context_windows_and_prompt_travel(connected: Service, tmp_path: Path) -> None:
    """36 frames on a 32-frame module: refused without windows (the service's sentence), made with them."""
    scene = bpy.context.scene
    quick_settings(scene, frames=36)
    scene.animatediff.output_directory = str(tmp_path)
    refused = generate(import_camera_background=False)
    assert refused["status"] == "FAILED" and refused["level"] == "ERROR"
    assert ("frames: 36 is more than this motion module's position encoding covers (32 frames); ask for at most 32 "
            "frames, or set context_length (e.g. 16)") in refused["message"]

    quick_settings(scene, frames=36, context_length=16, context_overlap=4, closed_loop=True, free_noise=True)
    item = scene.animatediff.prompt_at.add()
    item.frame, item.prompt = 18, "a blue ball rolling"
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    request = connected.client.job(job["job_id"]).request
    assert {k: request[k] for k in ("frames", "context_length", "context_overlap", "context_weighting",
                                    "closed_loop", "free_noise", "prompt_at")} == {
        "frames": 36, "context_length": 16, "context_overlap": 4, "context_weighting": "pyramid",
        "closed_loop": True, "free_noise": True, "prompt_at": [{"frame": 18, "prompt": "a blue ball rolling"}]}
    assert scene.animatediff.result_image.animatediff.frames == 36
    assert len(list((tmp_path / job["job_id"] / "frames").glob("*.png"))) == 36


def test_free_init_reaches_the_service(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    quick_settings(scene, free_init=1)
    scene.animatediff.output_directory = str(tmp_path)
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    assert connected.client.job(job["job_id"]).request["free_init"] == 1


def test_extend_an_imported_clip(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    quick_settings(scene, frames=4)
    settings = scene.animatediff
    settings.output_directory = str(tmp_path)
    scene.frame_set(20)
    first = generate(import_camera_background=True)
    assert first["status"] == "SUCCEEDED", first["message"]
    source = settings.result_image
    scene.frame_set(1)
    quick_settings(scene, prompt="something else", extend_frames=3, extend_overlap=2)

    assert bpy.ops.animatediff.extend_result(image=source.name) == {"FINISHED"}
    drive()
    state = bpy.context.window_manager.animatediff
    assert state.job_status == "SUCCEEDED", state.message
    longer = settings.result_image
    assert longer != source
    request = connected.client.job(longer.animatediff.job_id).request
    assert json.loads(longer.animatediff.request_json)["extend"] == first["job_id"]  # sent: the job's id
    assert Path(request["extend"]) == connected.data_dir / "jobs" / first["job_id"]  # the service's: its folder
    assert (request["extend_overlap"], request["frames"]) == (2, 3)
    assert request["prompt"] == "a red ball bouncing"  # the clip's own request, not the sidebar's
    # The whole longer clip: the source's 4 frames (its first 2 as they were), then 3 new ones.
    info = longer.animatediff
    assert (info.frames, info.start_frame) == (7, 20)
    new_dir, old_dir = Path(info.directory), Path(source.animatediff.directory)
    assert sorted(p.name for p in new_dir.glob("*.png")) == [f"{i:04d}.png" for i in range(7)]
    for name in ("0000.png", "0001.png"):
        assert (new_dir / name).read_bytes() == (old_dir / name).read_bytes()
    background = next(bg for bg in scene.camera.data.background_images if bg.image == longer)
    assert (background.image_user.frame_duration, background.image_user.frame_start) == (7, 20)


@pytest.mark.parametrize("overlap", [5])
def test_extend_refuses_an_overlap_longer_than_the_clip(overlap: int) -> None:
    image = bpy.data.images.new("clip", 8, 8)
    image.animatediff.job_id, image.animatediff.frames = "f" * 32, 4
    image.animatediff.request_json = json.dumps({"prompt": "x", "base": "b", "motion_module": "m"})
    bpy.context.scene.animatediff.extend_overlap = overlap
    with pytest.raises(RuntimeError, match="Extend Overlap: 5 is not accepted; expected 1 to 4"):
        bpy.ops.animatediff.extend_result(image=image.name)
    assert bpy.context.window_manager.animatediff.job_status == "IDLE"

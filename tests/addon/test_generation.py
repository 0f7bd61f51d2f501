"""Generate against the real service on loopback with the tiny models, and import the clip into the scene."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import pytest

from tests.addon.conftest import Service, drive, generate, quick_settings


def test_connect_lists_the_services_models(connected: Service) -> None:
    from addon.camera_analysis import CAMERA_MOVES

    assert tuple(connected.camera_moves) == CAMERA_MOVES  # as the backend's interpreter reports models/camera.py
    assert bpy.ops.animatediff.connect() == {"FINISHED"}
    assert bpy.context.window_manager.animatediff.connection == "CONNECTING"
    drive()
    state = bpy.context.window_manager.animatediff
    assert state.connection == "CONNECTED", state.connection_message
    assert connected.url in state.connection_message
    assert [m.name for m in state.checkpoints] == ["tiny_base"]
    assert [m.name for m in state.motion_modules] == ["tiny_mm"]
    assert [m.name for m in state.loras] == ["tiny_style"]
    assert [m.name for m in state.domain_adapters] == ["tiny_adapter"]
    assert [m.name for m in state.motion_loras] == ["v2_lora_ZoomIn"]
    assert [m.name for m in state.sparsectrl_models] == ["tiny_sparsectrl_rgb"]
    assert state.checkpoints[0].path.endswith("tiny_base.safetensors") and state.checkpoints[0].size_mb > 0
    # A scene with no model chosen gets the first of each list.
    settings = bpy.context.scene.animatediff
    assert (settings.base, settings.motion_module) == ("tiny_base", "tiny_mm")


def test_generate_imports_the_clip_everywhere(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    quick_settings(scene, width=96, height=64, fps=12)
    scene.animatediff.output_directory = str(tmp_path)
    scene.frame_set(10)
    job = generate(import_camera_background=True, import_plane=True, import_strip=True, set_scene_fps=True,
                   set_frame_range=True)
    assert job["status"] == "SUCCEEDED", job["message"]
    assert job["progress"] == 1.0

    # The Image: an image sequence of the 4 downloaded frames, 96x64, starting at the frame Generate was pressed on.
    image = scene.animatediff.result_image
    assert image is not None and image.source == "SEQUENCE"
    assert tuple(image.size) == (96, 64)
    frames_dir = tmp_path / job["job_id"] / "frames"
    assert sorted(p.name for p in frames_dir.iterdir()) == ["0000.png", "0001.png", "0002.png", "0003.png"]
    assert Path(image.filepath) == frames_dir / "0000.png"
    info = image.animatediff
    assert (info.job_id, info.frames, info.fps, info.start_frame, info.seed) == (job["job_id"], 4, 12, 10, 7)
    request = json.loads(info.request_json)
    assert request["prompt"] == "a red ball bouncing" and request["seed"] == 7
    assert (request["width"], request["height"], request["frames"], request["steps"]) == (96, 64, 4, 2)
    assert connected.client.job(job["job_id"]).request["seed"] == 7  # what the service ran

    # Camera background: plays file 0000 at frame 10 ... 0003 at frame 13.
    camera = scene.camera.data
    background = next(bg for bg in camera.background_images if bg.image == image)
    assert camera.show_background_images
    assert (background.image_user.frame_duration, background.image_user.frame_start) == (4, 10)
    for frame, name in ((10, "0000.png"), (11, "0001.png"), (13, "0003.png")):
        scene.frame_set(frame)
        assert Path(image.filepath_from_user(image_user=background.image_user)).name == name

    # Plane: the clip's 3:2 aspect, an emission material whose texture is the Image.
    plane = next(o for o in scene.objects if o.type == "MESH" and o.data.name == image.name)
    assert plane.dimensions.x == pytest.approx(1.5) and plane.dimensions.z == pytest.approx(1.0)
    nodes = plane.active_material.node_tree.nodes
    texture = next(n for n in nodes if n.type == "TEX_IMAGE")
    assert texture.image == image and texture.image_user.frame_duration == 4
    emission = next(n for n in nodes if n.type == "EMISSION")
    assert emission.inputs["Color"].links[0].from_node == texture
    assert next(n for n in nodes if n.type == "OUTPUT_MATERIAL").inputs["Surface"].links[0].from_node == emission

    # Sequencer: an image strip of the same files at frame 10.
    strip = next(s for s in scene.sequence_editor.strips if s.type == "IMAGE")
    assert Path(bpy.path.abspath(strip.directory)) == frames_dir
    assert [e.filename for e in strip.elements] == ["0000.png", "0001.png", "0002.png", "0003.png"]
    assert (strip.frame_final_start, strip.frame_final_duration) == (10, 4)

    # Scene: the clip's fps and frame range.
    assert (scene.render.fps, scene.render.fps_base) == (12, 1.0)
    assert (scene.frame_start, scene.frame_end) == (10, 13)
    assert "Imported 4 frames" in job["message"]


def test_progress_events_reach_the_sidebar(connected: Service, tmp_path: Path) -> None:
    """Drained one event at a time: denoising steps and the live preview Image appear before the import."""
    from addon import background

    scene = bpy.context.scene
    quick_settings(scene, steps=3)
    scene.animatediff.output_directory = str(tmp_path)
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    state = bpy.context.window_manager.animatediff
    seen = set()
    while background.drain() is not None:
        seen.add((state.job_status, state.phase, state.step, state.total_steps))
        if state.preview_image:
            seen.add(("preview", state.preview_image))
    drive()
    assert state.job_status == "SUCCEEDED", state.message
    assert ("RUNNING", "denoising", 3, 3) in seen or any(s[:2] == ("RUNNING", "denoising") for s in seen), seen
    assert any(s[0] == "QUEUED" for s in seen)
    preview = bpy.data.images.get("AnimateDiff Preview")
    assert preview is not None and ("preview", preview.name) in seen
    assert tuple(preview.size) != (0, 0)


def test_generate_again_and_vary_seed_work_from_the_image(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    quick_settings(scene)
    scene.animatediff.output_directory = str(tmp_path)
    first = generate(import_camera_background=False)
    assert first["status"] == "SUCCEEDED", first["message"]
    image = scene.animatediff.result_image
    quick_settings(scene, prompt="something else entirely", seed=99)  # the sidebar changed since

    assert bpy.ops.animatediff.generate_from_result(mode="AGAIN", image=image.name) == {"FINISHED"}
    drive()
    again = scene.animatediff.result_image
    assert again != image and again.animatediff.job_id != image.animatediff.job_id
    assert json.loads(again.animatediff.request_json) == json.loads(image.animatediff.request_json)
    # Same request, same seed, same machine: the same pixels.
    first_dir, again_dir = Path(image.animatediff.directory), Path(again.animatediff.directory)
    assert (first_dir / "0002.png").read_bytes() == (again_dir / "0002.png").read_bytes()

    assert bpy.ops.animatediff.generate_from_result(mode="VARY_SEED", image=image.name) == {"FINISHED"}
    drive()
    varied = scene.animatediff.result_image
    request, original = json.loads(varied.animatediff.request_json), json.loads(image.animatediff.request_json)
    assert request["seed"] != original["seed"]
    assert {k: v for k, v in request.items() if k != "seed"} == {k: v for k, v in original.items() if k != "seed"}
    assert connected.client.job(varied.animatediff.job_id).seed == request["seed"]


def test_use_settings_puts_a_clip_back_into_the_sidebar(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    settings = scene.animatediff
    quick_settings(scene, guidance=5.0, seed=1234, deep_cache=2)
    settings.output_directory = str(tmp_path)
    settings.camera_moves.add().move = "zoom-in"
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    assert connected.client.job(job["job_id"]).request["deep_cache"] == 2  # the service ran it with DeepCache
    image = settings.result_image
    quick_settings(scene, prompt="other", seed=1, guidance=9.0, steps=20)
    settings.camera_moves.clear()
    assert bpy.ops.animatediff.use_result_settings(image=image.name) == {"FINISHED"}
    assert (settings.prompt, settings.seed, settings.guidance, settings.steps) == ("a red ball bouncing", 1234, 5.0, 2)
    assert settings.deep_cache == 2
    assert not settings.use_random_seed
    assert [(m.move, m.strength) for m in settings.camera_moves] == [("zoom-in", 1.0)]


def test_reference_from_an_image_datablock_is_uploaded(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    settings = scene.animatediff
    quick_settings(scene)
    settings.output_directory = str(tmp_path)
    picture = bpy.data.images.new("Start", 48, 32)
    picture.pixels.foreach_set([0.9, 0.1, 0.1, 1.0] * (48 * 32))
    settings.reference_mode, settings.reference_image, settings.reference_strength = "IMAGE", picture, 0.5
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    request = connected.client.job(job["job_id"]).request
    assert request["reference_strength"] == 0.5
    [reference] = request["references"]
    assert reference["frame"] == 0
    upload = connected.data_dir / "uploads" / f"{reference['image']}.png"
    assert upload.is_file() and upload.read_bytes()[:4] == b"\x89PNG"
    # The stored request names the same upload, so "Generate Again" starts from the same picture.
    assert json.loads(settings.result_image.animatediff.request_json)["references"] == [reference]


def test_reference_renders_the_current_frame(connected: Service, tmp_path: Path) -> None:
    scene = bpy.context.scene
    settings = scene.animatediff
    quick_settings(scene)
    settings.output_directory = str(tmp_path)
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.device = 1, "CPU"
    scene.render.image_settings.file_format = "OPEN_EXR"  # the scene's own output format is left alone
    settings.reference_mode = "RENDER"
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    [reference] = connected.client.job(job["job_id"]).request["references"]
    upload = connected.data_dir / "uploads" / f"{reference['image']}.png"
    assert upload.is_file()
    assert int.from_bytes(upload.read_bytes()[16:20], "big") == 64  # rendered at the clip's width
    assert scene.render.image_settings.file_format == "OPEN_EXR"
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1920, 1080)


def test_camera_move_reaches_the_service(connected: Service, tmp_path: Path) -> None:
    """A zoom-in resolves to the tiny v2_lora_ZoomIn.ckpt in the service's store and the job succeeds."""
    scene = bpy.context.scene
    quick_settings(scene)
    scene.animatediff.output_directory = str(tmp_path)
    move = scene.animatediff.camera_moves.add()
    move.move, move.strength = "zoom-in", 0.75
    job = generate(import_camera_background=False)
    assert job["status"] == "SUCCEEDED", job["message"]
    assert connected.client.job(job["job_id"]).request["camera"] == [{"move": "zoom-in", "strength": 0.75}]


def test_cancel_stops_the_job(connected: Service, tmp_path: Path) -> None:
    from addon import background

    scene = bpy.context.scene
    quick_settings(scene, steps=200, frames=8)
    scene.animatediff.output_directory = str(tmp_path)
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    state = bpy.context.window_manager.animatediff
    while state.job_status != "RUNNING" or state.phase != "denoising":  # cancel mid-run, not while queued
        assert background.drain() is not None, state.message
    assert bpy.ops.animatediff.cancel() == {"FINISHED"}
    assert not bpy.ops.animatediff.cancel.poll()  # pressed once is enough
    drive()
    assert state.job_status == "CANCELLED", state.message
    assert connected.client.job(state.job_id).status == "cancelled"
    assert state.step < 200
    assert not (tmp_path / state.job_id).exists()  # nothing downloaded, nothing imported
    assert scene.animatediff.result_image is None


def test_cancel_pressed_right_after_generate(connected: Service, tmp_path: Path) -> None:
    """Cancel before the service has answered the submit: the job is cancelled once (a second DELETE of a
    cancelled job would remove it from the service's history)."""
    scene = bpy.context.scene
    quick_settings(scene, steps=200, frames=8)
    scene.animatediff.output_directory = str(tmp_path)
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    assert bpy.ops.animatediff.cancel() == {"FINISHED"}
    drive()
    state = bpy.context.window_manager.animatediff
    assert state.job_status == "CANCELLED", state.message
    assert connected.client.job(state.job_id).status == "cancelled"


def test_the_services_refusal_is_reported_with_its_sentence(connected: Service) -> None:
    scene = bpy.context.scene
    quick_settings(scene, base="no_such_model")
    job = generate()
    assert job["status"] == "FAILED" and job["level"] == "ERROR"
    assert "base" in job["message"] and "no_such_model" in job["message"]
    assert bpy.context.window_manager.animatediff.connection != "FAILED"  # the service is fine


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"prompt": "  "}, "Prompt: '  ' is not accepted; expected text"),
    ({"width": 100}, "Width: 100 is not accepted; expected a multiple of 8, e.g. 96 or 104"),
    ({"base": ""}, "Model: '' is not accepted"),
    ({"deep_cache": 1}, "Feature Cache: 1 is not accepted; expected 0 .off. or 2 to 10"),
])
def test_bad_settings_are_refused_before_sending(overrides: dict, expected: str) -> None:
    quick_settings(bpy.context.scene, **overrides)
    with pytest.raises(RuntimeError, match=expected.replace("(", r"\(")):
        bpy.ops.animatediff.generate()
    assert bpy.context.window_manager.animatediff.job_status == "IDLE"


def test_disabling_the_addon_mid_job_stops_its_threads(connected: Service, tmp_path: Path) -> None:
    """Unregister while the job thread follows the event stream: it stops within a second or two, no timer stays."""
    import threading
    import time

    from addon import background
    from tests.addon.conftest import disable_addon, enable_addon

    scene = bpy.context.scene
    quick_settings(scene, steps=200, frames=8)
    scene.animatediff.output_directory = str(tmp_path)
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    state = bpy.context.window_manager.animatediff
    while state.phase != "denoising":
        assert background.drain() is not None, state.message
    job_id = state.job_id
    started = time.monotonic()
    try:
        disable_addon()
        stopped_in = time.monotonic() - started
        assert not bpy.app.timers.is_registered(background.drain)
        assert not [t for t in threading.enumerate() if t.name.startswith("animatediff-")]
        assert stopped_in < 3.0
    finally:
        connected.client.cancel(job_id)  # free the shared worker for the next tests
        for _ in connected.client.events(job_id):
            pass
        enable_addon()
    assert connected.client.job(job_id).status == "cancelled"

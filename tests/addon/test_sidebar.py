"""The sidebar panels and the preferences draw what each state needs (stand-in layouts: the module has no UI)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import bpy

from tests.addon.conftest import ADDON


class Layout:
    """Records every UILayout call; sub-layouts record into the same list."""

    def __init__(self, calls: list[tuple[str, tuple, dict]]) -> None:
        self.calls = calls

    def __getattr__(self, name: str):  # noqa: ANN204 - any UILayout method
        def method(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if name in {"row", "column", "box", "split"}:
                return Layout(self.calls)
            if name == "operator":
                return SimpleNamespace(idname=args[0])
            return None

        return method


def draw(panel: type) -> list[tuple[str, tuple, dict]]:
    calls: list[tuple[str, tuple, dict]] = []
    panel.draw(SimpleNamespace(layout=Layout(calls)), bpy.context)
    return calls


def operators(calls: list) -> list[str]:
    return [c[1][0] for c in calls if c[0] == "operator"]


def labels(calls: list) -> list[str]:
    return [c[2].get("text", "") for c in calls if c[0] == "label"]


def test_main_panel_idle_running_and_failed() -> None:
    panel = bpy.types.VIEW3D_PT_animatediff
    state = bpy.context.window_manager.animatediff
    calls = draw(panel)
    assert operators(calls) == ["animatediff.connect", "animatediff.generate"]
    assert "Not connected" in labels(calls)
    assert not [c for c in calls if c[0] == "progress"]

    state.job_status, state.phase, state.step, state.total_steps, state.progress = "RUNNING", "denoising", 3, 12, 0.25
    calls = draw(panel)
    assert operators(calls) == ["animatediff.connect", "animatediff.cancel"]
    [progress] = [c[2] for c in calls if c[0] == "progress"]
    assert progress["factor"] == 0.25 and progress["text"] == "Denoising 3/12"

    message = ("Cannot reach the AnimateDiff Studio service at http://127.0.0.1:9 (Connection refused). Is it "
               "running? Start it with `animatediff-studio serve`")
    state.job_status, state.connection, state.message, state.message_level = "FAILED", "FAILED", message, "ERROR"
    calls = draw(panel)
    assert operators(calls)[-1] == "animatediff.generate"
    assert "Service unavailable" in labels(calls)
    wrapped = [c[2]["text"] for c in calls if c[0] == "label" and c[2].get("icon") in ("CANCEL", "BLANK1")]
    assert " ".join(wrapped) == message and all(len(line) <= 40 for line in wrapped)


def test_models_panel_offers_the_services_lists() -> None:
    state, settings = bpy.context.window_manager.animatediff, bpy.context.scene.animatediff
    settings.loras.add().model = "style_a"
    settings.loras.add().model = "style_b"
    calls = draw(bpy.types.VIEW3D_PT_animatediff_models)
    searches = [(c[1][1], c[1][3]) for c in calls if c[0] == "prop_search"]
    assert searches[:3] == [("base", "checkpoints"), ("motion_module", "motion_modules"),
                            ("domain_adapter", "domain_adapters")]
    assert searches[3:] == [("model", "loras"), ("model", "loras")]
    assert all(c[1][2] == state for c in calls if c[0] == "prop_search")
    assert operators(calls) == ["animatediff.list_add", "animatediff.list_remove", "animatediff.list_remove"]


def test_sampling_panel_shows_the_scene_size_or_the_manual_one() -> None:
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1280, 720, 50
    calls = draw(bpy.types.VIEW3D_PT_animatediff_sampling)
    assert "640 x 360 px (scene)" in labels(calls)
    assert "24 fps (scene)" in labels(calls)
    scene.animatediff.use_scene_size = False  # starts from the scene's size
    assert (scene.animatediff.width, scene.animatediff.height) == (640, 360)
    calls = draw(bpy.types.VIEW3D_PT_animatediff_sampling)
    assert tuple(c[1][1] for c in calls if c[0] == "prop" and c[1][1] in ("width", "height")) == ("width", "height")


def test_scene_size_snaps_to_multiples_of_eight() -> None:
    from addon.property_groups.generation_settings import scene_size

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1920, 1080, 37
    assert scene_size(scene) == (712, 400)  # 710.4 x 399.6


def test_camera_reference_import_and_result_panels() -> None:
    settings = bpy.context.scene.animatediff
    settings.camera_moves.add().move = "pan-left"
    calls = draw(bpy.types.VIEW3D_PT_animatediff_camera)
    assert operators(calls) == ["animatediff.list_remove", "animatediff.list_add", "animatediff.match_scene_camera"]

    settings.reference_mode = "IMAGE"
    calls = draw(bpy.types.VIEW3D_PT_animatediff_reference)
    assert ("template_ID", (settings, "reference_image")) in [(c[0], c[1]) for c in calls]
    assert any(c[0] == "prop" and c[1][1] == "reference_strength" for c in calls)

    calls = draw(bpy.types.VIEW3D_PT_animatediff_import)
    assert [c[1][1] for c in calls if c[0] == "prop"] == ["output_directory", "import_camera_background",
                                                          "import_plane", "import_strip", "set_scene_fps",
                                                          "set_frame_range"]

    calls = draw(bpy.types.VIEW3D_PT_animatediff_result)
    assert operators(calls) == []
    image = bpy.data.images.new("clip", 8, 8)
    image.animatediff.request_json, image.animatediff.seed, image.animatediff.frames = json.dumps({"seed": 3}), 3, 16
    settings.result_image = image
    calls = draw(bpy.types.VIEW3D_PT_animatediff_result)
    assert operators(calls) == ["animatediff.generate_from_result", "animatediff.generate_from_result",
                                "animatediff.use_result_settings", "animatediff.extend_result"]
    assert [c[1][1] for c in calls if c[0] == "prop"] == ["extend_frames", "extend_overlap"]
    assert any("seed 3" in text for text in labels(calls))


def test_result_pointer_only_accepts_animatediff_images() -> None:
    from addon.property_groups.generation_settings import AnimateDiffSettings

    poll = AnimateDiffSettings.__annotations__["result_image"].keywords["poll"]
    plain, clip = bpy.data.images.new("plain", 4, 4), bpy.data.images.new("clip", 4, 4)
    assert not poll(None, plain)
    clip.animatediff.request_json = json.dumps({"prompt": "x"})
    assert poll(None, clip)


def test_preferences_show_the_connection() -> None:
    prefs = bpy.context.preferences.addons[ADDON].preferences
    state = bpy.context.window_manager.animatediff
    state.connection, state.connection_message = "CONNECTED", "Connected to http://127.0.0.1:7865"
    calls: list = []
    type(prefs).draw(SimpleNamespace(layout=Layout(calls), address="", start_backend=True), bpy.context)
    assert "Connected to http://127.0.0.1:7865" in labels(calls)
    assert operators(calls) == ["animatediff.connect"]
    assert [c[1][1] for c in calls if c[0] == "prop"] == ["address", "token", "start_backend", "backend_program",
                                                          "port"]


def props(calls: list) -> list[str]:
    return [c[1][1] for c in calls if c[0] == "prop"]


def test_reference_panel_for_each_source() -> None:
    scene, settings = bpy.context.scene, bpy.context.scene.animatediff
    panel = bpy.types.VIEW3D_PT_animatediff_reference
    assert props(draw(panel)) == ["reference_mode"]

    settings.reference_mode = "RENDER"
    calls = draw(panel)
    assert props(calls) == ["reference_mode", "reference_frame", "end_reference_mode", "reference_strength"]
    assert [(c[1][1], c[1][3]) for c in calls if c[0] == "prop_search"] == [("sparsectrl", "sparsectrl_models")]
    settings.end_reference_mode, settings.sparsectrl = "IMAGE", "tiny_sparsectrl_rgb"
    calls = draw(panel)
    assert ("template_ID", (settings, "end_reference_image")) in [(c[0], c[1]) for c in calls]
    assert props(calls)[-1] == "sparsectrl_weight"  # SparseCtrl runs the whole schedule: no denoising strength

    settings.reference_mode = "RANGE"
    scene.frame_start, scene.frame_end = 11, 34
    calls = draw(panel)
    assert props(calls) == ["reference_mode", "reference_strength"]
    assert "Frames 11-34: 24 rendered" in labels(calls)
    assert "24 frames (the rendered frame range)" in labels(draw(bpy.types.VIEW3D_PT_animatediff_sampling))
    assert "frames" not in props(draw(bpy.types.VIEW3D_PT_animatediff_sampling))


def test_long_clip_and_prompt_travel_panels() -> None:
    settings = bpy.context.scene.animatediff
    settings.frames = 48
    calls = draw(bpy.types.VIEW3D_PT_animatediff_long_clip)
    assert props(calls) == ["context_length", "context_overlap", "context_weighting", "closed_loop", "free_noise",
                            "free_init"]
    assert "48 frames may not fit the module: set a Context Length (16)" in labels(calls)
    settings.context_length = 16
    assert not any("may not fit" in text for text in labels(draw(bpy.types.VIEW3D_PT_animatediff_long_clip)))

    panel = bpy.types.VIEW3D_PT_animatediff_prompt_travel
    assert operators(draw(panel)) == ["animatediff.list_add"]
    settings.prompt_at.add().prompt = "night"
    calls = draw(panel)
    assert props(calls) == ["frame", "prompt"]
    assert operators(calls) == ["animatediff.list_remove", "animatediff.list_add"]


def test_upload_progress_is_counted() -> None:
    state = bpy.context.window_manager.animatediff
    state.job_status, state.phase, state.progress = "SUBMITTING", "uploading", 0.125
    state.step, state.total_steps = 3, 24
    [progress] = [c[2] for c in draw(bpy.types.VIEW3D_PT_animatediff) if c[0] == "progress"]
    assert progress["text"] == "Uploading 3/24"


def test_panels_are_shown_in_order() -> None:
    from addon import ui

    names = [cls.__name__ for cls in ui.classes]
    assert names[4:7] == ["VIEW3D_PT_animatediff_reference", "VIEW3D_PT_animatediff_long_clip",
                          "VIEW3D_PT_animatediff_prompt_travel"]
    assert all(hasattr(bpy.types, name) for name in names)

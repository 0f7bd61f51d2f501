"""Issue 7's options as the sidebar sends them (references at chosen frames, first + last frame, SparseCtrl,
video-to-video, long clips, prompt travel, continuation), and what is refused before anything is sent."""

from __future__ import annotations

import json

import bpy
import pytest

from tests.addon.conftest import quick_settings


def build() -> dict:
    from addon.generation_request import build_request

    return build_request(bpy.context.scene.animatediff, bpy.context.scene)


def test_references_at_chosen_frames_and_sparsectrl() -> None:
    from addon.reference_request import reference_slots

    scene = bpy.context.scene
    quick_settings(scene, frames=16, reference_mode="IMAGE", reference_frame=3, reference_strength=0.6)
    settings = scene.animatediff
    assert reference_slots(settings, 16) == [("START", 3)]
    request = build()
    assert request["reference_strength"] == 0.6 and "sparsectrl" not in request and "video_strength" not in request

    settings.end_reference_mode = "RENDER_END"
    assert reference_slots(settings, 16) == [("START", 3), ("END", -1)]  # the end is the last frame at any length
    settings.sparsectrl, settings.sparsectrl_weight = "tiny_sparsectrl_rgb", 0.5
    assert build()["sparsectrl"] == {"path": "tiny_sparsectrl_rgb", "weight": 0.5}

    settings.reference_mode = "NONE"
    settings.sparsectrl = ""
    assert reference_slots(settings, 16) == []  # the end reference belongs to a first one
    assert "reference_strength" not in build()


def test_render_frame_range_sets_the_clips_length() -> None:
    scene = bpy.context.scene
    quick_settings(scene, frames=16, reference_mode="RANGE", reference_strength=0.7)
    scene.frame_start, scene.frame_end, scene.frame_step = 1, 10, 1
    request = build()
    assert (request["frames"], request["video_strength"]) == (10, 0.7)
    assert "reference_strength" not in request and "references" not in request
    scene.frame_step = 3  # frames 1, 4, 7, 10
    assert build()["frames"] == 4
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 5, 6  # what the timeline plays
    scene.frame_step = 1
    assert build()["frames"] == 2


def test_long_clip_and_prompt_travel_fields() -> None:
    scene = bpy.context.scene
    quick_settings(scene, frames=48, context_length=16, context_overlap=4, context_weighting="flat",
                   closed_loop=True, free_noise=True)
    settings = scene.animatediff
    for frame, text in ((32, "a blue ball"), (12, "a green ball")):
        item = settings.prompt_at.add()
        item.frame, item.prompt = frame, f"  {text} "
    request = build()
    assert {k: request[k] for k in ("context_length", "context_overlap", "context_weighting", "closed_loop",
                                    "free_noise")} == {"context_length": 16, "context_overlap": 4,
                                                       "context_weighting": "flat", "closed_loop": True,
                                                       "free_noise": True}
    assert request["prompt_at"] == [{"frame": 12, "prompt": "a green ball"}, {"frame": 32, "prompt": "a blue ball"}]
    assert "free_init" not in request

    quick_settings(scene, frames=16, context_length=0, closed_loop=False, free_noise=False, free_init=2)
    settings.prompt_at.clear()
    request = build()
    assert request["free_init"] == 2
    assert not {"context_length", "closed_loop", "free_noise", "prompt_at"} & set(request)  # the service's defaults


def _prompt(frame: int, text: str = "a blue ball"):  # noqa: ANN202 - a change to the settings
    def change(settings) -> None:  # noqa: ANN001
        item = settings.prompt_at.add()
        item.frame, item.prompt = frame, text
    return change


@pytest.mark.parametrize(("overrides", "change", "message"), [
    ({"reference_mode": "IMAGE", "reference_frame": 20}, None,
     "Reference At Frame: 20 is not accepted; expected a frame of the 16-frame clip: 0 to 15, or -16 to -1"),
    ({"reference_mode": "RENDER", "reference_frame": 15, "end_reference_mode": "IMAGE"}, None,
     "Reference At Frame: 15 is not accepted; expected another frame than the last (15), which the End Reference "
     "sets: 0 to 14"),
    ({"sparsectrl": "tiny_sparsectrl_rgb"}, None,
     "SparseCtrl: 'tiny_sparsectrl_rgb' is not accepted; expected a reference picture to condition"),
    ({"sparsectrl": "tiny_sparsectrl_rgb", "reference_mode": "RANGE"}, None,
     "SparseCtrl: 'tiny_sparsectrl_rgb' is not accepted; expected no SparseCtrl model with Render Frame Range"),
    ({"context_length": 1}, None, "Context Length: 1 is not accepted; expected 0 (no windows) or at least 2 frames"),
    ({"context_length": 8, "context_overlap": 8}, None,
     "Context Overlap: 8 is not accepted; expected 0 to 7, fewer frames than the Context Length (8)"),
    ({"closed_loop": True}, None, "Closed Loop: True is not accepted; expected a Context Length (e.g. 16)"),
    ({"free_noise": True}, None, "FreeNoise: True is not accepted; expected a Context Length (e.g. 16)"),
    ({"free_init": 1, "reference_mode": "RENDER"}, None,
     "FreeInit: 1 is not accepted; expected 0 when the clip starts from a reference"),
    ({}, _prompt(16), "Prompt Travel 1 Frame: 16 is not accepted; expected 1 to 15, a frame of the 16-frame clip"),
    ({}, lambda s: (_prompt(4)(s), _prompt(4, "red")(s)),
     "Prompt Travel 2 Frame: 4 is not accepted; expected each frame at most once"),
    ({}, _prompt(4, " "), "Prompt Travel 1 Prompt: ' ' is not accepted; expected text describing the clip"),
])
def test_bad_clip_options_are_refused_before_sending(overrides: dict, change, message: str) -> None:  # noqa: ANN001
    """Through the Generate button: the report names the setting, its value and what is accepted; nothing runs."""
    quick_settings(bpy.context.scene, frames=16, **overrides)
    if change is not None:
        change(bpy.context.scene.animatediff)
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bpy.ops.animatediff.generate()
    assert bpy.context.window_manager.animatediff.job_status == "IDLE"


def test_a_missing_end_image_and_a_too_long_range_are_refused_before_any_render() -> None:
    renders: list[int] = []

    def count(scene, *_args) -> None:  # noqa: ANN001 - a render_pre handler
        renders.append(scene.frame_current)

    bpy.app.handlers.render_pre.append(count)
    try:
        scene = bpy.context.scene
        quick_settings(scene, reference_mode="RENDER", end_reference_mode="IMAGE")
        with pytest.raises(RuntimeError, match="End Image: none chosen; pick an Image, or set End Reference to None"):
            bpy.ops.animatediff.generate()
        quick_settings(scene, reference_mode="RANGE")
        scene.frame_start, scene.frame_end, scene.frame_step = 1, 1100, 1
        with pytest.raises(RuntimeError, match=r"Frame Range: 1-1100 \(1100 frames\) is not accepted; expected 1 to "
                                               "1024 frames"):
            bpy.ops.animatediff.generate()
    finally:
        bpy.app.handlers.render_pre.remove(count)
    assert bpy.context.window_manager.animatediff.job_status == "IDLE"
    assert renders == []


def test_extend_request_continues_the_stored_one() -> None:
    from addon.extend_request import extend_request
    from addon.settings_error import SettingsError

    scene = bpy.context.scene
    quick_settings(scene, context_length=8, context_overlap=2, extend_frames=12, extend_overlap=3)
    image = bpy.data.images.new("clip", 8, 8)
    source = {"prompt": "a red ball", "base": "tiny_base", "motion_module": "tiny_mm", "width": 64, "height": 64,
              "frames": 6, "seed": 5, "references": [{"image": "ab" * 32, "frame": 0}], "reference_strength": 0.5,
              "sparsectrl": {"path": "s", "weight": 1.0}, "prompt_at": [{"frame": 3, "prompt": "x"}],
              "context_length": 16, "free_noise": True}
    info = image.animatediff
    info.job_id, info.request_json, info.frames = "f" * 32, json.dumps(source), 6
    request = extend_request(image, scene.animatediff)
    assert request == {"prompt": "a red ball", "base": "tiny_base", "motion_module": "tiny_mm", "width": 64,
                       "height": 64, "seed": 5, "frames": 12, "extend": "f" * 32, "extend_overlap": 3,
                       "context_length": 8, "context_overlap": 2, "context_weighting": "pyramid"}
    scene.animatediff.extend_overlap = 7
    with pytest.raises(SettingsError, match="Extend Overlap: 7 is not accepted; expected 1 to 6, at most the clip's"):
        extend_request(image, scene.animatediff)
    info.job_id = ""
    with pytest.raises(SettingsError, match="Result: 'clip' is not accepted; expected an Image imported"):
        extend_request(image, scene.animatediff)


def test_use_settings_restores_the_clip_options() -> None:
    from addon.generation_request import apply_request

    settings = bpy.context.scene.animatediff
    apply_request(settings, {"prompt": "p", "base": "b", "motion_module": "m", "frames": 40, "video": ["a" * 64],
                             "video_strength": 0.45, "reference_strength": 0.9, "context_length": 16,
                             "context_overlap": 6, "context_weighting": "flat", "closed_loop": True,
                             "free_noise": True, "free_init": 0, "sparsectrl": {"path": "tiny_sparsectrl_rgb",
                                                                               "weight": 1.5},
                             "prompt_at": [{"frame": 20, "prompt": "night"}]})
    assert settings.reference_strength == pytest.approx(0.45)  # a video's strength
    assert (settings.context_length, settings.context_overlap, settings.context_weighting) == (16, 6, "flat")
    assert settings.closed_loop and settings.free_noise and settings.free_init == 0
    assert (settings.sparsectrl, settings.sparsectrl_weight) == ("tiny_sparsectrl_rgb", 1.5)
    assert [(p.frame, p.prompt) for p in settings.prompt_at] == [(20, "night")]
    apply_request(settings, {"prompt": "p", "base": "b", "motion_module": "m"})  # a plain clip clears them
    assert (settings.context_length, settings.sparsectrl, len(settings.prompt_at)) == (0, "", 0)


def test_prompt_travel_rows_are_added_halfway_to_the_end() -> None:
    settings = bpy.context.scene.animatediff
    quick_settings(bpy.context.scene, frames=16)
    for _ in range(3):
        assert bpy.ops.animatediff.list_add(list="PROMPT_AT") == {"FINISHED"}
    assert [p.frame for p in settings.prompt_at] == [8, 12, 14]
    assert bpy.ops.animatediff.list_remove(list="PROMPT_AT", index=1) == {"FINISHED"}
    assert [p.frame for p in settings.prompt_at] == [8, 14]

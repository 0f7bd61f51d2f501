"""Match Scene Camera: keyed test cameras map to the expected moves and strengths."""

from __future__ import annotations

import ast
import math

import bpy
import pytest

from tests.addon.conftest import REPO


def keyed_camera(keys: dict[int, dict[str, object]], *, focus: float = 10.0, ortho: bool = False) -> bpy.types.Object:
    """A new scene camera looking along +Y (up is +Z), keyed at the given frames ('lens' keys the focal length)."""
    scene = bpy.context.scene
    data = bpy.data.cameras.new("Test Camera")
    data.dof.focus_distance = focus
    if ortho:
        data.type = "ORTHO"
    camera = bpy.data.objects.new("Test Camera", data)
    scene.collection.objects.link(camera)
    scene.camera = camera
    camera.rotation_euler = (math.radians(90), 0, 0)
    for frame, values in keys.items():
        for path, value in values.items():
            target = data if path in ("lens", "ortho_scale") else camera
            setattr(target, path, value)
            target.keyframe_insert(path, frame=frame)
    scene.frame_start, scene.frame_end = 1, 16
    return camera


def analyse(camera: bpy.types.Object) -> list[tuple[str, float]]:
    from addon.camera_analysis import analyse_camera

    scene = bpy.context.scene
    return analyse_camera(scene, camera, bpy.context.evaluated_depsgraph_get()).moves()


def test_vocabulary_is_the_services() -> None:
    """The add-on cannot import models/camera.py (no torch, no repository in Blender): compare the source."""
    from addon.camera_analysis import CAMERA_MOVES

    tree = ast.parse((REPO / "models" / "camera.py").read_text())
    official = next(node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)
                    and getattr(node.target, "id", "") == "OFFICIAL_MOTION_LORAS")
    assert tuple(ast.literal_eval(official).keys()) == CAMERA_MOVES


def test_dolly_in_is_zoom_in() -> None:
    # 5 m closer to a subject 10 m away: it looks twice as large -> log(2) / log(1.5) = 1.71
    camera = keyed_camera({1: {"location": (0, -10, 0)}, 16: {"location": (0, -5, 0)}})
    assert analyse(camera) == [("zoom-in", 1.71)]


def test_dolly_out_towards_focus_object_is_zoom_out() -> None:
    camera = keyed_camera({1: {"location": (0, -4, 0)}, 16: {"location": (0, -6, 0)}})
    subject = bpy.data.objects.new("Subject", None)
    bpy.context.scene.collection.objects.link(subject)
    camera.data.dof.focus_object = subject  # 4 m away at the start: 4/6 of the size -> strength 1.0
    assert analyse(camera) == [("zoom-out", 1.0)]


def test_focal_length_change_is_zoom() -> None:
    camera = keyed_camera({1: {"lens": 50.0}, 16: {"lens": 75.0}})
    assert analyse(camera) == [("zoom-in", 1.0)]


def test_orthographic_scale_change_is_zoom() -> None:
    camera = keyed_camera({1: {"ortho_scale": 8.0}, 16: {"ortho_scale": 4.0}}, ortho=True)
    assert analyse(camera) == [("zoom-in", 1.71)]


def test_yaw_left_is_pan_left() -> None:
    # Turning 30 degrees about the world's up axis, to the left
    camera = keyed_camera({1: {"rotation_euler": (math.radians(90), 0, 0)},
                           16: {"rotation_euler": (math.radians(90), 0, math.radians(30))}})
    assert analyse(camera) == [("pan-left", 1.0)]


def test_sideways_travel_is_pan() -> None:
    camera = keyed_camera({1: {"location": (0, -10, 0)}, 16: {"location": (10 * math.tan(math.radians(15)), -10, 0)}})
    assert analyse(camera) == [("pan-right", 0.5)]


def test_pitch_is_tilt() -> None:
    camera = keyed_camera({1: {"rotation_euler": (math.radians(90), 0, 0)},
                           16: {"rotation_euler": (math.radians(75), 0, 0)}})
    assert analyse(camera) == [("tilt-down", 0.5)]
    camera = keyed_camera({1: {"rotation_euler": (math.radians(90), 0, 0)},
                           16: {"rotation_euler": (math.radians(120), 0, 0)}})
    assert analyse(camera) == [("tilt-up", 1.0)]


def test_roll_about_the_view_axis() -> None:
    # The camera looks along +Y: a positive turn about +Y is clockwise as seen through the camera.
    camera = keyed_camera({1: {"rotation_euler": (math.radians(90), 0, 0)},
                           16: {"rotation_euler": (math.radians(90), math.radians(30), 0)}})
    assert analyse(camera) == [("roll-clockwise", 1.0)]
    camera = keyed_camera({1: {"rotation_euler": (math.radians(90), 0, 0)},
                           16: {"rotation_euler": (math.radians(90), math.radians(-15), 0)}})
    assert analyse(camera) == [("roll-anticlockwise", 0.5)]


def test_combined_moves_strongest_first_and_capped() -> None:
    camera = keyed_camera({1: {"location": (0, -10, 0), "rotation_euler": (math.radians(90), 0, 0)},
                           16: {"location": (0, -1, 0), "rotation_euler": (math.radians(90), 0, math.radians(-15))}})
    moves = analyse(camera)
    assert [m for m, _ in moves] == ["zoom-in", "pan-right"]
    assert moves[0][1] == 2.0  # ten times larger: capped at the service's maximum
    assert moves[1][1] == pytest.approx(0.5, abs=0.01)


def test_static_camera_has_no_moves() -> None:
    camera = keyed_camera({1: {"location": (0, -10, 0)}, 16: {"location": (0, -10, 0)}})
    assert analyse(camera) == []


def test_match_scene_camera_fills_the_moves_over_the_preview_range() -> None:
    scene = bpy.context.scene
    keyed_camera({1: {"rotation_euler": (math.radians(90), 0, 0)},
                  31: {"rotation_euler": (math.radians(90), 0, math.radians(60))}})
    scene.frame_end = 31
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 1, 16  # half of the turn
    scene.frame_set(5)
    settings = scene.animatediff
    settings.camera_moves.add().move = "tilt-up"  # replaced, not added to
    assert bpy.ops.animatediff.match_scene_camera() == {"FINISHED"}
    assert [(m.move, round(m.strength, 2)) for m in settings.camera_moves] == [("pan-left", 1.0)]
    assert scene.frame_current == 5  # the analysis put the frame back


def test_match_scene_camera_needs_a_camera() -> None:
    bpy.context.scene.camera = None
    assert not bpy.ops.animatediff.match_scene_camera.poll()

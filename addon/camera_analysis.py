"""Camera moves: the service's vocabulary, and "Match Scene Camera", which reads them off a keyed camera.

The camera's pose at the first and last frame of the range is compared in the first pose's own axes
(a camera looks down its local -Z, +Y is up, +X is right):

- dolly along the view axis, and a change of focal length (or orthographic scale) -> zoom in / out;
- yaw (turning about the camera's up axis), and sideways travel (truck) -> pan left / right;
- pitch (turning about the camera's right axis), and vertical travel (pedestal) -> tilt up / down;
- roll about the view axis -> rolling clockwise / anticlockwise, as seen through the camera.

Moves are named for what the camera does, as the vocabulary's zoom and pan are. Travel becomes an angle
through the subject distance (the camera's focus object, else its focus distance): moving 1 m sideways
past a subject 10 m away looks like turning by atan(1/10). The strength scale is fixed by the three
constants below (strength 1 = the motion a MotionLoRA was trained on, roughly); a move under
`MIN_STRENGTH` is left out and every strength is capped at the service's maximum, 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bpy.types import Object, Scene
from mathutils import Matrix

# The service's vocabulary (models/camera.py CAMERA_MOVES; a test checks the two are equal).
CAMERA_MOVES: tuple[str, ...] = ("zoom-in", "zoom-out", "pan-left", "pan-right", "tilt-up", "tilt-down",
                                 "roll-clockwise", "roll-anticlockwise")
CAMERA_MOVE_LABELS: dict[str, str] = {
    "zoom-in": "Zoom In", "zoom-out": "Zoom Out", "pan-left": "Pan Left", "pan-right": "Pan Right",
    "tilt-up": "Tilt Up", "tilt-down": "Tilt Down", "roll-clockwise": "Roll Clockwise",
    "roll-anticlockwise": "Roll Anticlockwise",
}

ZOOM_FACTOR_AT_STRENGTH_1 = 1.5  # the picture grows by half over the clip
TURN_DEGREES_AT_STRENGTH_1 = 30.0  # pan / tilt over the clip
ROLL_DEGREES_AT_STRENGTH_1 = 30.0
MIN_STRENGTH = 0.05
MAX_STRENGTH = 2.0
DEFAULT_SUBJECT_DISTANCE = 10.0  # metres; Blender's default focus distance


@dataclass(frozen=True)
class CameraPose:
    """What the analysis needs of a camera at one frame."""

    matrix_world: Matrix
    lens: float  # mm (perspective)
    ortho_scale: float
    orthographic: bool
    subject_distance: float  # metres along the view axis to what the camera looks at


@dataclass(frozen=True)
class CameraMotion:
    """The camera's motion between two poses, as it shows in the picture."""

    zoom_factor: float  # > 1: the picture grows (zoom in)
    pan_degrees: float  # > 0: turns right
    tilt_degrees: float  # > 0: turns up
    roll_degrees: float  # > 0: rolls clockwise, as seen through the camera

    def moves(self) -> list[tuple[str, float]]:
        """The vocabulary's moves with strengths, strongest first."""
        found = [
            (("zoom-in" if self.zoom_factor > 1 else "zoom-out"),
             abs(math.log(self.zoom_factor)) / math.log(ZOOM_FACTOR_AT_STRENGTH_1)),
            ("pan-right" if self.pan_degrees > 0 else "pan-left", abs(self.pan_degrees) / TURN_DEGREES_AT_STRENGTH_1),
            ("tilt-up" if self.tilt_degrees > 0 else "tilt-down", abs(self.tilt_degrees) / TURN_DEGREES_AT_STRENGTH_1),
            ("roll-clockwise" if self.roll_degrees > 0 else "roll-anticlockwise",
             abs(self.roll_degrees) / ROLL_DEGREES_AT_STRENGTH_1),
        ]
        kept = [(move, round(min(strength, MAX_STRENGTH), 2)) for move, strength in found if strength >= MIN_STRENGTH]
        return sorted(kept, key=lambda item: -item[1])


def motion_between(first: CameraPose, last: CameraPose) -> CameraMotion:
    """Compare two poses in the first one's axes (see the module docstring for the mapping)."""
    r0 = first.matrix_world.to_3x3().normalized()
    r1 = last.matrix_world.to_3x3().normalized()
    # 'ZXY': roll about the view axis, then pitch, then yaw outermost, like a camera on a tripod head.
    turn = (r0.transposed() @ r1).to_euler("ZXY")
    travel = r0.transposed() @ (last.matrix_world.translation - first.matrix_world.translation)
    distance = max(first.subject_distance, 1e-3)

    dolly = -travel.z  # forward along the view axis
    zoom = distance / max(distance - dolly, distance * 0.01)  # past the subject: as strong as it gets
    if first.orthographic and last.orthographic:
        zoom *= first.ortho_scale / last.ortho_scale
    elif not first.orthographic and not last.orthographic:
        zoom *= last.lens / first.lens
    # A positive turn about +Y swings the view to the left, about +X upwards, about +Z (towards the viewer)
    # anticlockwise as the viewer sees it.
    pan = -math.degrees(turn.y) + math.degrees(math.atan2(travel.x, distance))
    tilt = math.degrees(turn.x) + math.degrees(math.atan2(travel.y, distance))
    roll = -math.degrees(turn.z)
    return CameraMotion(zoom, pan, tilt, roll)


def camera_pose(camera: Object, depsgraph) -> CameraPose:  # noqa: ANN001 - bpy.types.Depsgraph
    """The evaluated camera (animation, constraints, parents applied) at the scene's current frame."""
    evaluated = camera.evaluated_get(depsgraph)
    data = evaluated.data
    matrix = evaluated.matrix_world.copy()
    if data.dof.focus_object is not None:
        to_subject = data.dof.focus_object.evaluated_get(depsgraph).matrix_world.translation - matrix.translation
        forward = -(matrix.to_3x3().normalized().col[2])
        subject = to_subject.dot(forward)
    else:
        subject = data.dof.focus_distance
    return CameraPose(matrix, data.lens, data.ortho_scale, data.type == "ORTHO",
                      subject if subject > 0 else DEFAULT_SUBJECT_DISTANCE)


def frame_range(scene: Scene) -> tuple[int, int]:
    """The scene's frame range, or its preview range when that is on (what the timeline plays)."""
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end
    return scene.frame_start, scene.frame_end


def analyse_camera(scene: Scene, camera: Object, depsgraph, frames: tuple[int, int] | None = None) -> CameraMotion:  # noqa: ANN001
    """The camera's motion over `frames` (default: the scene's range); the current frame is restored."""
    start, end = frames or frame_range(scene)
    current, subframe = scene.frame_current, scene.frame_subframe
    try:
        scene.frame_set(start)
        first = camera_pose(camera, depsgraph)
        scene.frame_set(end)
        last = camera_pose(camera, depsgraph)
    finally:
        scene.frame_set(current, subframe=subframe)
    return motion_between(first, last)

"""Match Scene Camera: fill the camera moves from the scene camera's animation."""

from __future__ import annotations

from bpy.types import Context, Operator

from ..camera_analysis import analyse_camera, frame_range


class ANIMATEDIFF_OT_match_scene_camera(Operator):
    """Read the scene camera's motion over the frame range (dolly and focal length: zoom; yaw: pan; pitch: tilt;
    roll: rolling) and set the camera moves and strengths to match"""

    bl_idname = "animatediff.match_scene_camera"
    bl_label = "Match Scene Camera"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        camera = context.scene.camera if context.scene else None
        if camera is None or camera.type != "CAMERA":
            cls.poll_message_set("The scene has no camera")
            return False
        return True

    def execute(self, context: Context) -> set[str]:
        scene = context.scene
        start, end = frame_range(scene)
        if end <= start:
            self.report({"ERROR"}, f"Frame range: {start}-{end} is not accepted; expected at least two frames")
            return {"CANCELLED"}
        motion = analyse_camera(scene, scene.camera, context.evaluated_depsgraph_get(), (start, end))
        moves = motion.moves()
        settings = scene.animatediff
        settings.camera_moves.clear()
        for move, strength in moves:
            item = settings.camera_moves.add()
            item.move, item.strength = move, strength
        if moves:
            found = ", ".join(f"{move} {strength:g}" for move, strength in moves)
            self.report({"INFO"}, f"Camera {scene.camera.name!r} over frames {start}-{end}: {found}")
        else:
            self.report({"INFO"}, f"Camera {scene.camera.name!r} does not move over frames {start}-{end}: no camera "
                                  "moves")
        return {"FINISHED"}


classes = (ANIMATEDIFF_OT_match_scene_camera,)

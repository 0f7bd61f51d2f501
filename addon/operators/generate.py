"""Generate a clip from the sidebar's settings, and cancel it."""

from __future__ import annotations

from bpy.types import Context, Operator

from .. import generation_job
from ..generation_request import SettingsError, build_request
from ..reference_frames import ReferenceImageError, image_file_bytes, render_current_frame


class ANIMATEDIFF_OT_generate(Operator):
    """Generate an animation with the settings above; the frames are imported when it is done"""

    bl_idname = "animatediff.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        if generation_job.active_job() is not None:
            cls.poll_message_set("A generation is running: wait for it or cancel it")
            return False
        return True

    def execute(self, context: Context) -> set[str]:
        scene, settings = context.scene, context.scene.animatediff
        try:
            request = build_request(settings, scene)
            reference = self._reference(context, request)
        except (SettingsError, ReferenceImageError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        generation_job.start(generation_job.plan_for_scene(context, request, reference))
        return {"FINISHED"}

    @staticmethod
    def _reference(context: Context, request: dict) -> bytes | None:
        """The start frame's picture as file bytes, taken now (it is Blender data); uploaded by the job."""
        settings, scene = context.scene.animatediff, context.scene
        if settings.reference_mode == "IMAGE":
            image = settings.reference_image or _image_in_editor(context)
            if image is None:
                raise ReferenceImageError("Reference Image: none chosen; pick an Image, or set Reference to None")
            return image_file_bytes(image, scene)
        if settings.reference_mode == "RENDER":
            return render_current_frame(scene, request["width"], request["height"])
        return None


def _image_in_editor(context: Context):  # noqa: ANN202 - bpy.types.Image | None
    """The Image shown in an Image Editor of this screen (the "active" image), if any."""
    screen = context.screen
    for area in screen.areas if screen else ():
        if area.type == "IMAGE_EDITOR" and area.spaces.active.image is not None:
            return area.spaces.active.image
    return None


class ANIMATEDIFF_OT_cancel(Operator):
    """Stop the running generation (within one denoising step); nothing is imported"""

    bl_idname = "animatediff.cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        job = generation_job.active_job()
        return job is not None and not job.cancel_requested.is_set()

    def execute(self, context: Context) -> set[str]:
        generation_job.request_cancel()
        return {"FINISHED"}


classes = (ANIMATEDIFF_OT_generate, ANIMATEDIFF_OT_cancel)

"""Generate a clip from the sidebar's settings, and cancel it."""

from __future__ import annotations

from bpy.types import Context, Operator

from .. import generation_job
from ..generation_request import SettingsError, build_request
from ..job_inputs import capture_inputs
from ..reference_frames import ReferenceImageError


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
        try:
            request = build_request(context.scene.animatediff, context.scene)
            # Reference pictures / the frame range, as files: Blender data, so taken now (renders block).
            inputs = capture_inputs(context, request)
        except (SettingsError, ReferenceImageError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        generation_job.start(generation_job.plan_for_scene(context, request, inputs))
        return {"FINISHED"}


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

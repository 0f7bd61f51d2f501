"""Work from an imported clip: generate it again, vary its seed, extend it, or load its settings into the sidebar."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Context, Image, Operator

from .. import generation_job
from ..extend_request import extend_request
from ..generation_request import apply_request, new_seed
from ..settings_error import SettingsError

MODES = [
    ("AGAIN", "Generate Again", "Submit the clip's request again, seed and reference included"),
    ("VARY_SEED", "Vary Seed", "Submit the clip's request with a new random seed"),
]


def _result_image(context: Context, name: str) -> Image | None:
    return bpy.data.images.get(name) if name else context.scene.animatediff.result_image


class ANIMATEDIFF_OT_generate_from_result(Operator):
    """Generate from the parameters stored on an imported clip's Image"""

    bl_idname = "animatediff.generate_from_result"
    bl_label = "Generate from Result"
    bl_options = {"REGISTER"}

    mode: EnumProperty(items=MODES, default="AGAIN")
    image: StringProperty(name="Image", description="Name of the clip's Image (empty: the sidebar's Result)")

    @classmethod
    def description(cls, context: Context, properties) -> str:  # noqa: ANN001 - OperatorProperties
        return dict((m[0], m[2]) for m in MODES)[properties.mode]

    @classmethod
    def poll(cls, context: Context) -> bool:
        if generation_job.active_job() is not None:
            cls.poll_message_set("A generation is running: wait for it or cancel it")
            return False
        return True

    def execute(self, context: Context) -> set[str]:
        image = _result_image(context, self.image)
        if image is None or not image.animatediff.request_json:
            self.report({"ERROR"}, f"Image: {self.image or '(Result)'!r} holds no AnimateDiff parameters; expected "
                                   "an Image imported by AnimateDiff Studio")
            return {"CANCELLED"}
        request = image.animatediff.request
        if self.mode == "VARY_SEED":
            request["seed"] = new_seed()
        generation_job.start(generation_job.plan_for_scene(context, request))
        return {"FINISHED"}


class ANIMATEDIFF_OT_extend_result(Operator):
    """Continue the clip by New Frames frames from its last Overlap frames; the longer clip is imported as a new
    result, from the same start frame"""

    bl_idname = "animatediff.extend_result"
    bl_label = "Extend"
    bl_options = {"REGISTER"}

    image: StringProperty(name="Image", description="Name of the clip's Image (empty: the sidebar's Result)")

    @classmethod
    def poll(cls, context: Context) -> bool:
        return ANIMATEDIFF_OT_generate_from_result.poll(context)

    def execute(self, context: Context) -> set[str]:
        image = _result_image(context, self.image)
        if image is None:
            self.report({"ERROR"}, f"Image: {self.image or '(Result)'!r} is not accepted; expected an Image imported "
                                   "by AnimateDiff Studio")
            return {"CANCELLED"}
        try:
            request = extend_request(image, context.scene.animatediff)
        except SettingsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        plan = generation_job.plan_for_scene(context, request, start_frame=image.animatediff.start_frame)
        generation_job.start(plan)
        return {"FINISHED"}


class ANIMATEDIFF_OT_use_result_settings(Operator):
    """Load the parameters of an imported clip into the sidebar (its reference picture stays with the service)"""

    bl_idname = "animatediff.use_result_settings"
    bl_label = "Use Settings"
    bl_options = {"REGISTER", "UNDO"}

    image: StringProperty(name="Image", description="Name of the clip's Image (empty: the sidebar's Result)")

    def execute(self, context: Context) -> set[str]:
        image = _result_image(context, self.image)
        if image is None or not image.animatediff.request_json:
            self.report({"ERROR"}, f"Image: {self.image or '(Result)'!r} holds no AnimateDiff parameters; expected "
                                   "an Image imported by AnimateDiff Studio")
            return {"CANCELLED"}
        apply_request(context.scene.animatediff, image.animatediff.request)
        return {"FINISHED"}


classes = (ANIMATEDIFF_OT_generate_from_result, ANIMATEDIFF_OT_extend_result, ANIMATEDIFF_OT_use_result_settings)

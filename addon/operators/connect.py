"""Connect to the service and load its model lists."""

from __future__ import annotations

import bpy
from bpy.types import Context, Operator

from .. import model_lists
from ..connection import ServiceSettings, forget
from ..preferences import addon_preferences


class ANIMATEDIFF_OT_connect(Operator):
    """Connect to the AnimateDiff Studio service (starting it if the preferences say so) and load its models"""

    bl_idname = "animatediff.connect"
    bl_label = "Connect"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        if context.window_manager.animatediff.connection == "CONNECTING":
            cls.poll_message_set("Already connecting")
            return False
        return True

    def execute(self, context: Context) -> set[str]:
        forget()  # "Connect" always checks afresh: the service may have been restarted or moved
        model_lists.start_refresh(ServiceSettings.from_preferences(addon_preferences(context), bpy.app.online_access))
        return {"FINISHED"}


classes = (ANIMATEDIFF_OT_connect,)

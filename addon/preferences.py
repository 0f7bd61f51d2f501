"""Add-on preferences: how to reach the AnimateDiff Studio service, or how to start it."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty
from bpy.types import AddonPreferences, Context

# `addon` in the source tree, `bl_ext.<repository>.animatediff_studio` once installed as an extension.
ADDON_ID = __package__


class AnimateDiffPreferences(AddonPreferences):
    """Where the service is. Empty address: the service on this computer, found through its server.json."""

    bl_idname = ADDON_ID

    address: StringProperty(
        name="Service Address",
        description="URL of a running service, e.g. http://127.0.0.1:7865. Leave empty to use the service on this "
                    "computer (found through the server.json it writes), starting it if needed",
        default="",
    )
    token: StringProperty(
        name="Token",
        description="The service's access token. Leave empty to read it from the token file the service keeps in "
                    "your user config folder",
        default="",
        subtype="PASSWORD",
    )
    start_backend: BoolProperty(
        name="Start the Service Automatically",
        description="When no service answers, start one with the program below (it keeps running after Blender "
                    "quits, so the desktop app and later sessions can use it)",
        default=True,
    )
    backend_program: StringProperty(
        name="Backend Program",
        description="The Python that has AnimateDiff Studio installed (e.g. ~/animatediff-studio/.venv/bin/python), "
                    "or its `animatediff-studio` executable. Blender's own Python cannot run the generation",
        default="",
        subtype="FILE_PATH",
    )
    port: IntProperty(
        name="Port",
        description="Port the automatically started service listens on (0: any free port)",
        default=7865, min=0, max=65535,
    )

    def draw(self, context: Context) -> None:
        layout = self.layout
        state = context.window_manager.animatediff
        row = layout.row()
        row.alert = state.connection == "FAILED"
        row.label(text=state.connection_message or "Not connected", icon=_STATUS_ICONS[state.connection])
        row.operator("animatediff.connect", text="Connect", icon="FILE_REFRESH")
        layout.prop(self, "address")
        layout.prop(self, "token")
        col = layout.column()
        col.active = not self.address
        col.prop(self, "start_backend")
        sub = col.column()
        sub.active = self.start_backend
        sub.prop(self, "backend_program")
        sub.prop(self, "port")


_STATUS_ICONS = {"DISCONNECTED": "UNLINKED", "CONNECTING": "SORTTIME", "CONNECTED": "LINKED", "FAILED": "ERROR"}


def addon_preferences(context: Context | None = None) -> AnimateDiffPreferences:
    """This add-on's preferences (registered with the add-on, so always present while it is enabled)."""
    return (context or bpy.context).preferences.addons[ADDON_ID].preferences


def status_icon(connection: str) -> str:
    return _STATUS_ICONS[connection]


classes = (AnimateDiffPreferences,)

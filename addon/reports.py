"""Reports from background work: shown in Blender's status bar and Info log, and kept for the sidebar.

An operator reports through `self.report`; a result that arrives later (in the drain timer) has no
operator to report through, so it runs this small internal operator. Blender raises `RuntimeError` for an
ERROR report of an operator called from Python, after it has recorded the report; that is expected here.
"""

from __future__ import annotations

import contextlib

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Context, Operator

LEVELS = [("INFO", "Info", ""), ("WARNING", "Warning", ""), ("ERROR", "Error", "")]


class ANIMATEDIFF_OT_report(Operator):
    """Show a message from AnimateDiff Studio"""

    bl_idname = "animatediff.report"
    bl_label = "AnimateDiff Report"
    bl_options = {"INTERNAL"}

    level: EnumProperty(items=LEVELS, default="INFO")
    message: StringProperty()

    def execute(self, context: Context) -> set[str]:
        self.report({self.level}, self.message)
        return {"FINISHED"}


def report(level: str, message: str) -> None:
    """Report `message` (INFO, WARNING or ERROR) and keep it as the sidebar's last message. Main thread only."""
    state = bpy.context.window_manager.animatediff
    state.message, state.message_level = message, level
    with contextlib.suppress(RuntimeError):  # an ERROR report raises after it was recorded: nothing to do
        bpy.ops.animatediff.report(level=level, message=message)
    tag_redraw()


def tag_redraw() -> None:
    """Redraw the 3D Viewports (the sidebar) and Preferences, where the state is shown."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "PREFERENCES", "IMAGE_EDITOR"}:
                area.tag_redraw()


classes = (ANIMATEDIFF_OT_report,)

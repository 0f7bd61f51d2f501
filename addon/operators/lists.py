"""Rows of the sidebar's lists: image LoRAs, camera moves and prompt travel; and the seed's dice."""

from __future__ import annotations

from bpy.props import EnumProperty, IntProperty
from bpy.types import Context, Operator

from ..camera_analysis import CAMERA_MOVES
from ..generation_request import new_seed
from ..property_groups.generation_settings import effective_frames

LISTS = [("LORAS", "Image LoRAs", ""), ("CAMERA_MOVES", "Camera Moves", ""), ("PROMPT_AT", "Prompt Travel", "")]
_COLLECTIONS = {"LORAS": ("loras", "active_lora_index"), "CAMERA_MOVES": ("camera_moves", "active_camera_move_index"),
                "PROMPT_AT": ("prompt_at", "active_prompt_at_index")}


class ANIMATEDIFF_OT_list_add(Operator):
    """Add a row"""

    bl_idname = "animatediff.list_add"
    bl_label = "Add"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    list: EnumProperty(items=LISTS)

    def execute(self, context: Context) -> set[str]:
        settings = context.scene.animatediff
        attr, index_attr = _COLLECTIONS[self.list]
        collection = getattr(settings, attr)
        item = collection.add()
        if self.list == "CAMERA_MOVES":  # a move not in the list yet, so the request stays valid
            used = {m.move for m in collection if m != item}
            item.move = next((m for m in CAMERA_MOVES if m not in used), item.move)
        elif self.list == "PROMPT_AT":  # halfway from the last prompt's frame to the clip's end
            frames = effective_frames(settings, context.scene)
            last = max((p.frame for p in collection if p != item), default=0)
            item.frame = max(1, min(frames - 1, last + max(1, (frames - last) // 2)))
        elif len(context.window_manager.animatediff.loras):
            item.model = context.window_manager.animatediff.loras[0].name
        setattr(settings, index_attr, len(collection) - 1)
        return {"FINISHED"}


class ANIMATEDIFF_OT_list_remove(Operator):
    """Remove this row"""

    bl_idname = "animatediff.list_remove"
    bl_label = "Remove"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    list: EnumProperty(items=LISTS)
    index: IntProperty(min=0)

    def execute(self, context: Context) -> set[str]:
        settings = context.scene.animatediff
        attr, index_attr = _COLLECTIONS[self.list]
        collection = getattr(settings, attr)
        if self.index >= len(collection):
            self.report({"ERROR"}, f"index: {self.index} is not accepted; expected 0 to {len(collection) - 1}")
            return {"CANCELLED"}
        collection.remove(self.index)
        setattr(settings, index_attr, max(0, min(getattr(settings, index_attr), len(collection) - 1)))
        return {"FINISHED"}


class ANIMATEDIFF_OT_randomize_seed(Operator):
    """Draw a new random seed"""

    bl_idname = "animatediff.randomize_seed"
    bl_label = "Randomize Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: Context) -> set[str]:
        context.scene.animatediff.seed = new_seed()
        return {"FINISHED"}



classes = (ANIMATEDIFF_OT_list_add, ANIMATEDIFF_OT_list_remove, ANIMATEDIFF_OT_randomize_seed)

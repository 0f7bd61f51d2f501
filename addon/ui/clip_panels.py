"""Sidebar panels for where a clip starts from and how long it can be: Reference (pictures at chosen frames,
first + last frame, SparseCtrl, or the rendered frame range for video-to-video), Long Clip (context
windows, FreeNoise, FreeInit) and Prompt Travel."""

from __future__ import annotations

from bpy.types import Context, Panel

from ..property_groups.generation_settings import effective_frames, range_frames
from .sidebar import SidebarPanel

# Without windows a clip must fit the motion module: 24 frames for v1 modules, 32 for v2/v3.
SHORTEST_MODULE_FRAMES = 24


class VIEW3D_PT_animatediff_reference(SidebarPanel, Panel):
    bl_label = "Reference"
    bl_parent_id = "VIEW3D_PT_animatediff"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        state, scene, settings = context.window_manager.animatediff, context.scene, context.scene.animatediff
        mode = settings.reference_mode
        layout.prop(settings, "reference_mode", text="Source")
        if mode == "RANGE":
            frames = range_frames(scene)
            text = f"Frames {frames[0]}-{frames[-1]}: {len(frames)} rendered" if frames else "The frame range is empty"
            layout.label(text=text, icon="RENDER_ANIMATION")
            layout.prop(settings, "reference_strength", slider=True)
            return
        if mode == "NONE":
            return
        if mode == "IMAGE":
            layout.template_ID(settings, "reference_image", open="image.open")
        layout.prop(settings, "reference_frame")
        layout.prop(settings, "end_reference_mode")
        if settings.end_reference_mode == "IMAGE":
            layout.template_ID(settings, "end_reference_image", open="image.open")
        layout.prop_search(settings, "sparsectrl", state, "sparsectrl_models")
        if settings.sparsectrl:  # the whole schedule runs: the pictures condition instead of starting the clip
            layout.prop(settings, "sparsectrl_weight", slider=True)
        else:
            layout.prop(settings, "reference_strength", slider=True)


class VIEW3D_PT_animatediff_long_clip(SidebarPanel, Panel):
    bl_label = "Long Clip"
    bl_parent_id = "VIEW3D_PT_animatediff"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        settings = context.scene.animatediff
        layout.prop(settings, "context_length")
        windows = layout.column()
        windows.active = settings.context_length > 0
        windows.prop(settings, "context_overlap")
        windows.prop(settings, "context_weighting")
        windows.prop(settings, "closed_loop")
        windows.prop(settings, "free_noise")
        layout.prop(settings, "free_init")
        frames = effective_frames(settings, context.scene)
        if not settings.context_length and frames > SHORTEST_MODULE_FRAMES:
            layout.label(text=f"{frames} frames may not fit the module: set a Context Length (16)", icon="INFO")


class VIEW3D_PT_animatediff_prompt_travel(SidebarPanel, Panel):
    bl_label = "Prompt Travel"
    bl_parent_id = "VIEW3D_PT_animatediff"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        settings = context.scene.animatediff
        if not len(settings.prompt_at):
            layout.label(text="The prompt holds from frame 0; add prompts for later frames")
        for i, item in enumerate(settings.prompt_at):
            row = layout.row(align=True)
            row.prop(item, "frame", text="")
            row.prop(item, "prompt", text="")
            remove = row.operator("animatediff.list_remove", text="", icon="X")
            remove.list, remove.index = "PROMPT_AT", i
        layout.operator("animatediff.list_add", text="Add Prompt", icon="ADD").list = "PROMPT_AT"

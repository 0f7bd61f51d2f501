"""The 3D Viewport sidebar tab "AnimateDiff": a main panel (prompt, Generate, progress, preview) and
sub-panels for models, sampling, camera motion, the import and the last result (clip_panels.py: the
reference, long clips, prompt travel)."""

from __future__ import annotations

import textwrap

import bpy
from bpy.types import Context, Panel, UILayout

from ..preferences import status_icon
from ..property_groups.generation_settings import effective_frames, scene_fps, scene_size

PHASE_LABELS = {"uploading": "Uploading", "queued": "Queued", "loading": "Loading models",
                "encoding": "Encoding prompt",
                "denoising": "Denoising", "decoding": "Decoding frames", "downloading": "Downloading frames"}
MESSAGE_ICONS = {"INFO": "INFO", "WARNING": "ERROR", "ERROR": "CANCEL"}


class SidebarPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "AnimateDiff"


class VIEW3D_PT_animatediff(SidebarPanel, Panel):
    bl_label = "AnimateDiff"

    def draw(self, context: Context) -> None:
        layout = self.layout
        state, settings = context.window_manager.animatediff, context.scene.animatediff
        row = layout.row(align=True)
        row.alert = state.connection == "FAILED"
        row.label(text=dict(_CONNECTION_LABELS)[state.connection], icon=status_icon(state.connection))
        row.operator("animatediff.connect", text="", icon="FILE_REFRESH")

        col = layout.column(align=True)
        col.label(text="Prompt")
        col.prop(settings, "prompt", text="")
        col.label(text="Negative Prompt")
        col.prop(settings, "negative_prompt", text="")

        row = layout.row()
        row.scale_y = 1.5
        if state.job_active:
            row.operator("animatediff.cancel", icon="CANCEL")
        else:
            row.operator("animatediff.generate", icon="RENDER_ANIMATION")
        if state.job_status != "IDLE":
            draw_progress(layout, state)
        preview = bpy.data.images.get(state.preview_image) if state.preview_image else None
        if preview is not None and preview.preview is not None and state.job_active:
            layout.template_icon(icon_value=preview.preview.icon_id, scale=6.0)
        if state.message:
            draw_message(layout, context, state.message, state.message_level)


_CONNECTION_LABELS = (("DISCONNECTED", "Not connected"), ("CONNECTING", "Connecting..."),
                      ("CONNECTED", "Connected"), ("FAILED", "Service unavailable"))


def draw_progress(layout: UILayout, state) -> None:  # noqa: ANN001 - AnimateDiffState
    status = state.job_status
    if status in {"SUBMITTING", "QUEUED", "RUNNING", "DOWNLOADING"}:
        text = PHASE_LABELS.get(state.phase, status.title())
        if state.phase in ("denoising", "uploading") and state.total_steps:
            text = f"{text} {state.step}/{state.total_steps}"
        if state.cancel_requested:
            text = f"Cancelling... ({text})"
    else:
        text = status.title()
    layout.progress(factor=state.progress, type="BAR", text=text)


def draw_message(layout: UILayout, context: Context, message: str, level: str) -> None:
    """A report, wrapped to the sidebar's width (labels do not wrap by themselves)."""
    box = layout.box()
    box.alert = level == "ERROR"
    region = getattr(context, "region", None)
    width = max(20, int(region.width / 7)) if region is not None and region.width > 0 else 40
    for i, line in enumerate(textwrap.wrap(message, width)):
        box.label(text=line, icon=MESSAGE_ICONS[level] if i == 0 else "BLANK1")


class VIEW3D_PT_animatediff_models(SidebarPanel, Panel):
    bl_label = "Models"
    bl_parent_id = "VIEW3D_PT_animatediff"

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        state, settings = context.window_manager.animatediff, context.scene.animatediff
        layout.prop_search(settings, "base", state, "checkpoints", icon="FILE_3D")
        layout.prop_search(settings, "motion_module", state, "motion_modules", icon="ANIM")
        layout.prop_search(settings, "domain_adapter", state, "domain_adapters")
        if settings.domain_adapter:
            layout.prop(settings, "domain_adapter_weight")
        header = layout.row()
        header.label(text="Image LoRAs")
        header.operator("animatediff.list_add", text="", icon="ADD").list = "LORAS"
        for i, lora in enumerate(settings.loras):
            row = layout.row(align=True)
            row.use_property_split = False
            row.prop_search(lora, "model", state, "loras", text="")
            row.prop(lora, "weight", text="")
            remove = row.operator("animatediff.list_remove", text="", icon="X")
            remove.list, remove.index = "LORAS", i


class VIEW3D_PT_animatediff_sampling(SidebarPanel, Panel):
    bl_label = "Sampling"
    bl_parent_id = "VIEW3D_PT_animatediff"

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        scene, settings = context.scene, context.scene.animatediff
        row = layout.row(align=True)
        seed = row.row(align=True)
        seed.active = not settings.use_random_seed
        seed.prop(settings, "seed")
        row.prop(settings, "use_random_seed", text="", icon="FILE_REFRESH")
        row.operator("animatediff.randomize_seed", text="", icon="SORTBYEXT")
        layout.prop(settings, "steps")
        layout.prop(settings, "guidance")
        if settings.reference_mode == "RANGE":
            layout.label(text=f"{effective_frames(settings, scene)} frames (the rendered frame range)")
        else:
            layout.prop(settings, "frames")
        layout.prop(settings, "scheduler")
        layout.prop(settings, "deep_cache")
        layout.prop(settings, "use_scene_size")
        if settings.use_scene_size:
            width, height = scene_size(scene)
            layout.label(text=f"{width} x {height} px (scene)")
        else:
            col = layout.column(align=True)
            col.prop(settings, "width", text="Width")
            col.prop(settings, "height", text="Height")
        layout.prop(settings, "use_scene_fps")
        if settings.use_scene_fps:
            layout.label(text=f"{scene_fps(scene)} fps (scene)")
        else:
            layout.prop(settings, "fps")


class VIEW3D_PT_animatediff_camera(SidebarPanel, Panel):
    bl_label = "Camera Motion"
    bl_parent_id = "VIEW3D_PT_animatediff"

    def draw(self, context: Context) -> None:
        layout = self.layout
        settings = context.scene.animatediff
        for i, item in enumerate(settings.camera_moves):
            row = layout.row(align=True)
            row.prop(item, "move", text="")
            row.prop(item, "strength", text="")
            remove = row.operator("animatediff.list_remove", text="", icon="X")
            remove.list, remove.index = "CAMERA_MOVES", i
        row = layout.row(align=True)
        row.operator("animatediff.list_add", text="Add Move", icon="ADD").list = "CAMERA_MOVES"
        row.operator("animatediff.match_scene_camera", icon="CAMERA_DATA")


class VIEW3D_PT_animatediff_import(SidebarPanel, Panel):
    bl_label = "Import"
    bl_parent_id = "VIEW3D_PT_animatediff"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        settings = context.scene.animatediff
        layout.prop(settings, "output_directory", text="")
        col = layout.column(heading="Import as")
        col.prop(settings, "import_camera_background")
        col.prop(settings, "import_plane")
        col.prop(settings, "import_strip")
        col = layout.column(heading="Scene")
        col.prop(settings, "set_scene_fps")
        col.prop(settings, "set_frame_range")


class VIEW3D_PT_animatediff_result(SidebarPanel, Panel):
    bl_label = "Result"
    bl_parent_id = "VIEW3D_PT_animatediff"

    def draw(self, context: Context) -> None:
        layout = self.layout
        settings = context.scene.animatediff
        layout.template_ID(settings, "result_image")
        image = settings.result_image
        if image is None:
            layout.label(text="Generate, or pick an imported clip")
            return
        info = image.animatediff
        layout.label(text=f"{info.frames} frames at {info.fps} fps from frame {info.start_frame}, seed {info.seed}")
        row = layout.row(align=True)
        again = row.operator("animatediff.generate_from_result", text="Generate Again", icon="FILE_REFRESH")
        again.mode, again.image = "AGAIN", image.name
        vary = row.operator("animatediff.generate_from_result", text="Vary Seed", icon="SORTBYEXT")
        vary.mode, vary.image = "VARY_SEED", image.name
        layout.operator("animatediff.use_result_settings", icon="IMPORT").image = image.name
        row = layout.row(align=True)
        row.prop(settings, "extend_frames", text="New")
        row.prop(settings, "extend_overlap", text="Overlap")
        row.operator("animatediff.extend_result", text="Extend", icon="FORWARD").image = image.name


# The order in which they are registered is the order in which the sidebar shows them (ui/__init__.py).

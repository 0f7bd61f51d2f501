"""The add-on's user interface: the 3D Viewport sidebar tab (preferences draw themselves)."""

from . import clip_panels, sidebar

# Registration order is the order the sidebar shows the sub-panels in.
classes = (
    sidebar.VIEW3D_PT_animatediff,
    sidebar.VIEW3D_PT_animatediff_models,
    sidebar.VIEW3D_PT_animatediff_sampling,
    sidebar.VIEW3D_PT_animatediff_camera,
    clip_panels.VIEW3D_PT_animatediff_reference,
    clip_panels.VIEW3D_PT_animatediff_long_clip,
    clip_panels.VIEW3D_PT_animatediff_prompt_travel,
    sidebar.VIEW3D_PT_animatediff_import,
    sidebar.VIEW3D_PT_animatediff_result,
)

"""Blender data the add-on adds: Scene settings, Image results, and the session's live state."""

import bpy
from bpy.props import PointerProperty

from . import generation_settings, result_info, runtime_state

classes = (*generation_settings.classes, *result_info.classes, *runtime_state.classes)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.animatediff = PointerProperty(type=generation_settings.AnimateDiffSettings)
    bpy.types.Image.animatediff = PointerProperty(type=result_info.AnimateDiffResult)
    bpy.types.WindowManager.animatediff = PointerProperty(type=runtime_state.AnimateDiffState)


def unregister() -> None:
    del bpy.types.WindowManager.animatediff
    del bpy.types.Image.animatediff
    del bpy.types.Scene.animatediff
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

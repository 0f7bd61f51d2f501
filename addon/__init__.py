"""AnimateDiff Studio for Blender: animate your SD1.5 models from the 3D Viewport's sidebar.

The add-on is a thin client of the AnimateDiff Studio service (`animatediff-studio serve`), which owns the
GPU: it uses Blender's Python standard library only, never torch. Layout:

    preferences.py          how to reach or start the service
    property_groups/        Scene.animatediff (settings), Image.animatediff (a clip's parameters),
                            WindowManager.animatediff (connection, model lists, job progress)
    operators/              animatediff.connect, .generate, .cancel, .generate_from_result, ...
    ui/                     the "AnimateDiff" tab: sidebar.py, clip_panels.py (reference, long clip, prompt travel)
    connection.py, model_lists.py, generation_job.py, background.py
                            talking to the service off the main thread
    generation_request.py   settings -> request (reference_request.py, long_clip_request.py, extend_request.py)
    job_inputs.py           reference pictures / the rendered frame range (frame_range.py), uploaded by the job
    camera_analysis.py      "Match Scene Camera"; result_import.py: the clip into the scene
    service_client.py       where the one client module (backend/client.py) comes from
"""

from __future__ import annotations

import bpy

from . import background, generation_job, operators, preferences, property_groups, reports, ui
from .connection import forget

_classes = (*preferences.classes, *reports.classes, *operators.classes, *ui.classes)


def register() -> None:
    property_groups.register()
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    # Threads and the drain timer first: nothing may call into classes that are about to go.
    background.shutdown()
    generation_job.forget_active()
    forget()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
    property_groups.unregister()

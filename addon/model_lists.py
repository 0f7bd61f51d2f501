"""The service's model lists in the sidebar: fetched in a thread, stored in `WindowManager.animatediff`.

Kinds are asked for by the store folder names (`checkpoints`, `motion-modules`, ...), which the service
keeps accepting as aliases however it classifies models; a model is sent in a request by its `name`.
"""

from __future__ import annotations

import threading
import traceback
from typing import TYPE_CHECKING

import bpy

from . import background
from .connection import ServiceSettings, ServiceUnavailable, describe_error, forget, get_client
from .reports import report, tag_redraw
from .service_client import client_module

if TYPE_CHECKING:
    from .service_client import ModelFile

# service kind -> WindowManager.animatediff collection
KIND_COLLECTIONS: dict[str, str] = {
    "checkpoints": "checkpoints",
    "motion-modules": "motion_modules",
    "loras": "loras",
    "domain-adapters": "domain_adapters",
    "motion-loras": "motion_loras",
    "sparsectrl": "sparsectrl_models",
}


def start_refresh(settings: ServiceSettings) -> None:
    """Connect (starting the service if the preferences say so) and load the model lists, off the main thread."""
    state = bpy.context.window_manager.animatediff
    state.connection, state.connection_message = "CONNECTING", "Connecting..."
    background.start("connect", lambda stop: _fetch(settings, stop))


def _fetch(settings: ServiceSettings, stop: threading.Event) -> None:
    url = settings.address or None
    try:
        service = get_client(settings)
        url = service.base_url
        health = service.health()
        models = {kind: service.models(kind=kind) for kind in KIND_COLLECTIONS}
    except Exception as exc:  # a thread's boundary: every failure becomes a report, never a lost traceback
        if not isinstance(exc, (client_module().ApiError, ServiceUnavailable, OSError)):
            traceback.print_exc()  # not the service's doing: keep the details in the console
        if not isinstance(exc, client_module().ApiError):
            forget()
        message = describe_error(exc, url)
        background.call_on_main(lambda: _failed(message))
        return
    summary = f"Connected to {service.base_url} (AnimateDiff Studio {health.version}, {health.device})"
    background.call_on_main(lambda: apply_models(models, summary))


def apply_models(models: dict[str, list[ModelFile]], summary: str) -> None:
    """Fill the lists; a scene with no model chosen yet gets the first of each required kind."""
    state = bpy.context.window_manager.animatediff
    for kind, attr in KIND_COLLECTIONS.items():
        collection = getattr(state, attr)
        collection.clear()
        for model in models.get(kind, []):
            item = collection.add()
            item.name, item.kind, item.path = model.name, model.kind, model.path
            item.size_mb = model.size_bytes / 1e6
    state.connection, state.connection_message = "CONNECTED", summary
    settings = bpy.context.scene.animatediff
    if not settings.base and len(state.checkpoints):
        settings.base = state.checkpoints[0].name
    if not settings.motion_module and len(state.motion_modules):
        settings.motion_module = state.motion_modules[0].name
    tag_redraw()
    counts = ", ".join(f"{len(getattr(state, attr))} {kind}" for kind, attr in KIND_COLLECTIONS.items())
    report("INFO", f"{summary}: {counts}")


def _failed(message: str) -> None:
    state = bpy.context.window_manager.animatediff
    state.connection, state.connection_message = "FAILED", message
    report("ERROR", message)

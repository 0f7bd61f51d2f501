"""The one client of the AnimateDiff Studio service, from wherever this copy of the add-on finds it.

There is a single committed copy: `backend/client.py` (standard library only). `animatediff-studio
build-addon` writes it into the extension zip as `vendor/client.py`, so an installed add-on is
self-contained. The source tree has no `vendor/` folder: run from the repository (the tests put its root
on `sys.path`), the add-on imports the repository's own `backend.client` instead. Nothing else in the
add-on imports the client module directly.

The module is imported on first use, not with the add-on: it pulls in `http.client`, `email`, `ssl` and
`subprocess`, which would add 0.1-0.2 s to every Blender start for an add-on that may not be used.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from backend.client import ApiError, BackendStartError, Client, JobEvent, ModelFile  # noqa: F401

_module: ModuleType | None = None


def client_module() -> ModuleType:
    """The client module: the zip's vendored copy, else the repository's `backend.client`."""
    global _module
    if _module is None:
        try:
            _module = importlib.import_module(".vendor.client", __package__)
        except ModuleNotFoundError:
            _module = importlib.import_module("backend.client")
    return _module

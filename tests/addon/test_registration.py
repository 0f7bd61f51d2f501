"""The add-on registers and unregisters cleanly (twice), imports fast without torch, and its manifest is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bpy
import pytest

from tests.addon.conftest import ADDON, BLENDER_EXT, REPO, disable_addon, enable_addon


def _registered() -> dict[str, bool]:
    return {
        "scene settings": hasattr(bpy.types.Scene, "animatediff"),
        "image results": hasattr(bpy.types.Image, "animatediff"),
        "session state": hasattr(bpy.types.WindowManager, "animatediff"),
        "generate operator": hasattr(bpy.types, "ANIMATEDIFF_OT_generate"),
        "sidebar panel": hasattr(bpy.types, "VIEW3D_PT_animatediff"),
        "preferences": ADDON in bpy.context.preferences.addons,
    }


def test_register_unregister_twice() -> None:
    from addon import background

    assert all(_registered().values()), _registered()
    for _ in range(2):
        disable_addon()
        assert not any(_registered().values()), _registered()
        assert not bpy.app.timers.is_registered(background.drain)
        enable_addon()
        assert all(_registered().values()), _registered()
        # Registered classes work after a re-enable: a setting round-trips and an operator runs.
        bpy.context.scene.animatediff.prompt = "a lighthouse"
        assert bpy.context.scene.animatediff.prompt == "a lighthouse"
        assert bpy.ops.animatediff.randomize_seed() == {"FINISHED"}


def test_unregister_removes_the_timer_and_stops_threads() -> None:
    """A drain timer left registered hangs bpy 4.5 at exit; a thread left running would call into a dead add-on."""
    import threading

    from addon import background

    release = threading.Event()
    seen_stop = threading.Event()

    def work(stop: threading.Event) -> None:
        while not stop.wait(0.05):
            if release.is_set():
                return
        seen_stop.set()

    thread = background.start("test", work)
    assert bpy.app.timers.is_registered(background.drain)
    disable_addon()
    try:
        assert not bpy.app.timers.is_registered(background.drain)
        assert not thread.is_alive() and seen_stop.is_set()
    finally:
        release.set()
        enable_addon()


def test_import_is_fast_and_needs_no_torch() -> None:
    """Blender's Python has no torch: the add-on imports without it, and quickly (the client loads on first use)."""
    code = ("import sys, time; import bpy; t = time.perf_counter(); import addon; "
            "print(time.perf_counter() - t); "
            "print(sorted(m for m in ('torch', 'diffusers', 'PIL', 'http.client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seconds, heavy = out.stdout.strip().splitlines()[-2:]
    assert heavy == "[]"
    # ~0.06 s with bytecode caches on an idle machine; the bound leaves room for a loaded CI runner that compiles.
    assert float(seconds) < 0.5, f"importing the add-on took {seconds} s"


def test_manifest_is_valid_for_blender() -> None:
    """Blender's own extension tool (shipped in the bpy wheel) accepts the manifest."""
    out = subprocess.run([sys.executable, str(BLENDER_EXT), "validate", str(REPO / "addon")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Success" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("module", ["addon.service_client"])
def test_source_tree_uses_the_repository_client(module: str) -> None:
    """No second copy of the client in the tree: from the source tree the add-on uses backend/client.py itself."""
    import importlib

    service_client = importlib.import_module(module)
    assert Path(service_client.client_module().__file__).resolve() == REPO / "backend" / "client.py"
    assert not (REPO / "addon" / "vendor").exists()

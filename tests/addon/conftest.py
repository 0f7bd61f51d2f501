"""The add-on's tests: real `bpy` (Blender 4.5 LTS as a Python module), a real service on loopback.

Run in `.venv-blender` (no torch there, as in Blender). The service runs in the backend's interpreter,
`ANIMATEDIFF_STUDIO_BACKEND_PYTHON` (scripts/test.sh sets it), which also builds the tiny models.
Traps handled here (../shared/TESTING-NOTES.md): Blender user folders point at a temporary home before
`bpy` is imported; `bpy.app.timers` never fire in the module, so tests call `background.drain()` until it
returns None; a timer left registered hangs bpy 4.5 at exit, so the session ends by disabling the add-on.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADDON = "addon"  # the package's module name when enabled from the source tree
_HOME = Path(tempfile.mkdtemp(prefix="ads-blender-home-"))
for _var, _sub in (("BLENDER_USER_RESOURCES", "resources"), ("XDG_CONFIG_HOME", "config"),
                   ("XDG_CACHE_HOME", "cache")):
    os.environ[_var] = str(_HOME / _sub)

import bpy  # noqa: E402, I001 - after the environment above: Blender reads it on import
import addon_utils  # noqa: E402 - Blender's module, importable once bpy is

from backend.client import Client, ensure_backend  # noqa: E402 - the repository's client, to run the service


# Blender's own extension tool (build, validate), shipped in the bpy wheel.
BLENDER_EXT = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def _raise(exc: BaseException) -> None:
    raise exc


def enable_addon():  # noqa: ANN201 - the add-on's module
    """Enable as Blender does (from the source tree), re-raising errors the default handler would swallow."""
    return addon_utils.enable(ADDON, default_set=True, handle_error=_raise)


def disable_addon() -> None:
    addon_utils.disable(ADDON, default_set=True, handle_error=_raise)


def backend_python() -> str:
    python = os.environ.get("ANIMATEDIFF_STUDIO_BACKEND_PYTHON") or str(REPO / ".venv" / "bin" / "python")
    if not Path(python).is_file():
        pytest.fail(f"ANIMATEDIFF_STUDIO_BACKEND_PYTHON: {python!r} is not a file; point it at the backend's "
                    "interpreter (.venv/bin/python, see scripts/test.sh)")
    return python


def backend_env() -> dict[str, str]:
    # One torch thread: on a 2-core runner shared with pytest, two OpenMP threads spin against each other.
    return {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@dataclass
class Service:
    """A real `serve --port 0` process with its own data/config folders and tiny models in its store."""

    client: Client
    data_dir: Path
    config_dir: Path
    camera_moves: list[str]
    files: dict[str, str]

    @property
    def url(self) -> str:
        return self.client.base_url

    @property
    def token(self) -> str:
        return (self.config_dir / "token").read_text().strip()


def start_service(root: Path, fill_store: bool = True) -> tuple[Client, dict]:
    data_dir, config_dir = root / "data", root / "config"
    info: dict = {"camera_moves": [], "models": {}}
    if fill_store:
        out = subprocess.run([backend_python(), str(Path(__file__).with_name("backend_store.py")), str(data_dir)],
                             cwd=REPO, env={**os.environ, **backend_env()}, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        info = json.loads(out.stdout.strip().splitlines()[-1])
    client = ensure_backend(command=[backend_python(), "-m", "backend.cli", "serve", "--port", "0"],
                            data_dir=data_dir, config_dir=config_dir, env=backend_env(), start_timeout=120)
    return client, info


def stop_process(client: Client) -> None:
    proc = client.process
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory):
    """One service for the whole session (its worker keeps the tiny pipeline warm between jobs)."""
    root = tmp_path_factory.mktemp("service")
    client, info = start_service(root)
    yield Service(client, root / "data", root / "config", info["camera_moves"], info["models"])
    stop_process(client)


@pytest.fixture(scope="session")
def addon_module():
    """The add-on enabled from the source tree, as Blender enables an add-on (errors re-raised)."""
    yield enable_addon()
    disable_addon()


@pytest.fixture(autouse=True)
def fresh_blender(addon_module):  # noqa: ANN001 - the add-on's module
    """Factory startup file (cube, camera, light) and clean add-on state before every test."""
    bpy.ops.wm.read_homefile(use_factory_startup=True)
    from addon import connection, generation_job

    connection.forget()
    generation_job.forget_active()
    state = bpy.context.window_manager.animatediff
    for prop in ("connection", "connection_message", "job_status", "job_id", "phase", "step", "total_steps",
                 "progress", "cancel_requested", "preview_image", "message", "message_level"):
        state.property_unset(prop)
    for attr in ("checkpoints", "motion_modules", "loras", "domain_adapters", "motion_loras", "sparsectrl_models"):
        getattr(state, attr).clear()
    prefs = bpy.context.preferences.addons[ADDON].preferences
    for prop in ("address", "token", "start_backend", "backend_program", "port"):
        prefs.property_unset(prop)
    yield addon_module
    drive(timeout=60)  # a test never leaves work running into the next one


@pytest.fixture
def connected(service: Service) -> Service:
    """Preferences pointing at the session's service (address and token), as a user would set them."""
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.address, prefs.token = service.url, service.token
    return service


def drive(timeout: float = 120.0) -> int:
    """Do what Blender's timer loop would: call `drain()` until it returns None. Returns the number of calls."""
    from addon import background

    deadline, calls = time.monotonic() + timeout, 0
    while True:
        calls += 1
        if background.drain() is None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"background work still running after {timeout} s")
        time.sleep(0.02)
    if bpy.app.timers.is_registered(background.drain):  # Blender drops a timer that returned None
        bpy.app.timers.unregister(background.drain)
    return calls


def quick_settings(scene: bpy.types.Scene, **overrides) -> None:  # noqa: ANN003
    """Sidebar settings for a fast job on the tiny models (64x64, 4 frames, 2 steps)."""
    settings = scene.animatediff
    values = dict(prompt="a red ball bouncing", base="tiny_base", motion_module="tiny_mm", frames=4, steps=2,
                  use_random_seed=False, seed=7, use_scene_size=False, use_scene_fps=False, fps=8, deep_cache=0)
    values.update(overrides)
    for name, value in values.items():
        setattr(settings, name, value)
    if "width" not in overrides:
        settings.width = 64
    if "height" not in overrides:
        settings.height = 64


def generate(**import_options: bool) -> dict:
    """Press Generate, let the timer loop run until the job is done; returns the job state as a dict."""
    settings = bpy.context.scene.animatediff
    for name, value in import_options.items():
        setattr(settings, name, value)
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    drive()
    state = bpy.context.window_manager.animatediff
    return {"status": state.job_status, "job_id": state.job_id, "message": state.message,
            "level": state.message_level, "progress": state.progress}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Never leave a timer registered: bpy 4.5 would hang at interpreter exit."""
    if ADDON in bpy.context.preferences.addons:
        addon_utils.disable(ADDON, default_set=True)

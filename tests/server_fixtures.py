"""Shared pieces of the server tests: tiny model files (built once) and real service processes.

Each test module wraps `session_server()` in its own session fixture; the process is started once per
pytest run (module-level cache) and stopped at exit, so all server tests share one warm worker.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from backend.client import Client, ensure_backend

REPO = Path(__file__).resolve().parents[1]
BASE_NAME, MOTION_NAME = "tiny_base", "tiny_mm"
_models_dir: Path | None = None
_session: ServiceProcess | None = None


def tiny_models_dir() -> Path:
    """A folder with `tiny_base.safetensors` (CivitAI-style single file) and `tiny_mm.ckpt` (original layout)."""
    global _models_dir
    if _models_dir is None:
        from models.testing.tiny_base import build_tiny_base, save_single_file
        from models.testing.tiny_motion import build_tiny_motion_adapter, save_motion_module

        folder = Path(tempfile.mkdtemp(prefix="ads-models-"))
        save_single_file(build_tiny_base(0), folder / f"{BASE_NAME}.safetensors")
        save_motion_module(build_tiny_motion_adapter(0), folder / f"{MOTION_NAME}.ckpt", layout="original")
        _models_dir = folder
    return _models_dir


def tiny_request(**overrides: Any) -> dict[str, Any]:
    """A request that runs in well under a second on CPU once the pipeline is cached."""
    body: dict[str, Any] = {"prompt": "a red ball bouncing", "base": BASE_NAME, "motion_module": MOTION_NAME,
                            "width": 64, "height": 64, "frames": 4, "steps": 2, "guidance": 7.5, "seed": 1}
    body.update(overrides)
    return body


@dataclass
class ServiceProcess:
    """A real `serve --port 0` process with its own data and config folders."""

    root: Path
    env: dict[str, str]
    client: Client | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def start(self) -> Client:
        env = {"HF_HUB_OFFLINE": "1", "ANIMATEDIFF_STUDIO_MODEL_DIRS": str(tiny_models_dir()),
               "PYTHONPATH": str(REPO),
               # One torch thread: on a 2-core CI runner shared with pytest, two OpenMP threads spin against
               # each other and a tiny denoising step goes from ~0.2 s to ~3 s.
               "OMP_NUM_THREADS": "1", **self.env}
        self.client = ensure_backend(command=[sys.executable, "-m", "backend.cli", "serve", "--port", "0"],
                                     data_dir=self.data_dir, config_dir=self.config_dir, env=env, start_timeout=60)
        return self.client

    @property
    def pid(self) -> int:
        assert self.client is not None and self.client.process is not None
        return self.client.process.pid

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.client.process.wait(10)

    def stop(self) -> None:
        proc = self.client.process if self.client else None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except Exception:
                proc.kill()
                proc.wait(5)


def new_service(env: dict[str, str] | None = None) -> ServiceProcess:
    service = ServiceProcess(Path(tempfile.mkdtemp(prefix="ads-service-")), env or {})
    service.start()
    return service


def session_server() -> ServiceProcess:
    """The service shared by all server tests of this pytest run."""
    global _session
    if _session is None:
        _session = new_service()
        atexit.register(_session.stop)
    return _session


def clip_folder(folder: Path) -> Path:
    """Two 8-frame GIF clips of a square moving right, with captions, and a file that is no clip at all."""
    folder.mkdir()
    for n in range(2):
        frames = []
        for t in range(8):
            image = Image.new("RGB", (64, 64), (10, 10, 40))
            image.paste((220, 60 + 80 * n, 40), (8 + 5 * t, 24, 24 + 5 * t, 40))
            frames.append(image)
        frames[0].save(folder / f"clip{n}.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
        (folder / f"clip{n}.txt").write_text("a square moving right")
    (folder / "broken.mp4").write_text("not a video")
    return folder

"""`animatediff-studio desktop --selftest DIR`: the whole app against a real backend, unattended.

Connects (or starts the backend), lists the models, fills the Generate view with the first checkpoint and
motion module of the store, runs one short generation (64x64, 4 frames, 2 steps) through the Generate button,
waits for the player to hold the frames, saves a screenshot of every view to DIR and quits with 0. Any step
that fails quits with 1 and says which. The same flag checks a PyInstaller build (missing modules, plugins).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from backend.client import Job
from desktop.main_window import TABS, MainWindow
from desktop.model_catalog import group_of

SELFTEST_REQUEST = {"prompt": "a lighthouse in a storm, waves crashing (self-test)", "width": 64, "height": 64,
                    "frames": 4, "steps": 2, "seed": 1}


def save_view(window: MainWindow, name: str, folder: Path) -> Path:
    """Show one view and save a screenshot of the whole window as `<folder>/<n>-<name>.png`."""
    window.show_view(name)
    QApplication.processEvents()
    path = folder / f"{TABS.index(name) + 1}-{name}.png"
    if not window.grab().save(str(path)):
        raise OSError(f"could not write the screenshot {path}")
    return path


class SelfTest(QObject):
    """Drives `window` step by step from its signals; `exit_code` is set when it ends (the app quits)."""

    def __init__(self, window: MainWindow, folder: Path, timeout_s: float) -> None:
        super().__init__(window)
        self.window, self.folder = window, folder
        self.exit_code: int | None = None
        self.job_id: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:.0f} s"))
        self._timer.start(int(timeout_s * 1000))

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._say(f"writing screenshots to {self.folder}")
        self.window.link.changed.connect(self._on_backend)
        self.window.models.models_changed.connect(self._on_models)
        self.window.generate.submitted.connect(self._on_submitted)
        self.window.generate.rejected.connect(lambda reason: self._fail(f"the service refused the job: {reason}"))
        self.window.watch.job_ended.connect(self._on_job_ended)
        self.window.watch.frames_loaded.connect(self._on_frames)
        self.window.start()

    def _on_backend(self, state: str, text: str) -> None:
        self._say(f"backend: {state}: {text}")
        if state == "failed":
            self._fail(f"the backend is not available: {text}")

    def _on_models(self) -> None:
        if self.job_id is not None or self.exit_code is not None:
            return
        models = self.window.models.models
        # `group_of`: the service names kinds by store folder or, with the model manager, by detected kind.
        base = next((m for m in models if m.kind in ("checkpoints", "sd15-base")), None)
        motion = next((m for m in models if group_of(m.kind) == "motion-modules"), None)
        if base is None or motion is None:
            self._fail("the self-test needs an SD1.5 checkpoint and a motion module in the model store; import "
                       "them in the app's Models view")
            return
        view = self.window.generate
        view.base.select(base.name)
        view.motion_module.select(motion.name)
        view.load_request({**view.build_request(), **SELFTEST_REQUEST, "base": base.name,
                           "motion_module": motion.name})
        self._say(f"generating with {base.name} + {motion.name}")
        save_view(self.window, "generate", self.folder)
        self.job_id = ""  # submitting: later listings must not start a second job
        view.generate_button.click()

    def _on_submitted(self, job_id: str, _request: dict) -> None:
        self.job_id = job_id
        self._say(f"job {job_id} queued")

    def _on_job_ended(self, job: Job) -> None:
        if job.id == self.job_id and job.status != "succeeded":
            reason = f"{job.error.message} [{job.error.code}]" if job.error else job.status
            self._fail(f"job {job.id} {job.status}: {reason}")

    def _on_frames(self, count: int) -> None:
        if count < 1:
            self._fail("the job finished with no frames")
            return
        self._say(f"player holds {count} frames")
        self.window.queue.refreshed.connect(self._finish)
        self.window.queue.refresh()

    def _finish(self, _count: int) -> None:
        self.window.queue.refreshed.disconnect(self._finish)
        try:
            for name in TABS:
                if name != "generate":
                    self._say(f"saved {save_view(self.window, name, self.folder)}")
        except OSError as exc:
            self._fail(str(exc))
            return
        self._end(0, "self-test passed")

    def _fail(self, reason: str) -> None:
        self._end(1, f"self-test FAILED: {reason}")

    def _end(self, code: int, text: str) -> None:
        if self.exit_code is not None:
            return
        self.exit_code = code
        self._timer.stop()
        self._say(text)
        QApplication.exit(code)

    @staticmethod
    def _say(text: str) -> None:
        print(f"[selftest] {text}", flush=True)

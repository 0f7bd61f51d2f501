"""The Watch view: one job live (phase, progress bar, step preview, Cancel), then its clip in the player.

When the job succeeded the frames are fetched through the client (in the background) and looped at the
clip's fps; the output folder can be opened and the MP4/GIF exported anywhere.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from backend.client import Client, Job, JobEvent
from desktop.backend_link import BackendLink
from desktop.views.common import ERROR_STYLE, message_label
from desktop.views.frame_player import FramePlayer
from desktop.workers import JobFollower, describe_error, run_task

PHASES = {"loading": "Loading models", "encoding": "Encoding the prompt", "denoising": "Denoising"}
EXPORTS = {"mp4": ("animation.mp4", "MP4 video (*.mp4)"), "gif": ("animation.gif", "GIF animation (*.gif)")}


class WatchView(QWidget):
    """`watch(job_id)` follows a job. Signals: `progressed(job_id, step, total)`, `job_ended(Job)`."""

    progressed = Signal(str, int, int)
    job_ended = Signal(object)
    frames_loaded = Signal(int)  # how many frames the player holds now

    def __init__(self, link: BackendLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.job_id: str | None = None
        self.job: Job | None = None
        self._follower: JobFollower | None = None

        self.title = QLabel("Nothing to watch yet: generate a clip, or pick a job in the Queue.")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold;")
        self.status = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m steps")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.preview = QLabel("step preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedSize(192, 192)
        self.preview.setStyleSheet("background: #202020; color: #888888;")
        self.error = message_label(ERROR_STYLE)

        self.player = FramePlayer()
        self.open_folder_button = QPushButton("Open output folder")
        self.open_folder_button.clicked.connect(self.open_output_folder)
        self.export_buttons = {kind: QPushButton(f"Export {kind.upper()}...") for kind in EXPORTS}
        for kind, button in self.export_buttons.items():
            button.clicked.connect(lambda _=False, k=kind: self.export(k))
        self.saved = QLabel()
        self.saved.setWordWrap(True)
        self.saved.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        live = QVBoxLayout()
        live.addWidget(QLabel("Live preview"))
        live.addWidget(self.preview)
        live.addStretch(1)
        middle = QHBoxLayout()
        middle.addLayout(live)
        middle.addWidget(self.player, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.open_folder_button)
        for button in self.export_buttons.values():
            actions.addWidget(button)
        actions.addWidget(self.saved, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addLayout(progress_row)
        layout.addWidget(self.error)
        layout.addLayout(middle, 1)
        layout.addLayout(actions)
        self._set_outputs_enabled(False)

    @property
    def client(self) -> Client | None:
        return self.link.client

    # -- following a job ---------------------------------------------------------------------------------------

    def watch(self, job_id: str) -> None:
        """Follow `job_id` from its first event (a finished job replays its events and shows its clip)."""
        if self.client is None:
            return
        self._stop_following()
        self.job_id, self.job = job_id, None
        self.title.setText(f"Job {job_id}")
        self.status.setText("Connecting to the job's events...")
        self.error.setText("")
        self.saved.setText("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.preview.setPixmap(QPixmap())
        self.preview.setText("step preview")
        self.player.clear("The clip appears here when the job has finished.")
        self._set_outputs_enabled(False)
        self.cancel_button.setEnabled(False)  # until the job is known to be queued or running
        run_task(self, lambda c=self.client: c.job(job_id), self._show_job_header, None, name="job")
        follower = JobFollower(self.client, job_id, self)
        follower.event.connect(self._on_event)
        follower.ended.connect(self._on_ended)
        follower.lost.connect(self._on_lost)
        self._follower = follower
        follower.start()

    def _stop_following(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower.deleteLater()
            self._follower = None

    def _show_job_header(self, job: Job) -> None:
        if job.id == self.job_id:
            prompt = job.request.get("prompt", "")
            self.title.setText(f"Job {job.id}: {prompt}")
            self.cancel_button.setEnabled(not job.done and self.job is None)

    def _on_event(self, event: JobEvent) -> None:
        if event.job_id != self.job_id:
            return
        data = event.data
        self.cancel_button.setEnabled(not event.terminal)
        if event.kind == "queued":
            self.status.setText("Queued: waiting for the jobs before it.")
        elif event.kind == "started":
            self.status.setText("Started.")
        elif event.kind == "phase":
            self.status.setText(PHASES.get(data.get("phase", ""), str(data.get("phase", ""))) + "...")
            if data.get("total"):
                self.progress.setRange(0, int(data["total"]))
        elif event.kind == "progress":
            step, total = int(data["step"]), int(data["total"])
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            self.status.setText(f"Denoising: step {step} of {total}")
            if data.get("preview_png_base64"):
                self._show_preview(data["preview_png_base64"])
            self.progressed.emit(event.job_id, step, total)
        elif event.kind == "decoding":
            self.status.setText("Decoding the frames and writing the clip...")
        elif event.kind == "cancelled":
            self.status.setText("Cancelled.")
        elif event.kind == "failed":
            self.error.setText(f"{data.get('message', '')} [{data.get('code', 'failed')}]")
        elif event.kind == "interrupted":
            self.status.setText("Interrupted: the backend stopped while this job ran.")

    def _show_preview(self, b64: str) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(base64.b64decode(b64), "PNG"):
            self.preview.setPixmap(pixmap.scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.FastTransformation))

    def _on_ended(self, job: Job) -> None:
        if job.id != self.job_id:
            return
        self.job = job
        self.cancel_button.setEnabled(False)
        self.job_ended.emit(job)
        if job.status == "succeeded":
            self.status.setText(f"Done: {len(_frame_names(job))} frames, seed {job.seed}.")
            self.progress.setValue(self.progress.maximum())
            self._load_frames(job)
        else:
            self.status.setText(job.status.capitalize() + ".")
            if job.error is not None and job.status == "failed":
                self.error.setText(f"{job.error.message} [{job.error.code}]")
            self.player.clear(f"No clip: the job {job.status}.")

    def _on_lost(self, reason: str) -> None:
        self.cancel_button.setEnabled(False)
        self.error.setText(f"Lost the job's events: {reason}")

    # -- the clip ----------------------------------------------------------------------------------------------

    def _load_frames(self, job: Job) -> None:
        client = self.client
        if client is None:
            return
        names = _frame_names(job)

        def fetch() -> list[QImage]:  # QImage (not QPixmap) may be made off the GUI thread
            return [QImage.fromData(client.file_bytes(job.id, name), "PNG") for name in names]

        run_task(self, fetch, lambda images: self._show_frames(job, images),
                 lambda exc: self.error.setText(f"Could not fetch the frames: {describe_error(exc)}"), name="frames")

    def _show_frames(self, job: Job, images: list[QImage]) -> None:
        if job.id != self.job_id:
            return
        self.player.set_frames([QPixmap.fromImage(image) for image in images], int(job.request.get("fps", 8)))
        self._set_outputs_enabled(True)
        self.frames_loaded.emit(len(images))

    def _set_outputs_enabled(self, enabled: bool) -> None:
        self.open_folder_button.setEnabled(enabled)
        for button in self.export_buttons.values():
            button.setEnabled(enabled)

    def cancel(self) -> None:
        """Ask the service to cancel (it stops within one denoising step); the events then say `cancelled`."""
        if self.client is None or self.job_id is None:
            return
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling...")
        client, job_id = self.client, self.job_id

        def cancel_if_running() -> None:
            # DELETE on a finished job removes it with its clip: never let a late click do that.
            if not client.job(job_id).done:
                client.cancel(job_id)

        run_task(self, cancel_if_running, None,
                 lambda exc: self.error.setText(f"Cancel failed: {describe_error(exc)}"), name="cancel")

    def local_job_folder(self) -> Path | None:
        """The job's folder when the backend is on this machine and the folder is there."""
        if self.job_id is None or not self.link.is_local:
            return None
        folder = self.link.data_dir / "jobs" / self.job_id
        return folder if folder.is_dir() else None

    def open_output_folder(self) -> None:
        """Open the job's folder in the file manager; a remote backend's clip is downloaded first."""
        folder = self.local_job_folder()
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
            return
        if self.client is None or self.job is None:
            return
        dest = Path(self.link.settings.output_folder) / self.job.id
        client, job_id = self.client, self.job.id
        self.saved.setText(f"Downloading the clip to {dest}...")
        run_task(self, lambda: client.download_all(job_id, dest),
                 lambda _paths: (self.saved.setText(f"Saved in {dest}"),
                                 QDesktopServices.openUrl(QUrl.fromLocalFile(str(dest)))),
                 lambda exc: self.saved.setText(f"Download failed: {describe_error(exc)}"), name="download")

    def export(self, kind: str) -> None:
        """Save the clip's MP4 or GIF where the user chooses (default: the output folder from Settings)."""
        if self.client is None or self.job is None:
            return
        name, file_filter = EXPORTS[kind]
        suggested = Path(self.link.settings.output_folder) / f"{_slug(self.job)}.{kind}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}", str(suggested), file_filter)
        if path:
            self.export_to(kind, Path(path))

    def export_to(self, kind: str, dest: Path) -> None:
        client, job_id, name = self.client, self.job.id, EXPORTS[kind][0]
        self.saved.setText(f"Saving {dest.name}...")
        run_task(self, lambda: client.download(job_id, name, dest),
                 lambda path: self.saved.setText(f"Saved {path}"),
                 lambda exc: self.saved.setText(f"Export failed: {describe_error(exc)}"), name="export")


def _frame_names(job: Job) -> list[str]:
    return sorted(name for name in job.files if name.startswith("frames/") and name.endswith(".png"))


def _slug(job: Job) -> str:
    """A file name from the prompt and seed: `a-red-ball-bouncing_seed1`."""
    words = re.sub(r"[^a-z0-9]+", "-", str(job.request.get("prompt", "clip")).lower()).strip("-")[:48] or "clip"
    return f"{words}_seed{job.seed}" if job.seed is not None else words

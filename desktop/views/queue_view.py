"""Queue & history: every job the service knows (its SQLite history survives restarts), newest first.

Each row: first-frame thumbnail, status, prompt, parameters. Actions: watch, re-run with the same seed, vary
the seed, edit in the Generate view, extend a finished clip by N frames, delete (cancels a queued or running
job). The list is refreshed in the
background every few seconds, so jobs from other front ends (Blender) appear too.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backend.client import Client, Job
from desktop.views.common import message_label
from desktop.views.extend_dialog import ExtendDialog
from desktop.views.job_summary import describe_parameters, describe_training
from desktop.workers import describe_error, run_task

POLL_MS = 3000
JOB_ID_ROLE = Qt.ItemDataRole.UserRole  # the job id behind each row
THUMB = 64
# A job's kind -> what it trains; the Training view follows any of them (the service trains all three).
TRAINING_TITLES = {"motion-lora-training": "MotionLoRA", "domain-adapter-training": "domain adapter",
                   "motion-module-training": "motion module"}
STATUS_MARK = {"queued": "queued", "running": "running", "succeeded": "done", "failed": "failed",
               "cancelled": "cancelled", "interrupted": "interrupted"}


class QueueView(QWidget):
    """Signals: `watch_requested(job_id)`, `training_requested(job_id)`, `resubmitted(job_id)`,
    `edit_requested(request, seed)`."""

    watch_requested = Signal(str)
    training_requested = Signal(str)  # Watch on a training: its progress and loss curve are in the Training view
    resubmitted = Signal(str)
    edit_requested = Signal(dict, object)
    refreshed = Signal(int)  # how many jobs the list shows now

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: Client | None = None
        self.jobs: dict[str, Job] = {}
        self.items: dict[str, QTreeWidgetItem] = {}
        self.thumbnails: dict[str, QPixmap] = {}
        self._thumbs_wanted: set[str] = set()
        self._want_selected: str | None = None
        self._refreshing = False
        self.extend_dialog: ExtendDialog | None = None

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Status", "Prompt", "Parameters", "Created"])
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._watch(item.data(0, JOB_ID_ROLE)))
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setColumnWidth(1, 240)

        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text, slot in (("watch", "Watch", self.watch_selected), ("rerun", "Re-run (same seed)", self.rerun),
                                ("vary", "Vary seed", self.vary_seed), ("edit", "Edit in Generate", self.edit),
                                ("extend", "Extend...", self.extend),
                                ("delete", "Delete", self.delete_selected), ("refresh", "Refresh", self.refresh)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        self.error = message_label()
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.error)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self._update_buttons()

    def set_client(self, client: Client | None) -> None:
        self.client = client
        if client is None:
            self.timer.stop()
        else:
            self.timer.start()
            self.refresh()
        self._update_buttons()

    # -- the list ----------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask for the history in the background (skipped while a refresh is in flight)."""
        if self.client is None or self._refreshing:
            return
        self._refreshing = True
        run_task(self, self.client.jobs, self._show_jobs, self._refresh_failed, name="jobs")

    def _refresh_failed(self, exc: BaseException) -> None:
        self._refreshing = False
        self.error.setText(f"Could not list the jobs: {describe_error(exc)}")

    def _show_jobs(self, jobs: list[Job]) -> None:
        self._refreshing = False
        self.error.setText("")
        selected = self._want_selected or self.selected_id()
        self._want_selected = None
        self.jobs = {job.id: job for job in jobs}
        for job_id in list(self.items):
            if job_id not in self.jobs:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(self.items.pop(job_id)))
        for index, job in enumerate(sorted(jobs, key=lambda j: j.created_at, reverse=True)):
            item = self.items.get(job.id)
            if item is None:
                item = QTreeWidgetItem()
                item.setData(0, JOB_ID_ROLE, job.id)
                self.items[job.id] = item
                self.tree.insertTopLevelItem(index, item)
            elif self.tree.indexOfTopLevelItem(item) != index:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
                self.tree.insertTopLevelItem(index, item)
            self._fill(item, job)
        if selected in self.items:
            self.tree.setCurrentItem(self.items[selected])
        self._fetch_thumbnails([j for j in jobs if j.status == "succeeded" and j.id not in self.thumbnails])
        self._update_buttons()
        self.refreshed.emit(len(jobs))

    def _fill(self, item: QTreeWidgetItem, job: Job) -> None:
        status = STATUS_MARK.get(job.status, job.status)
        if job.status == "failed" and job.error is not None:
            status = f"failed: {job.error.code}"
            item.setToolTip(0, job.error.message)
        if item.text(0).startswith("running ") and job.status == "running":
            status = item.text(0)  # keep the live "running 3/25" the Watch view reported
        item.setText(0, status)
        training = job.kind in TRAINING_TITLES
        title = (f"Train {TRAINING_TITLES[job.kind]} {job.request.get('name', '')}" if training
                 else str(job.request.get("prompt", "")))
        item.setText(1, title)
        item.setToolTip(1, title)
        item.setText(2, describe_training(job.request, job.model) if training
                     else describe_parameters(job.request, job.seed))
        item.setToolTip(2, item.text(2))
        item.setText(3, time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created_at)))
        if job.id in self.thumbnails:
            item.setIcon(0, QIcon(self.thumbnails[job.id]))
        item.setSizeHint(0, QSize(THUMB + 90, THUMB + 6))

    def _fetch_thumbnails(self, jobs: list[Job]) -> None:
        wanted = [j for j in jobs if j.id not in self._thumbs_wanted and "frames/0000.png" in j.files]
        if not wanted or self.client is None:
            return
        self._thumbs_wanted.update(j.id for j in wanted)
        client = self.client

        def fetch() -> dict[str, QImage]:
            images = {}
            for job in wanted:
                try:
                    images[job.id] = QImage.fromData(client.file_bytes(job.id, "frames/0000.png"), "PNG")
                except Exception:  # noqa: BLE001 - a deleted job has no thumbnail; the row goes at the next refresh
                    continue
            return images

        run_task(self, fetch, self._show_thumbnails, None, name="thumbnails")

    def _show_thumbnails(self, images: dict[str, QImage]) -> None:
        for job_id, image in images.items():
            pixmap = QPixmap.fromImage(image).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation)
            self.thumbnails[job_id] = pixmap
            if job_id in self.items:
                self.items[job_id].setIcon(0, QIcon(pixmap))

    def set_progress(self, job_id: str, step: int, total: int) -> None:
        """The Watch view's live step, shown in the job's row until the next refresh says it ended."""
        item = self.items.get(job_id)
        if item is not None and self.jobs.get(job_id) is not None and not self.jobs[job_id].done:
            item.setText(0, f"running {step}/{total}")

    # -- actions -----------------------------------------------------------------------------------------------

    def selected_id(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, JOB_ID_ROLE) if item is not None and item.isSelected() else None

    def select(self, job_id: str) -> None:
        """Select the job's row (after the next refresh if the list does not show it yet)."""
        if job_id in self.items:
            self.tree.setCurrentItem(self.items[job_id])
        else:
            self._want_selected = job_id

    def _selected_job(self) -> Job | None:
        job_id = self.selected_id()
        return self.jobs.get(job_id) if job_id else None

    def _update_buttons(self) -> None:
        job = self._selected_job()
        connected = self.client is not None
        # A training is not re-run, edited or extended here.
        generation = job is not None and job.kind not in TRAINING_TITLES
        for key in ("watch", "delete"):
            self.buttons[key].setEnabled(connected and job is not None)
        for key in ("rerun", "vary", "edit"):
            self.buttons[key].setEnabled(connected and generation)
        self.buttons["extend"].setEnabled(connected and generation and job.status == "succeeded")
        self.buttons["extend"].setToolTip("continue this clip by N frames (a new job: the source's frames, then the "
                                          "new ones)")
        self.buttons["delete"].setText("Cancel" if job is not None and not job.done else "Delete")
        self.buttons["refresh"].setEnabled(connected)

    def watch_selected(self) -> None:
        job_id = self.selected_id()
        if job_id:
            self._watch(job_id)

    def _watch(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.kind in TRAINING_TITLES:
            self.training_requested.emit(job_id)
        else:
            self.watch_requested.emit(job_id)

    def rerun(self) -> None:
        """The same request with the seed the job used: the same clip again (bit for bit on this machine)."""
        job = self._selected_job()
        if job is not None:
            request = dict(job.request)
            request["seed"] = job.seed if job.seed is not None else request.get("seed")
            if request["seed"] is None:
                request.pop("seed")
            self._submit(request)

    def vary_seed(self) -> None:
        """The same request with no seed: the service draws a new one (recorded with the job)."""
        job = self._selected_job()
        if job is not None:
            request = dict(job.request)
            request.pop("seed", None)
            self._submit(request)

    def edit(self) -> None:
        job = self._selected_job()
        if job is not None:
            self.edit_requested.emit(dict(job.request), job.seed)

    def extend(self) -> None:
        """Ask for the new frames and overlap (a window-modal dialog: the list keeps refreshing), then queue."""
        job = self._selected_job()
        if job is None or job.status != "succeeded":
            return
        dialog = ExtendDialog(job, self)
        dialog.accepted.connect(lambda: self._submit(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        self.extend_dialog = dialog
        dialog.open()

    def _submit(self, request: dict[str, Any]) -> None:
        if self.client is None:
            return
        client = self.client
        run_task(self, lambda: client.submit(request), self._resubmitted,
                 lambda exc: self.error.setText(f"Could not queue it: {describe_error(exc)}"), name="rerun")

    def _resubmitted(self, job_id: str) -> None:
        self.resubmitted.emit(job_id)
        self.refresh()

    def delete_selected(self) -> None:
        """Cancel a queued/running job; delete a finished one with its outputs (after asking)."""
        job = self._selected_job()
        if job is None or self.client is None:
            return
        if job.done:
            answer = QMessageBox.question(self, "Delete job", f"Delete job {job.id} and its clip from the backend?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        client = self.client
        run_task(self, lambda: client.delete(job.id), lambda _outcome: self.refresh(),
                 lambda exc: self.error.setText(f"Could not delete {job.id}: {describe_error(exc)}"), name="delete")

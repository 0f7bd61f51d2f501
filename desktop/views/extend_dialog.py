"""Extend... in Queue & history: continue a succeeded clip by N frames (EasyAnimate-style continuation).

The new job is the source's request (models, size, settings) with `extend: <source job id>`, `frames` = the new
frames and `extend_overlap`; what only made sense for the source (its references, video, FreeInit, prompt
travel, seed) is left out. The service's result is the whole longer clip: the source's frames, then the new
ones.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from backend.client import Job
from desktop.form_checks import MAX_EXTEND_OVERLAP, check_extend
from desktop.views.common import mark_invalid, message_label

# Fields of the source's request that describe its own start, not the continuation's.
NOT_CARRIED = ("references", "reference_strength", "sparsectrl", "video", "video_strength", "free_init", "prompt_at",
               "seed", "extend", "extend_overlap")


def source_frame_count(job: Job) -> int:
    return sum(1 for name in job.files if name.startswith("frames/"))


def extend_request(job: Job, frames: int, overlap: int, prompt: str) -> dict[str, Any]:
    """The continuation's `POST /v1/jobs` body."""
    request = {k: v for k, v in job.request.items() if k not in NOT_CARRIED}
    request.update(extend=job.id, frames=frames, extend_overlap=overlap, prompt=prompt or job.request.get("prompt", ""))
    return request


class ExtendDialog(QDialog):
    """Asks for the new frames, the overlap and the prompt; `request()` once accepted."""

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.source_frames = source_frame_count(job)
        self.setWindowTitle("Extend the clip")
        self.setMinimumWidth(460)
        self.frames = QSpinBox()
        self.frames.setRange(1, 1024)
        self.frames.setValue(16)
        self.frames.setSuffix(" new frames")
        self.overlap = QSpinBox()
        self.overlap.setRange(1, MAX_EXTEND_OVERLAP)
        self.overlap.setValue(min(4, self.source_frames))
        self.overlap.setSuffix(" frames")
        self.overlap.setToolTip("the source's last frames the new segment starts from (pinned, then blended)")
        self.prompt = QLineEdit(str(job.request.get("prompt", "")))
        self.prompt.setToolTip("the continuation's prompt (default: the source's)")
        self.total = QLabel()
        self.error = message_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Extend")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel(f"Source: job {job.id[:8]}, {self.source_frames} frames, "
                           f"{job.request.get('width')}x{job.request.get('height')}"))
        form.addRow("Add", self.frames)
        form.addRow("Overlap", self.overlap)
        form.addRow("Prompt", self.prompt)
        form.addRow(self.total)
        form.addRow(self.error)
        form.addRow(self.buttons)
        for spin in (self.frames, self.overlap):
            spin.valueChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.error.setText("")
        for spin in (self.frames, self.overlap):
            mark_invalid(spin, False)
        self.total.setText(f"Result: {self.source_frames} + {self.frames.value()} = "
                           f"{self.source_frames + self.frames.value()} frames (the model denoises "
                           f"{self.overlap.value() + self.frames.value()} at once)")

    def _accept(self) -> None:
        problem = check_extend(self.frames.value(), self.overlap.value(), self.source_frames)
        if problem is not None:
            self.error.setText(problem.message)
            self.adjustSize()  # room for the wrapped sentence
            mark_invalid(self.overlap if problem.field == "extend_overlap" else self.frames, True)
            return
        self.accept()

    def request(self) -> dict[str, Any]:
        return extend_request(self.job, self.frames.value(), self.overlap.value(), self.prompt.text().strip())

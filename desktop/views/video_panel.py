"""Video to video for the Generate view: a video file or a folder of frames to restyle, and the strength.

Choosing a source counts its frames and reads the first one in the background (`video_frames.probe`); the
clip's frame count is then set to the source's (lower it to use only the first frames). The frames are
decoded and uploaded when Generate is clicked (`desktop/uploads.py`), off the GUI thread. A job's request
(Edit in Generate) brings its frames as upload ids, which are sent again as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import QFileDialog, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.video_frames import VIDEO_SUFFIXES, VideoProbe, is_video_file, probe
from desktop.views.common import dropped_paths
from desktop.views.strength_slider import StrengthSlider
from desktop.workers import describe_error, run_task

MAX_FRAMES = 1024  # the service's range for frames
EMPTY_TEXT = "No video: choose a video file or a folder of frames (e.g. a render), or drop one here."


class VideoPanel(QGroupBox):
    """`add_to(request)` writes `video` (a local source's path stands in until its frames are uploaded) and
    `video_strength`. Signals: `changed()`, `counted(int)` once a chosen source's frames are counted,
    `refused(str)` with the reason a source cannot be used."""

    changed = Signal()
    counted = Signal(int)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Video to video (restyle a clip, keep its motion)", parent)
        self.setAcceptDrops(True)
        self.path: Path | None = None  # a video file or frames folder on this machine
        self.uploaded: list[str] = []  # frames the service already has (a job's request)
        self.count: int | None = None  # frames the source holds, once counted
        self.probing = False
        self.frames = 16  # the clip's length: how many of the source's frames it uses
        self._found = ""  # what the probe said about the source
        self._probe_seq = 0
        self.thumb = QLabel()
        self.thumb.setFixedSize(96, 72)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFrameShape(QFrame.Shape.StyledPanel)
        self.summary = QLabel(EMPTY_TEXT)
        self.summary.setWordWrap(True)
        self.summary.setFrameShape(QFrame.Shape.StyledPanel)
        self.summary.setMinimumHeight(48)
        source_row = QHBoxLayout()
        source_row.addWidget(self.thumb)
        source_row.addWidget(self.summary, 1)
        self.file_button = QPushButton("Video file...")
        self.file_button.clicked.connect(self.browse_file)
        self.folder_button = QPushButton("Frames folder...")
        self.folder_button.clicked.connect(self.browse_folder)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        for button in (self.file_button, self.folder_button, self.clear_button):
            buttons.addWidget(button)
        self.strength = StrengthSlider(0.8, "0 keeps the video, 1 ignores it (img2img strength)")
        form = QFormLayout(self)
        form.addRow(source_row)
        form.addRow(buttons)
        form.addRow("Strength", self.strength)
        self.clear()

    # -- the source --------------------------------------------------------------------------------------------

    def browse_file(self) -> None:
        patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Video to restyle", "", f"Videos ({patterns})")
        if path:
            self.set_source(Path(path))

    def browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of frames (PNG, JPEG, WebP)")
        if path:
            self.set_source(Path(path))

    def set_source(self, path: Path) -> None:
        """Use `path`; its frames are counted in the background, then `counted` says how many."""
        self.path, self.uploaded, self.count, self.probing, self._found = path, [], None, True, ""
        self._probe_seq += 1
        seq = self._probe_seq
        self.thumb.setPixmap(QPixmap())
        self.thumb.setText("...")
        self.summary.setText(f"Reading {path.name}...")
        self.summary.setToolTip(str(path))
        self.clear_button.setEnabled(True)
        run_task(self, lambda: probe(path), lambda found: self._probed(seq, found),
                 lambda exc: self._unusable(seq, exc), name="video-probe")
        self.changed.emit()

    def clear(self) -> None:
        self._probe_seq += 1  # a probe still running is ignored
        self.path, self.uploaded, self.count, self.probing, self._found = None, [], None, False, ""
        self.thumb.setPixmap(QPixmap())
        self.thumb.setText("")
        self.summary.setText(EMPTY_TEXT)
        self.summary.setToolTip("")
        self.clear_button.setEnabled(False)
        self.changed.emit()

    def _probed(self, seq: int, found: VideoProbe) -> None:
        if seq != self._probe_seq:
            return
        self.probing, self.count = False, found.count
        if found.thumbnail is not None:
            self.thumb.setPixmap(QPixmap.fromImage(found.thumbnail))
        kind = "video" if is_video_file(found.path) else "frames folder"
        size = f", {found.size[0]}x{found.size[1]}" if found.size else ""
        self._found = f"{found.path.name} ({kind}): {found.count} frames{size}"
        self.counted.emit(min(found.count, MAX_FRAMES))
        self._render()
        self.changed.emit()

    def set_frames(self, frames: int) -> None:
        self.frames = frames
        self._render()

    def _render(self) -> None:
        if self.path is not None and self._found:
            self.summary.setText(f"{self._found}. The clip restyles the first {self.frames}, uploaded when you "
                                 "click Generate.")

    def _unusable(self, seq: int, exc: BaseException) -> None:
        if seq == self._probe_seq:
            self.clear()
            self.refused.emit(describe_error(exc))

    # -- the request -------------------------------------------------------------------------------------------

    def add_to(self, request: dict[str, Any]) -> None:
        if self.path is not None:
            request["video"] = [str(self.path)]  # replaced by the frames' upload ids when submitting
        elif self.uploaded:
            request["video"] = self.uploaded[:request.get("frames", len(self.uploaded))]
        if "video" in request:
            request["video_strength"] = self.strength.value()

    def load(self, request: dict[str, Any]) -> None:
        """Show a job's video frames (upload ids on the service) and strength."""
        self.clear()
        self.strength.set_value(float(request.get("video_strength", 0.8)))
        video = [str(v) for v in request.get("video") or []]
        if video:
            self.uploaded, self.count = video, len(video)
            self.thumb.setText("uploaded")
            self.summary.setText(f"{len(video)} frames already on the backend (from the job).")
            self.clear_button.setEnabled(True)
            self.changed.emit()

    def widget_for(self, field: str) -> QWidget | None:
        if field.startswith("video_strength"):
            return self.strength.slider
        if field.startswith("video"):
            return self.summary
        return None

    def marked_widgets(self) -> list[QWidget]:
        return [self.summary, self.strength.slider]

    # -- drag and drop -----------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        if len(paths) == 1 and (paths[0].is_dir() or is_video_file(paths[0])):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.set_source(paths[0])

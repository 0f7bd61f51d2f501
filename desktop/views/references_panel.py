"""Reference pictures for the Generate view: several pictures, each pinned to a frame (first frame, first + last,
every Nth, a storyboard), their strength, and an optional SparseCtrl model they condition through.

Pictures come from a file dialog or are dropped on the panel (several at once). A picture on this machine is
uploaded (`POST /v1/uploads`) when Generate is clicked; one from a job's request (Edit in Generate) is already
on the service and is sent by its upload id. Thumbnails are read in the background.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.views.common import IMAGE_SUFFIXES, dropped_paths
from desktop.views.model_picker import NONE_CHOICE, ModelPicker
from desktop.views.strength_slider import StrengthSlider
from desktop.workers import run_task

THUMB = 48


@dataclass
class ReferenceSource:
    """A picture on this machine (`local`), or one the service already has (`image`: an upload id or its path)."""

    local: Path | None = None
    image: str | None = None

    @property
    def label(self) -> str:
        return self.local.name if self.local is not None else f"on the backend: {Path(self.image or '').name[:16]}"


def next_free_frame(used: list[int], frames: int) -> int:
    """Where a new picture goes: the first frame, then the last (-1), then the middle of the widest gap."""
    taken = sorted({f % frames for f in used}) if frames > 0 else []
    if 0 not in taken:
        return 0
    if frames - 1 not in taken:
        return -1
    gaps = [(b - a, a) for a, b in zip(taken, taken[1:], strict=False)]
    width, start = max(gaps, default=(0, 0))
    return start + width // 2 if width > 1 else 0  # no gap left: a duplicate the check will name


def spread_frames(count: int, frames: int) -> list[int]:
    """`count` pictures spread evenly from the first to the last frame (the last one as -1)."""
    if count <= 1:
        return [0] * count
    return [round(i * (frames - 1) / (count - 1)) for i in range(count - 1)] + [-1]


class ReferenceRow(QFrame):
    """One picture: thumbnail, name, the frame it is pinned to, Remove."""

    def __init__(self, source: ReferenceSource, frame: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.thumb = QLabel("..." if source.local is not None else "uploaded")
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFrameShape(QFrame.Shape.StyledPanel)
        self.name = QLabel(source.label)
        self.name.setToolTip(str(source.local or source.image))
        self.frame = QSpinBox()
        self.frame.setRange(-1024, 1023)
        self.frame.setValue(frame)
        self.frame.setPrefix("frame ")
        self.frame.setToolTip("the frame this picture is; negative counts from the end (-1: the last frame)")
        self.remove = QToolButton()
        self.remove.setText("Remove")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 2, 0, 2)
        row.addWidget(self.thumb)
        row.addWidget(self.name, 1)
        row.addWidget(self.frame)
        row.addWidget(self.remove)

    def set_thumbnail(self, image: QImage) -> None:
        self.thumb.setPixmap(QPixmap.fromImage(image))

    def reference(self) -> dict[str, Any]:
        """The request's entry; a local picture's path stands in for its upload id until it is uploaded."""
        return {"image": self.source.image or str(self.source.local), "frame": self.frame.value()}


class ReferencesPanel(QGroupBox):
    """`add_to(request)` writes `references`, `reference_strength` / `sparsectrl`; `local_pictures()` says what
    to upload. Signals: `changed()` when anything the pre-flight check or the request sees changes,
    `refused(str)` with the reason a file was not taken."""

    changed = Signal()
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reference pictures (image to video, keyframes)", parent)
        self.setAcceptDrops(True)
        self.frames = 16  # the clip's length, for where new pictures go
        self.rows: list[ReferenceRow] = []
        self.empty = QLabel("Drop pictures here, or Add pictures... Each one is pinned to a frame: the first, "
                            "first + last, every Nth, a storyboard.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMinimumHeight(THUMB)
        self.list_box = QFrame()
        self.list_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.list_box.setFrameShadow(QFrame.Shadow.Sunken)
        self.list_layout = QVBoxLayout(self.list_box)
        self.list_layout.setContentsMargins(6, 4, 6, 4)
        self.list_layout.addWidget(self.empty)
        self.list_layout.addStretch(1)  # rows stay at the top when one is removed
        self.add_button = QPushButton("Add pictures...")
        self.add_button.clicked.connect(self.browse)
        self.spread_button = QPushButton("Spread over the clip")
        self.spread_button.setToolTip("pin the pictures evenly from the first to the last frame, in list order")
        self.spread_button.clicked.connect(self.spread)
        self.clear_button = QPushButton("Remove all")
        self.clear_button.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.spread_button, self.clear_button):
            buttons.addWidget(button)
        self.strength = StrengthSlider(0.8, "0 keeps the pictures, 1 ignores them (img2img strength)")
        self.sparsectrl = ModelPicker("sparsectrl", optional=True, weight=(0.0, 2.0, 1.0))
        self.sparsectrl.weight.setToolTip("conditioning scale, 0..2")
        self.sparsectrl.combo.currentIndexChanged.connect(self._sparsectrl_changed)
        self.sparsectrl_note = QLabel()
        self.sparsectrl_note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.list_box)
        form.addRow(buttons)
        form.addRow("Strength", self.strength)
        form.addRow("SparseCtrl", self.sparsectrl)
        form.addRow(self.sparsectrl_note)
        self._sparsectrl_changed()
        self._update()

    # -- the list ----------------------------------------------------------------------------------------------

    def browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Reference pictures", "", "Pictures (*.png *.jpg *.jpeg *.webp)")
        self.add_files([Path(p) for p in paths])

    def add_files(self, paths: list[Path]) -> None:
        """Add each picture at the next free frame; a file that is not a PNG/JPEG/WebP picture is refused."""
        for path in paths:
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                self.refused.emit(f"{path.name}: not a PNG, JPEG or WebP picture")
                continue
            row = self._add_row(ReferenceSource(local=path), next_free_frame(self._frames_used(), self.frames))
            run_task(row, lambda p=path: _read_thumbnail(p), row.set_thumbnail,
                     lambda exc, r=row: self._unreadable(r, exc), name="thumbnail")

    def add_uploaded(self, image: str, frame: int) -> ReferenceRow:
        """A picture the service already has (a job's request): sent again by its id."""
        return self._add_row(ReferenceSource(image=image), frame)

    def remove_row(self, row: ReferenceRow) -> None:
        if row in self.rows:
            self.rows.remove(row)
            self.list_layout.removeWidget(row)
            row.hide()  # gone from the screen now, not at the next deferred delete
            row.deleteLater()
            self.list_layout.activate()  # the rows below move up now, not at the next layout pass
            self._update()

    def clear(self) -> None:
        for row in list(self.rows):
            self.remove_row(row)

    def spread(self) -> None:
        for row, frame in zip(self.rows, spread_frames(len(self.rows), self.frames), strict=True):
            row.frame.setValue(frame)

    def set_frames(self, frames: int) -> None:
        self.frames = frames

    def _add_row(self, source: ReferenceSource, frame: int) -> ReferenceRow:
        row = ReferenceRow(source, frame)
        row.remove.clicked.connect(lambda: self.remove_row(row))
        row.frame.valueChanged.connect(self.changed)
        self.rows.append(row)
        self.list_layout.insertWidget(self.list_layout.count() - 1, row)  # before the stretch
        self._update()
        return row

    def _unreadable(self, row: ReferenceRow, exc: BaseException) -> None:
        self.remove_row(row)
        self.refused.emit(str(exc))

    def _frames_used(self) -> list[int]:
        return [row.frame.value() for row in self.rows]

    def _update(self) -> None:
        self.empty.setVisible(not self.rows)
        self.spread_button.setEnabled(len(self.rows) > 1)
        self.clear_button.setEnabled(bool(self.rows))
        self.changed.emit()

    def _sparsectrl_changed(self) -> None:
        on = bool(self.sparsectrl.value())
        self.strength.setEnabled(not on)
        self.sparsectrl_note.setText(
            "The pictures condition their frames through SparseCtrl; the clip is denoised from noise (no strength)."
            if on else "Without SparseCtrl each frame starts from the pictures' latents, noised by the strength.")
        self.changed.emit()

    # -- the request -------------------------------------------------------------------------------------------

    def local_pictures(self) -> list[tuple[int, Path]]:
        """`(index in references, file)` for each picture to upload before submitting."""
        return [(i, row.source.local) for i, row in enumerate(self.rows) if row.source.local is not None]

    def add_to(self, request: dict[str, Any]) -> None:
        if self.rows:
            request["references"] = [row.reference() for row in self.rows]
        if self.sparsectrl.value():
            weight = round(self.sparsectrl.weight.value(), 2)
            request["sparsectrl"] = {"path": self.sparsectrl.value(), "weight": weight}
        elif self.rows:
            request["reference_strength"] = self.strength.value()

    def load(self, request: dict[str, Any]) -> None:
        """Show a job's references (by upload id), strength and SparseCtrl."""
        self.clear()
        for ref in request.get("references") or []:
            self.add_uploaded(str(ref["image"]), int(ref.get("frame", 0)))
        self.strength.set_value(float(request.get("reference_strength", 0.8)))
        sparsectrl = request.get("sparsectrl")
        self.sparsectrl.select(sparsectrl["path"] if sparsectrl else NONE_CHOICE)
        if sparsectrl:
            self.sparsectrl.weight.setValue(float(sparsectrl.get("weight", 1.0)))

    def widget_for(self, field: str) -> QWidget | None:
        """The widget to frame for a service/check field under `references`, `reference_strength`, `sparsectrl`."""
        match = re.match(r"references\[(\d+)\](\.\w+)?", field)
        if match:
            index = int(match.group(1))
            if index < len(self.rows):
                return self.rows[index].frame if match.group(2) == ".frame" else self.rows[index]
            return self.list_box
        if field.startswith("references"):
            return self.list_box
        if field.startswith("reference_strength"):
            return self.strength.slider
        if field.startswith("sparsectrl"):
            return self.sparsectrl.weight if field == "sparsectrl.weight" else self.sparsectrl.combo
        return None

    def marked_widgets(self) -> list[QWidget]:
        return [self.list_box, self.strength.slider, self.sparsectrl.combo, self.sparsectrl.weight,
                *self.rows, *(row.frame for row in self.rows)]

    # -- drag and drop -----------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in dropped_paths(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)


def _read_thumbnail(path: Path) -> QImage:
    """Runs off the GUI thread (QImage, not QPixmap); ValueError with the reason for a file Qt cannot read."""
    reader = QImageReader(str(path))
    if not reader.canRead():
        raise ValueError(f"{path.name}: not a PNG, JPEG or WebP picture ({reader.errorString()})")
    image = reader.read()
    if image.isNull():
        raise ValueError(f"{path.name}: {reader.errorString()}")
    return image.scaled(THUMB - 4, THUMB - 4, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)

"""Small widgets and helpers the views share: dropped files, the reference-picture drop zone, error marks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImageReader, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QWidget

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # what POST /v1/uploads accepts
ERROR_STYLE = "color: #c0392b;"
WARNING_STYLE = "color: #b9770e;"
INVALID_BORDER = "border: 2px solid #c0392b;"


def dropped_paths(mime: QMimeData) -> list[Path]:
    """Local files in a drag's data (a browser's web links are not files and are left out)."""
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    """Frame a field the service rejected; its sentence is shown by the view."""
    widget.setStyleSheet(INVALID_BORDER if invalid else "")


def message_label(style: str = ERROR_STYLE) -> QLabel:
    """A wrapping, selectable label for a sentence from the service (users copy error text into reports)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ImageDropZone(QLabel):
    """Shows the chosen reference picture; accepts a dropped PNG/JPEG/WebP file.

    `chosen(Path | None)` when the picture changes; `refused(str)` with the reason for a file it cannot show.
    """

    chosen = Signal(object)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFrameShadow(QFrame.Shadow.Sunken)
        self.setMinimumSize(160, 120)
        self.setWordWrap(True)
        self.clear_image()

    def clear_image(self) -> None:
        self.path = None
        self.setPixmap(QPixmap())
        self.setText("Drop a picture here\n(PNG, JPEG, WebP)")
        self.chosen.emit(None)

    def set_image(self, path: Path) -> str | None:
        """Show `path`; returns why it was refused (not a picture Qt can read), or None."""
        reader = QImageReader(str(path))
        if path.suffix.lower() not in IMAGE_SUFFIXES or not reader.canRead():
            return f"{path.name}: not a PNG, JPEG or WebP picture"
        image = reader.read()
        if image.isNull():
            return f"{path.name}: {reader.errorString()}"
        self.path = path
        self.setPixmap(QPixmap.fromImage(image).scaled(self.width() - 8, self.height() - 8,
                                                       Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
        self.setToolTip(str(path))
        self.chosen.emit(path)
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        if len(paths) == 1 and paths[0].suffix.lower() in IMAGE_SUFFIXES:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            problem = self.set_image(paths[0])
            if problem:
                self.refused.emit(problem)

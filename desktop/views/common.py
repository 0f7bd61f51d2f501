"""Small helpers the views share: dropped files, error marks, message labels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QLabel, QWidget

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # what POST /v1/uploads accepts
ERROR_STYLE = "color: #c0392b;"
WARNING_STYLE = "color: #b9770e;"
INVALID_BORDER = "border: 2px solid #c0392b;"


def dropped_paths(mime: QMimeData) -> list[Path]:
    """Local files in a drag's data (a browser's web links are not files and are left out)."""
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    """Frame a field the service (or the form's check) rejected; its sentence is shown by the view. The rule is
    scoped to the widget itself, so a container (a list of pictures) is framed without framing its children."""
    if not widget.objectName():
        widget.setObjectName(f"field{id(widget):x}")
    widget.setStyleSheet(f"#{widget.objectName()} {{ {INVALID_BORDER} }}" if invalid else "")


def message_label(style: str = ERROR_STYLE) -> QLabel:
    """A wrapping, selectable label for a sentence from the service (users copy error text into reports)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label

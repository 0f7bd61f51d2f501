"""Prompt travel for the Generate view: a small table of (frame, prompt); the main prompt holds at frame 0, each
row's prompt from its frame on, and the service blends the text embeddings in between (`prompt_at`)."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

ROW_HEIGHT = 30


class PromptTravelPanel(QGroupBox):
    """`add_to(request)` writes `prompt_at` (rows in table order, so `prompt_at[i]` is row i)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Prompt travel", parent)
        self.frames = 16
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["From frame", "Prompt"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.add_button = QPushButton("Add prompt")
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        note = QLabel("The main prompt holds at frame 0; each prompt here from its frame on, blended in between.")
        note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._resize()

    def add_row(self, frame: int | None = None, prompt: str = "") -> int:
        """A row at `frame` (default: halfway between the last prompt's frame and the clip's end); its index."""
        if frame is None:
            last = max((self.frame_spin(r).value() for r in range(self.table.rowCount())), default=0)
            frame = max(1, min(self.frames - 1, last + max(1, (self.frames - last) // 2)))
        row = self.table.rowCount()
        self.table.insertRow(row)
        spin = QSpinBox()
        spin.setRange(0, 1023)
        spin.setValue(frame)
        spin.valueChanged.connect(self.changed)
        text = QLineEdit(prompt)
        text.setPlaceholderText("what the clip shows from this frame on")
        text.textChanged.connect(self.changed)
        self.table.setCellWidget(row, 0, spin)
        self.table.setCellWidget(row, 1, text)
        self.table.setRowHeight(row, ROW_HEIGHT)
        self._resize()
        self.changed.emit()
        return row

    def remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.rowCount():
            rows = [self.table.rowCount() - 1]  # nothing selected: the last row
        for row in rows:
            self.table.removeRow(row)
        self._resize()
        self.changed.emit()

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._resize()
        self.changed.emit()

    def frame_spin(self, row: int) -> QSpinBox:
        return self.table.cellWidget(row, 0)

    def prompt_edit(self, row: int) -> QLineEdit:
        return self.table.cellWidget(row, 1)

    def set_frames(self, frames: int) -> None:
        self.frames = frames

    def _resize(self) -> None:
        rows = self.table.rowCount()
        self.table.setFixedHeight(self.table.horizontalHeader().height() + max(1, min(rows, 5)) * ROW_HEIGHT + 4)
        self.remove_button.setEnabled(rows > 0)

    # -- the request -------------------------------------------------------------------------------------------

    def add_to(self, request: dict[str, Any]) -> None:
        entries = [{"frame": self.frame_spin(r).value(), "prompt": self.prompt_edit(r).text().strip()}
                   for r in range(self.table.rowCount())]
        if entries:
            request["prompt_at"] = entries

    def load(self, request: dict[str, Any]) -> None:
        self.table.setRowCount(0)
        for entry in request.get("prompt_at") or []:
            self.add_row(int(entry["frame"]), str(entry.get("prompt", "")))
        self._resize()

    def widget_for(self, field: str) -> QWidget | None:
        match = re.match(r"prompt_at\[(\d+)\](\.\w+)?", field)
        if match and int(match.group(1)) < self.table.rowCount():
            row = int(match.group(1))
            return self.prompt_edit(row) if match.group(2) == ".prompt" else self.frame_spin(row)
        return self.table if field.startswith("prompt_at") else None

    def marked_widgets(self) -> list[QWidget]:
        rows = range(self.table.rowCount())
        return [self.table, *(self.frame_spin(r) for r in rows), *(self.prompt_edit(r) for r in rows)]

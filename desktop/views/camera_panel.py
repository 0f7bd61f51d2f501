"""Camera moves for the Generate view: one row per move of the vocabulary, several can be on at once.

Each row: a check box, a strength slider (0..2, as the service accepts) and, when the store lacks the move's
MotionLoRA, the file it needs (the service would refuse the job with that sentence).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QSlider, QWidget

from backend.client import CameraMoveStatus
from desktop.views.common import WARNING_STYLE
from models.camera import CAMERA_MOVES

STRENGTH_SCALE = 100  # slider units per 1.0 of strength
MAX_STRENGTH = 2.0  # the service's range for camera[i].strength


class CameraPanel(QGroupBox):
    """`camera()` gives the request's `camera` list: `[{"move", "strength"}]` for every ticked move."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Camera moves (MotionLoRA)", parent)
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        self.boxes: dict[str, QCheckBox] = {}
        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QLabel] = {}
        self.warnings: dict[str, QLabel] = {}
        for row, move in enumerate(CAMERA_MOVES):
            box = QCheckBox(move)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, int(MAX_STRENGTH * STRENGTH_SCALE))
            slider.setSingleStep(5)
            slider.setPageStep(25)
            slider.setValue(STRENGTH_SCALE)
            slider.setEnabled(False)
            slider.setAccessibleName(f"{move} strength")
            value = QLabel("1.00")
            value.setMinimumWidth(32)
            warning = QLabel()
            warning.setStyleSheet(WARNING_STYLE)
            box.toggled.connect(slider.setEnabled)
            slider.valueChanged.connect(lambda v, label=value: label.setText(f"{v / STRENGTH_SCALE:.2f}"))
            grid.addWidget(box, row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(value, row, 2)
            grid.addWidget(warning, row, 3)
            self.boxes[move], self.sliders[move], self.values[move], self.warnings[move] = box, slider, value, warning

    def camera(self) -> list[dict[str, Any]]:
        return [{"move": move, "strength": self.sliders[move].value() / STRENGTH_SCALE}
                for move in CAMERA_MOVES if self.boxes[move].isChecked()]

    def load(self, camera: list[dict[str, Any]]) -> None:
        """Show a request's moves (from the history): ticked with their strengths, the others off."""
        chosen = {c["move"]: float(c.get("strength", 1.0)) for c in camera}
        for move in CAMERA_MOVES:
            self.boxes[move].setChecked(move in chosen)
            self.sliders[move].setValue(round(chosen.get(move, 1.0) * STRENGTH_SCALE))

    def set_strength(self, move: str, strength: float) -> None:
        self.boxes[move].setChecked(True)
        self.sliders[move].setValue(round(strength * STRENGTH_SCALE))

    def set_files(self, moves: list[CameraMoveStatus]) -> None:
        """Warn next to each move whose MotionLoRA the service does not have (`GET /v1/models/camera-moves`)."""
        for status in moves:
            label = self.warnings.get(status.move)
            if label is None:  # a move this version of the app does not offer
                continue
            if status.present:
                label.setText("")
                label.setToolTip(status.path or "")
            else:
                label.setText(f"needs {status.file}")
                label.setToolTip(f"Download {status.file} from {status.url} and import it in the Models view.")

    def widget_for(self, index: int) -> QWidget:
        """The row of the request's `camera[index]` (to mark the one the service rejected)."""
        ticked = [m for m in CAMERA_MOVES if self.boxes[m].isChecked()]
        return self.boxes[ticked[index]] if 0 <= index < len(ticked) else self

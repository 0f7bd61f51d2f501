"""A 0..1 strength as a slider with its value beside it (img2img strength of references and of a video)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

SCALE = 100  # slider units per 1.0


class StrengthSlider(QWidget):
    """`value()` in 0..1 with two decimals; `changed(float)`."""

    changed = Signal(float)

    def __init__(self, value: float, tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SCALE)
        self.slider.setPageStep(10)
        self.slider.setToolTip(tooltip)
        self.label = QLabel()
        self.label.setMinimumWidth(32)
        self.slider.valueChanged.connect(self._moved)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.set_value(value)
        self._moved(self.slider.value())

    def value(self) -> float:
        return self.slider.value() / SCALE

    def set_value(self, value: float) -> None:
        self.slider.setValue(round(value * SCALE))

    def _moved(self, units: int) -> None:
        self.label.setText(f"{units / SCALE:.2f}")
        self.changed.emit(units / SCALE)

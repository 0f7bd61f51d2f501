"""The numbers of a MotionLoRA training, for the Training view: steps, rank, learning rate, clip shape, batch.

Defaults follow the paper's MotionLoRA recipe on SD1.5 (16 frames at 256 px, rank 8, 1e-4); the built-in
model is trained at 64 px. The service checks every value again (the trainer's own ranges).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget


def _spin(low: int, high: int, value: int, step: int = 1, tip: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


class TrainingSettings(QGroupBox):
    """`widgets` maps the body's field names to their spin boxes (a rejection frames the one it names)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Training", parent)
        self.steps = _spin(1, 1_000_000, 400, tip="optimizer steps; a few hundred for 20-50 clips")
        self.rank = _spin(1, 256, 8, tip="LoRA rank: larger learns more, and makes a larger file")
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(0.000001, 1.0)
        self.learning_rate.setSingleStep(0.00001)
        self.learning_rate.setValue(0.0001)
        self.frames = _spin(2, 64, 16, tip="frames per training clip (at most what the motion module covers)")
        self.size = _spin(32, 1024, 256, step=8, tip="square side of the training clips in pixels (multiple of 8)")
        self.stride = _spin(1, 64, 4, tip="clips in a folder: take every Nth frame (the paper: 4)")
        self.batch_size = _spin(1, 64, 1, tip="clips per step; more needs more GPU memory")
        self.widgets: dict[str, QWidget] = {
            "steps": self.steps, "rank": self.rank, "learning_rate": self.learning_rate, "frames": self.frames,
            "size": self.size, "stride": self.stride, "batch_size": self.batch_size}
        form = QFormLayout(self)
        for label, name in (("Steps", "steps"), ("Rank", "rank"), ("Learning rate", "learning_rate"),
                            ("Frames", "frames"), ("Size (px)", "size"), ("Frame stride", "stride"),
                            ("Batch size", "batch_size")):
            form.addRow(label, self.widgets[name])

    def add_to(self, body: dict[str, Any]) -> None:
        body.update(steps=self.steps.value(), rank=self.rank.value(), learning_rate=self.learning_rate.value(),
                    frames=self.frames.value(), size=self.size.value(), stride=self.stride.value(),
                    batch_size=self.batch_size.value())

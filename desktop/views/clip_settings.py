"""The Generate view's "Settings" box: seed (or Random, or New seed), steps, guidance, frames, size, fps,
scheduler and the DeepCache speed-up, with the service's ranges."""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

# The service's accepted schedulers (backend.engine.request_checks.SCHEDULERS; a test keeps the two equal). Not
# imported from there: the engine package is the backend's, and the UI must not depend on its layout.
SCHEDULERS: tuple[str, ...] = ("ddim", "euler", "euler-ancestral", "dpm++-2m-karras", "lcm")
# DeepCache intervals offered (the service takes 0 or 2-10): the whole UNet every N-th step.
DEEP_CACHE_CHOICES: tuple[tuple[str, int], ...] = (("off", 0), ("every 2nd step", 2), ("every 3rd step", 3),
                                                   ("every 5th step", 5))


class ClipSettings(QGroupBox):
    """`add_to(request)` / `load(request, seed)`; the fields are public (tests and the view type into them)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Settings", parent)
        self.seed = QLineEdit()
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,19}")))
        self.seed.setPlaceholderText("random")
        self.random_seed = QCheckBox("Random")
        self.random_seed.setChecked(True)
        self.random_seed.toggled.connect(lambda on: self.seed.setEnabled(not on))
        self.seed.setEnabled(False)
        self.dice = QPushButton("New seed")
        self.dice.setToolTip("Draw a seed now (so you can see it and reuse it)")
        self.dice.clicked.connect(self.draw_seed)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        seed_row.addWidget(self.dice)
        # Ranges are the service's; width/height accept any number so that the service's own sentence
        # ("expected a multiple of 8") is what the user sees, not a silent correction.
        self.steps = spin(1, 200, 25)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(7.5)
        self.frames = spin(1, 1024, 16)
        self.width_spin = spin(64, 2048, 512, step=8)
        self.height_spin = spin(64, 2048, 512, step=8)
        self.fps = spin(1, 60, 8)
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULERS)
        self.deep_cache = QComboBox()
        for text, interval in DEEP_CACHE_CHOICES:
            self.deep_cache.addItem(text, interval)
        self.deep_cache.setToolTip("Faster, slightly different clips (DeepCache): the whole UNet runs only on these "
                                   "steps, its outer blocks on every step, reusing the deeper features between")
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin, 1)
        size_row.addWidget(QLabel("x"), 0)
        size_row.addWidget(self.height_spin, 1)
        form = QFormLayout(self)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Frames", self.frames)
        form.addRow("Size (w x h)", size_row)
        form.addRow("FPS", self.fps)
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Feature cache", self.deep_cache)
        self.widgets: dict[str, QWidget] = {
            "seed": self.seed, "steps": self.steps, "guidance": self.guidance, "frames": self.frames,
            "width": self.width_spin, "height": self.height_spin, "fps": self.fps, "scheduler": self.scheduler,
            "deep_cache": self.deep_cache}

    def draw_seed(self) -> None:
        self.random_seed.setChecked(False)
        self.seed.setText(str(random.randint(0, 2**31 - 1)))

    def add_to(self, request: dict[str, Any]) -> None:
        request.update(width=self.width_spin.value(), height=self.height_spin.value(), frames=self.frames.value(),
                       steps=self.steps.value(), guidance=round(self.guidance.value(), 2), fps=self.fps.value(),
                       scheduler=self.scheduler.currentText())
        if self.deep_cache.currentData():
            request["deep_cache"] = int(self.deep_cache.currentData())
        if not self.random_seed.isChecked() and self.seed.text():
            request["seed"] = int(self.seed.text())  # beyond MAX_SEED: the service names the range

    def load(self, request: dict[str, Any], seed: int | None) -> None:
        for widget, name in ((self.width_spin, "width"), (self.height_spin, "height"), (self.frames, "frames"),
                             (self.steps, "steps"), (self.fps, "fps")):
            if name in request:
                widget.setValue(int(request[name]))
        self.guidance.setValue(float(request.get("guidance", 7.5)))
        self.scheduler.setCurrentText(request.get("scheduler", "ddim"))
        interval = int(request.get("deep_cache", 0))
        if self.deep_cache.findData(interval) < 0:  # a value set elsewhere (API, CLI): offered as it is
            self.deep_cache.addItem(f"every {interval}th step", interval)
        self.deep_cache.setCurrentIndex(self.deep_cache.findData(interval))
        self.random_seed.setChecked(seed is None)
        self.seed.setText("" if seed is None else str(seed))


def spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box

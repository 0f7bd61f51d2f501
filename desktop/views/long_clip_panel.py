"""Long clips for the Generate view: sliding context windows (length, overlap, weighting, closed loop),
FreeNoise and FreeInit.

A motion module knows as many frames as its position encoding covers (the listing's `motion_max_seq_length`:
24 for v1, 32 for v2/v3); when the clip is longer and windows are off, the panel says so and offers windows
of 16 frames, the modules' training length, in one click.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop.form_checks import MAX_FREE_INIT, SUGGESTED_CONTEXT
from desktop.views.common import WARNING_STYLE

WEIGHTINGS = ("pyramid", "flat")  # the service's context_weighting values, its default first
FIELDS = ("context_length", "context_overlap", "context_weighting", "closed_loop", "free_noise", "free_init")


class LongClipPanel(QGroupBox):
    """`add_to(request)` writes the windows' fields when windows are on, and `free_init` when set."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Long clips (context windows)", parent)
        self.frames = 16
        self.module_frames: int | None = None  # the chosen motion module's length, when the listing says it
        self.module_name = ""
        self.context_length = QSpinBox()
        self.context_length.setRange(0, 1024)
        self.context_length.setSpecialValueText("off")
        self.context_length.setSuffix(" frames")
        self.context_length.setToolTip("windows of this many frames slide over the clip; 16 is the modules' "
                                       "training length. Off: the clip must fit the motion module")
        self.context_overlap = QSpinBox()
        self.context_overlap.setRange(0, 1023)
        self.context_overlap.setValue(4)
        self.context_overlap.setSuffix(" frames")
        self.context_overlap.setToolTip("frames shared by neighbouring windows")
        self.context_weighting = QComboBox()
        self.context_weighting.addItems(WEIGHTINGS)
        self.context_weighting.setToolTip("how overlapping windows are blended: pyramid favours a window's middle")
        self.closed_loop = QCheckBox("Closed loop (seamless)")
        self.closed_loop.setToolTip("windows wrap past the end to the first frames, so the clip loops")
        self.free_noise = QCheckBox("FreeNoise")
        self.free_noise.setToolTip("later windows reuse the first window's noise, shuffled: steadier content")
        self.free_init = QSpinBox()
        self.free_init.setRange(0, MAX_FREE_INIT)
        self.free_init.setSpecialValueText("off")
        self.free_init.setSuffix(" extra round(s)")
        self.free_init.setToolTip("FreeInit: re-run from the clip's low frequencies (N+1 times the time; text to "
                                  "video only)")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(WARNING_STYLE)
        self.use_windows = QPushButton(f"Use windows of {SUGGESTED_CONTEXT}")
        self.use_windows.clicked.connect(lambda: self.context_length.setValue(SUGGESTED_CONTEXT))
        hint_row = QHBoxLayout()
        hint_row.addWidget(self.hint, 1)
        hint_row.addWidget(self.use_windows)
        boxes = QHBoxLayout()
        boxes.addWidget(self.closed_loop)
        boxes.addWidget(self.free_noise)
        boxes.addStretch(1)
        form = QFormLayout(self)
        form.addRow(hint_row)
        form.addRow("Window length", self.context_length)
        form.addRow("Overlap", self.context_overlap)
        form.addRow("Blending", self.context_weighting)
        form.addRow("", boxes)
        form.addRow("FreeInit", self.free_init)
        self.widgets: dict[str, QWidget] = dict(zip(FIELDS, (
            self.context_length, self.context_overlap, self.context_weighting, self.closed_loop, self.free_noise,
            self.free_init), strict=True))
        self.context_length.valueChanged.connect(self._update)
        for widget in (self.context_overlap, self.free_init):
            widget.valueChanged.connect(self.changed)
        self.context_weighting.currentTextChanged.connect(self.changed)
        for box in (self.closed_loop, self.free_noise):
            box.toggled.connect(self.changed)
        self._update()

    def set_clip(self, frames: int, module_frames: int | None, module_name: str = "") -> None:
        """The clip's frame count and the chosen module's length (None: not known), for the hint."""
        self.frames, self.module_frames, self.module_name = frames, module_frames, module_name
        self._update()

    def _update(self) -> None:
        on = self.context_length.value() > 0
        for widget in (self.context_overlap, self.context_weighting, self.closed_loop, self.free_noise):
            widget.setEnabled(on)
        too_long = not on and self.module_frames is not None and self.frames > self.module_frames
        if too_long:
            name = f" {self.module_name}" if self.module_name else ""
            self.hint.setText(f"{self.frames} frames is more than the motion module{name} covers "
                              f"({self.module_frames}): use context windows ({SUGGESTED_CONTEXT} frames).")
        self.hint.setVisible(too_long)
        self.use_windows.setVisible(too_long)
        self.changed.emit()

    # -- the request -------------------------------------------------------------------------------------------

    def add_to(self, request: dict[str, Any]) -> None:
        if self.context_length.value():
            request.update(context_length=self.context_length.value(),
                           context_overlap=self.context_overlap.value(),
                           context_weighting=self.context_weighting.currentText(),
                           closed_loop=self.closed_loop.isChecked(), free_noise=self.free_noise.isChecked())
        if self.free_init.value():
            request["free_init"] = self.free_init.value()

    def load(self, request: dict[str, Any]) -> None:
        self.context_length.setValue(int(request.get("context_length", 0)))
        self.context_overlap.setValue(int(request.get("context_overlap", 4)))
        self.context_weighting.setCurrentText(str(request.get("context_weighting", WEIGHTINGS[0])))
        self.closed_loop.setChecked(bool(request.get("closed_loop", False)))
        self.free_noise.setChecked(bool(request.get("free_noise", False)))
        self.free_init.setValue(int(request.get("free_init", 0)))

    def widget_for(self, field: str) -> QWidget | None:
        return self.widgets.get(field.split(".")[0])

    def marked_widgets(self) -> list[QWidget]:
        return list(self.widgets.values())

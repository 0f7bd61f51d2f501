"""The live loss curve of a training: the `loss` of each progress event, drawn with QPainter.

Drawn here rather than fetched: the service writes `loss.png` only at checkpoints and at the end, while the
events carry every step's loss as it happens. Raw losses of diffusion training jump around a lot, so a
moving average is drawn over them (the trend a user reads), as the service's own plot does.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from backend.training.smoothing import moving_average  # stdlib only: the app bundle has no PIL

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 12, 12, 28
RAW_COLOR, TREND_COLOR = QColor(110, 150, 210), QColor(214, 96, 36)


class LossPlot(QWidget):
    """`add(step, loss)` per progress event, `clear()` for a new run; `total` fixes the x axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.total = 0
        self.setMinimumSize(360, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def clear(self, total: int = 0) -> None:
        self.steps, self.losses, self.total = [], [], total
        self.update()

    def add(self, step: int, loss: float, total: int) -> None:
        if self.steps and step <= self.steps[-1]:  # a replayed event (the stream reconnected): already drawn
            return
        self.steps.append(step)
        self.losses.append(loss)
        self.total = max(total, step)
        self.update()

    def set_losses(self, steps: list[int], losses: list[float], total: int) -> None:
        self.steps, self.losses, self.total = list(steps), list(losses), total
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        area = QRectF(MARGIN_LEFT, MARGIN_TOP, max(1, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
                      max(1, self.height() - MARGIN_TOP - MARGIN_BOTTOM))
        painter.setPen(QPen(text, 1))
        painter.drawRect(area)
        if not self.losses:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "The loss curve appears with the first step.")
            painter.end()
            return
        low, high = min(self.losses), max(self.losses)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        last = max(self.total, self.steps[-1], 2)

        def point(step: int, loss: float) -> QPointF:
            x = area.left() + (step - 1) / max(1, last - 1) * area.width()
            return QPointF(x, area.bottom() - (loss - low) / (high - low) * area.height())

        for values, color, width in ((self.losses, RAW_COLOR, 1.0),
                                     (moving_average(self.losses, max(1, len(self.losses) // 20)), TREND_COLOR, 2.0)):
            path = QPainterPath(point(self.steps[0], values[0]))
            for step, value in zip(self.steps[1:], values[1:], strict=True):
                path.lineTo(point(step, value))
            painter.setPen(QPen(color, width))
            painter.drawPath(path)
            if len(values) == 1:
                painter.drawEllipse(point(self.steps[0], values[0]), 2.5, 2.5)
        painter.setPen(QPen(text, 1))
        for value, y in ((high, area.top()), (low, area.bottom())):
            painter.drawText(QRectF(0, y - 8, MARGIN_LEFT - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{value:.4g}")
        painter.drawText(QRectF(area.left(), area.bottom() + 4, area.width(), 18), Qt.AlignmentFlag.AlignLeft, "1")
        painter.drawText(QRectF(area.left(), area.bottom() + 4, area.width(), 18), Qt.AlignmentFlag.AlignRight,
                         f"step {last}")
        painter.drawText(QRectF(area.left(), area.bottom() + 4, area.width(), 18), Qt.AlignmentFlag.AlignHCenter,
                         f"loss (blue), moving average (orange): step {self.steps[-1]}, {self.losses[-1]:.4g}")
        painter.end()

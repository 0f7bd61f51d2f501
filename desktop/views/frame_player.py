"""A frame player: loops a clip's PNG frames at its fps, with play/pause, a scrub slider and a frame counter.

A QTimer over QPixmaps is all it needs (no QtMultimedia, which the essentials wheel lacks): the frames are the
clip, exactly as the backend wrote them.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QStyle, QToolButton, QVBoxLayout, QWidget


class FramePlayer(QWidget):
    """`set_frames(pixmaps, fps)` then it plays; `frame_count`, `current` and `playing` tell its state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: list[QPixmap] = []
        self.fps = 8
        self.current = 0
        self.screen_label = QLabel("No clip yet")
        self.screen_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen_label.setMinimumSize(256, 256)
        # Ignored: the label must not grow to its pixmap (which is scaled to the label: a feedback loop).
        self.screen_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.screen_label.setStyleSheet("background: #202020; color: #bbbbbb;")
        self.play_button = QToolButton()
        self.play_button.setIconSize(QSize(20, 20))
        self.play_button.clicked.connect(self.toggle)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.show_frame)
        self.slider.sliderPressed.connect(self.pause)  # scrubbing stops the loop, as in any player
        self.counter = QLabel("0 / 0")
        self.counter.setMinimumWidth(80)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.screen_label, 1)
        layout.addLayout(controls)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self._update_controls()

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_frames(self, frames: list[QPixmap], fps: int, autoplay: bool = True) -> None:
        self.pause()
        self.frames, self.fps = frames, max(1, fps)
        self.timer.setInterval(round(1000 / self.fps))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(frames) - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.show_frame(0)
        if autoplay and len(frames) > 1:
            self.play()
        self._update_controls()

    def clear(self, text: str = "No clip yet") -> None:
        self.pause()
        self.frames = []
        self.slider.setRange(0, 0)
        self.screen_label.setPixmap(QPixmap())
        self.screen_label.setText(text)
        self.current = 0
        self._update_controls()

    def play(self) -> None:
        if len(self.frames) > 1:
            self.timer.start()
        self._update_controls()

    def pause(self) -> None:
        self.timer.stop()
        self._update_controls()

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def show_frame(self, index: int) -> None:
        if not self.frames:
            return
        self.current = index % len(self.frames)
        self._paint()
        if self.slider.value() != self.current:
            self.slider.blockSignals(True)
            self.slider.setValue(self.current)
            self.slider.blockSignals(False)
        self.counter.setText(f"{self.current + 1} / {len(self.frames)}")

    def _advance(self) -> None:
        self.show_frame(self.current + 1)  # loops: the modulo wraps the last frame to the first

    def _paint(self) -> None:
        pixmap = self.frames[self.current]
        area = self.screen_label.size()
        # Small clips (64x64 tests, 256 px drafts) are scaled up without smoothing so pixels stay honest.
        mode = Qt.TransformationMode.FastTransformation if pixmap.width() * 2 <= area.width() \
            else Qt.TransformationMode.SmoothTransformation
        self.screen_label.setPixmap(pixmap.scaled(area, Qt.AspectRatioMode.KeepAspectRatio, mode))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.frames:
            self._paint()

    def _update_controls(self) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if self.playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setToolTip("Pause" if self.playing else "Play")
        self.play_button.setEnabled(len(self.frames) > 1)
        self.slider.setEnabled(bool(self.frames))
        if not self.frames:
            self.counter.setText("0 / 0")

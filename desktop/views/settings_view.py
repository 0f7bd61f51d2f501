"""The Settings view: backend address, auto-start, output folder, theme (following the system by default).

Applying saves the INI file, switches the theme at once and reconnects when a backend setting changed.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backend.client import Health
from desktop.settings import THEMES, AppSettings, apply_theme
from desktop.views.common import message_label

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


class SettingsView(QWidget):
    """`applied(backend_changed: bool)` after the settings were saved."""

    applied = Signal(bool)

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.address = QLineEdit()
        self.address.setPlaceholderText("empty: the local backend (started when needed), or http://HOST:PORT")
        self.auto_start = QCheckBox("Start the backend when none is running")
        self.output_folder = QLineEdit()
        browse = QPushButton("Choose...")
        browse.clicked.connect(self.browse_output_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.output_folder, 1)
        folder_row.addWidget(browse)
        self.theme = QComboBox()
        for theme in THEMES:
            self.theme.addItem(THEME_LABELS[theme], theme)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.error = message_label()

        backend_box = QGroupBox("Backend")
        backend_form = QFormLayout(backend_box)
        backend_form.addRow("Address", self.address)
        backend_form.addRow("", self.auto_start)
        self.backend_info = QLabel("not connected")
        self.backend_info.setWordWrap(True)
        backend_form.addRow("Status", self.backend_info)
        output_box = QGroupBox("Output")
        output_form = QFormLayout(output_box)
        output_form.addRow("Export folder", folder_row)
        appearance_box = QGroupBox("Appearance")
        appearance_form = QFormLayout(appearance_box)
        appearance_form.addRow("Theme", self.theme)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        for w in (backend_box, output_box, appearance_box):
            layout.addWidget(w)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.load()

    def load(self) -> None:
        """Show the saved settings."""
        self.address.setText(self.settings.backend_address)
        self.auto_start.setChecked(self.settings.auto_start)
        self.output_folder.setText(self.settings.output_folder)
        self.theme.setCurrentIndex(max(0, self.theme.findData(self.settings.theme)))

    def browse_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.output_folder.text())
        if folder:
            self.output_folder.setText(folder)

    def apply(self) -> None:
        """Check, save, apply the theme; `applied(True)` when the backend must be reconnected."""
        candidate = AppSettings(backend_address=self.address.text().strip(), auto_start=self.auto_start.isChecked(),
                                output_folder=self.output_folder.text().strip(), theme=self.theme.currentData(),
                                path=self.settings.path)
        problem = candidate.address_problem()
        if problem:
            self.error.setText(problem)
            return
        self.error.setText("")
        backend_changed = (candidate.backend_address, candidate.auto_start) != (self.settings.backend_address,
                                                                                self.settings.auto_start)
        for name in ("backend_address", "auto_start", "output_folder", "theme"):
            setattr(self.settings, name, getattr(candidate, name))  # the one object every view reads
        self.settings.save()
        apply_theme(self.settings.theme)
        self.applied.emit(backend_changed)

    def show_health(self, url: str, health: Health, log_path: str) -> None:
        memory = f", {health.free_memory_bytes / 2**30:.1f} GiB free" if health.free_memory_bytes else ""
        self.backend_info.setText(f"{url} - version {health.version}, device {health.device}{memory}, "
                                  f"{health.queue_length} job(s) waiting, pid {health.pid}; log: {log_path}")

    def show_state(self, text: str) -> None:
        self.backend_info.setText(text)

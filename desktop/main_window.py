"""The main window: six views in tabs, the backend's state in a banner and the status bar, and the wiring.

The window shows at once; connecting (or starting) the backend happens in the background and the views are
enabled when it answers. Data flows one way: a view asks the client (off the GUI thread), the answer comes
back as a signal; the window only forwards job ids between views.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QPushButton, QTabWidget, QVBoxLayout, QWidget

from backend import __version__
from backend.client import Health
from desktop.backend_link import BackendLink
from desktop.settings import AppSettings
from desktop.views.common import ERROR_STYLE
from desktop.views.generate_view import GenerateView
from desktop.views.models_view import ModelsView
from desktop.views.queue_view import QueueView
from desktop.views.settings_view import SettingsView
from desktop.views.training_view import TrainingView
from desktop.views.watch_view import WatchView

TABS = ("generate", "watch", "queue", "models", "training", "settings")


class MainWindow(QMainWindow):
    """`MainWindow(settings)`; call `start()` to connect. Views: `.generate .watch .queue .models .training
    .settings_view`."""

    def __init__(self, settings: AppSettings, data_dir: Path | None = None, config_dir: Path | None = None,
                 start_timeout: float = 120.0) -> None:
        super().__init__()
        self.settings = settings
        self.setWindowTitle(f"AnimateDiff Studio {__version__}")
        self.resize(1180, 820)
        self.link = BackendLink(settings, data_dir, config_dir, start_timeout, parent=self)

        self.generate = GenerateView()
        self.watch = WatchView(self.link)
        self.queue = QueueView()
        self.models = ModelsView(self.link)
        self.training = TrainingView(self.link)
        self.settings_view = SettingsView(settings)
        self.tabs = QTabWidget()
        for view, title in ((self.generate, "Generate"), (self.watch, "Watch"), (self.queue, "Queue && history"),
                            (self.models, "Models"), (self.training, "Training"), (self.settings_view, "Settings")):
            self.tabs.addTab(view, title)

        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.link.connect_backend)
        self.banner = QWidget()
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.backend_status = QLabel()
        self.statusBar().addPermanentWidget(self.backend_status, 1)

        self.link.changed.connect(self._on_backend_state)
        self.link.health_updated.connect(self._on_health)
        self.generate.submitted.connect(self._on_submitted)
        self.watch.progressed.connect(self.queue.set_progress)
        self.watch.job_ended.connect(lambda _job: self.queue.refresh())
        self.queue.watch_requested.connect(self.show_job)
        self.queue.training_requested.connect(self.show_training)
        self.queue.resubmitted.connect(self.show_job)
        self.queue.edit_requested.connect(self._edit_request)
        self.models.models_changed.connect(self.generate.refresh_models)
        self.models.models_changed.connect(self.training.refresh_models)
        # A trained MotionLoRA is a new file in the store: the Models tab lists it, and its listing refreshes the
        # pickers (Generate's MotionLoRA choices among them).
        self.training.trained.connect(lambda _name: self.models.refresh())
        self.training.trained.connect(lambda _name: self.queue.refresh())
        self.settings_view.applied.connect(self._on_settings_applied)
        self._on_backend_state("idle", "not connected")

    def start(self) -> None:
        """Connect to (or start) the backend in the background."""
        self.link.connect_backend()

    def view(self, name: str) -> QWidget:
        return self.tabs.widget(TABS.index(name))

    def show_view(self, name: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(name))

    def show_job(self, job_id: str) -> None:
        self.watch.watch(job_id)
        self.queue.refresh()
        self.queue.select(job_id)
        self.show_view("watch")

    def show_training(self, job_id: str) -> None:
        """A training job picked in the history: the Training view follows it (progress, curve, result)."""
        self.training.follow(job_id)
        self.show_view("training")

    def _on_submitted(self, job_id: str, _request: dict) -> None:
        self.show_job(job_id)

    def _edit_request(self, request: dict, seed: object) -> None:
        self.generate.load_request(request, seed if isinstance(seed, int) else None)
        self.show_view("generate")

    def _on_settings_applied(self, backend_changed: bool) -> None:
        if backend_changed:
            self.link.connect_backend()

    def _on_backend_state(self, state: str, text: str) -> None:
        client = self.link.client if state == "connected" else None
        self.generate.set_client(client)
        self.queue.set_client(client)
        self.training.set_client(client)
        if client is not None:
            self.models.set_client_ready()
        self.settings_view.show_state(text)
        failed = state == "failed"
        self.banner.setVisible(state != "connected")
        self.retry_button.setVisible(failed)
        self.banner_text.setStyleSheet(ERROR_STYLE if failed else "")
        self.banner_text.setText(f"Backend: {text}" if not failed else f"The backend is not available: {text}")
        self.backend_status.setText({"connected": "Backend connected", "failed": "Backend not available",
                                     "starting": "Starting the backend...", "connecting": "Connecting..."}
                                    .get(state, "Not connected"))

    def _on_health(self, health: Health) -> None:
        client = self.link.client
        url = client.base_url if client is not None else ""
        self.backend_status.setText(f"Backend {url} - {health.device} - {health.queue_length} job(s) waiting")
        self.settings_view.show_health(url, health, str(self.link.log_path))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # The backend keeps running: a job in progress finishes, and Blender may be using the same service.
        self.queue.timer.stop()
        self.watch.player.pause()
        super().closeEvent(event)

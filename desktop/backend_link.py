"""The app's connection to the service: attach to a running one or start it, then watch that it stays up.

States (`BackendLink.state`): `connecting` -> `starting` (only when it had to start one) -> `connected`, or
`failed` with the reason (a `BackendStartError` carries the log path and its last lines). All of it runs in
a daemon thread; the window only listens to `changed`.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from backend.client import (
    DEFAULT_PORT,
    ApiError,
    BackendStartError,
    Client,
    Health,
    attach,
    ensure_backend,
    user_config_dir,
    user_data_dir,
)
from desktop.settings import AppSettings
from desktop.workers import describe_error, run_task

HEALTH_POLL_MS = 5000  # often enough to notice a dead backend, rare enough to cost nothing


def serve_command(port: int) -> list[str]:
    """How to start the service: the bundle runs `serve` itself; from source, this interpreter runs the CLI."""
    if getattr(sys, "frozen", False):  # PyInstaller: sys.executable is the app, whose entry point has `serve`
        return [sys.executable, "serve", "--port", str(port)]
    return [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)]


class BackendLink(QObject):
    """Holds the `Client` once connected. `changed(state, text)` is emitted on the GUI thread."""

    changed = Signal(str, str)
    health_updated = Signal(object)  # Health
    _raw_changed = Signal(str, str, object)  # from the connecting thread: state, text, client-or-None

    def __init__(self, settings: AppSettings, data_dir: Path | None = None, config_dir: Path | None = None,
                 start_timeout: float = 120.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.data_dir, self.config_dir = data_dir or user_data_dir(), config_dir or user_config_dir()
        self.start_timeout = start_timeout
        self.client: Client | None = None
        self.state, self.text = "idle", ""
        self.log_path = self.data_dir / "logs" / "server.log"
        self._raw_changed.connect(self._on_raw_changed)
        self._health_timer = QTimer(self)
        self._health_timer.setInterval(HEALTH_POLL_MS)
        self._health_timer.timeout.connect(self.poll_health)
        self._polling = False

    @property
    def is_local(self) -> bool:
        """The service runs on this machine, so its model store and job folders are local files."""
        return self.settings.address_is_local()

    def connect_backend(self) -> None:
        """Start connecting (returns at once); the outcome arrives through `changed`."""
        if self.state in ("connecting", "starting"):
            return
        self.client = None
        self._health_timer.stop()
        self._set("connecting", self._where())
        threading.Thread(target=self._connect, name="desktop-backend-link", daemon=True).start()

    def _where(self) -> str:
        return f"connecting to {self.settings.backend_address or 'the local backend'}..."

    def _connect(self) -> None:
        problem = self.settings.address_problem()
        if problem:
            self._raw_changed.emit("failed", problem, None)
            return
        try:
            client = self._attach_or_start()
        except BackendStartError as exc:
            self._raw_changed.emit("failed", str(exc), None)
            return
        except Exception as exc:  # noqa: BLE001 - any failure is shown as the reason in the window
            self._raw_changed.emit("failed", describe_error(exc), None)
            return
        self._raw_changed.emit("connected", f"connected to {client.base_url}", client)

    def _attach_or_start(self) -> Client:
        address = self.settings.backend_address
        port = DEFAULT_PORT
        if address:
            client = self._attach_to(address)
            if client is not None:
                return client
            port = urlsplit(address).port or DEFAULT_PORT
            if not self.is_local:
                raise ConnectionError(f"no backend answers at {address}; start `animatediff-studio serve "
                                      "--host ... --allow-remote` there, or clear the address in Settings")
        else:
            client = attach(self.data_dir, self.config_dir)
            if client is not None:
                return client
        if not self.settings.auto_start:
            raise ConnectionError(f"no backend is running ({address or 'none in ' + str(self.data_dir)}); start "
                                  "one with `animatediff-studio serve`, or turn on auto-start in Settings")
        self._raw_changed.emit("starting", f"starting the backend (log: {self.log_path})...", None)
        return ensure_backend(command=serve_command(port), data_dir=self.data_dir, config_dir=self.config_dir,
                              start_timeout=self.start_timeout)

    def _attach_to(self, address: str) -> Client | None:
        try:
            token = (self.config_dir / "token").read_text().strip()
        except OSError:
            token = ""  # /v1/health needs none; the first authorised call then says the token is missing
        client = Client(address, token)
        try:
            client.health(timeout=2.0)
        except (OSError, ApiError, ValueError):
            return None
        return client

    @Slot(str, str, object)
    def _on_raw_changed(self, state: str, text: str, client: object) -> None:
        if state == "connected":
            self.client = client  # type: ignore[assignment]
            self._health_timer.start()
            self.poll_health()
        self._set(state, text)

    def _set(self, state: str, text: str) -> None:
        self.state, self.text = state, text
        self.changed.emit(state, text)

    def poll_health(self) -> None:
        """Ask `/v1/health` in the background; a backend that stopped answering turns the state to `failed`."""
        client = self.client
        if client is None or self._polling:
            return
        self._polling = True

        def done(health: Health) -> None:
            self._polling = False
            self.health_updated.emit(health)

        def lost(exc: BaseException) -> None:
            self._polling = False
            if self.client is client:
                self.client = None
                self._health_timer.stop()
                self._set("failed", f"the backend stopped answering ({describe_error(exc)}); "
                                    f"its log: {self.log_path}")

        run_task(self, lambda: client.health(timeout=3.0), done, lost, name="health")

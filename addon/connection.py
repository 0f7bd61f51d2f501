"""Reaching the service: attach to it, or start it, and say in one sentence why not.

Everything here that touches the network runs in a background thread (see `background.py`); the
preferences are read on the main thread first, into a `ServiceSettings` snapshot.
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .service_client import client_module

if TYPE_CHECKING:
    from .service_client import Client

HEALTH_TIMEOUT = 15.0  # seconds: /v1/health is instant, but a busy machine may be slow to schedule the service
DEFAULT_PORT = 7865  # the service's (backend/client.py DEFAULT_PORT)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ServiceUnavailable(Exception):
    """The service cannot be reached or started; the message says what to change."""


@dataclass(frozen=True)
class ServiceSettings:
    """A snapshot of the add-on preferences (threads must not read Blender data)."""

    address: str = ""
    token: str = ""
    start_backend: bool = True
    backend_program: str = ""
    port: int = DEFAULT_PORT
    online_access: bool = True  # Blender's "Allow Online Access": required for a service on another machine

    @classmethod
    def from_preferences(cls, prefs, online_access: bool) -> ServiceSettings:  # noqa: ANN001 - AddonPreferences
        return cls(prefs.address.strip(), prefs.token.strip(), prefs.start_backend, prefs.backend_program.strip(),
                   prefs.port, online_access)


_lock = threading.Lock()
_connected: tuple[ServiceSettings, Client] | None = None


def get_client(settings: ServiceSettings) -> Client:
    """The client for `settings`: the one already connected, or a new connection (may start the service)."""
    global _connected
    with _lock:
        if _connected is not None and _connected[0] == settings:
            return _connected[1]
    new = connect(settings)
    with _lock:
        _connected = (settings, new)
    return new


def current_client() -> Client | None:
    """The client of the last successful connection, if any (no network call)."""
    with _lock:
        return _connected[1] if _connected is not None else None


def forget() -> None:
    """Drop the cached connection: the next call connects again (after the service went away)."""
    global _connected
    with _lock:
        _connected = None


def connect(settings: ServiceSettings) -> Client:
    """Attach to the service the settings describe, or start it; raises `ServiceUnavailable` with a sentence."""
    if settings.address:
        return _connect_to_address(settings)
    client = client_module()
    found = client.attach()
    if found is not None:
        return found
    if not settings.start_backend:
        raise ServiceUnavailable(
            f"No AnimateDiff Studio service is running on this computer (no answering server.json in "
            f"{client.user_data_dir()}). Start one with `animatediff-studio serve`, or turn on \"Start the Service "
            "Automatically\" in the add-on preferences")
    if not settings.backend_program:
        raise ServiceUnavailable(
            "No AnimateDiff Studio service is running, and Backend Program is empty in the add-on preferences: set it "
            "to the Python that has AnimateDiff Studio installed (or its animatediff-studio executable), or start the "
            "service yourself with `animatediff-studio serve`")
    program = Path(settings.backend_program).expanduser()
    if not program.is_file():
        raise ServiceUnavailable(
            f"Backend Program: {str(program)!r} is not a file; expected the Python that has AnimateDiff Studio "
            "installed (e.g. .venv/bin/python) or its animatediff-studio executable")
    try:
        return client.ensure_backend(command=serve_command(program, settings.port), port=settings.port)
    except client.BackendStartError as exc:
        raise ServiceUnavailable(f"Could not start the AnimateDiff Studio service: {exc}") from exc
    except OSError as exc:  # the program could not be executed at all
        raise ServiceUnavailable(f"Backend Program: cannot run {str(program)!r} ({exc.strerror or exc})") from exc


def serve_command(program: Path, port: int) -> list[str]:
    """`python -m backend.cli serve` for a Python interpreter, `animatediff-studio serve` for the executable."""
    if program.name.lower().startswith("python"):
        return [str(program), "-m", "backend.cli", "serve", "--port", str(port)]
    return [str(program), "serve", "--port", str(port)]


def _connect_to_address(settings: ServiceSettings) -> Client:
    url = settings.address if "://" in settings.address else f"http://{settings.address}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ServiceUnavailable(f"Service Address: {settings.address!r} is not accepted; expected "
                                 "http://HOST:PORT, e.g. http://127.0.0.1:7865")
    if parts.hostname not in LOOPBACK_HOSTS and not settings.online_access:
        raise ServiceUnavailable(f"Service Address: {settings.address!r} is on another machine, and Blender's "
                                 "\"Allow Online Access\" is off (Preferences > System > Network)")
    token = settings.token or _read_token_file()
    service = client_module().Client(f"{parts.scheme}://{parts.netloc}", token)
    try:
        service.health(timeout=HEALTH_TIMEOUT)
    except OSError as exc:
        raise ServiceUnavailable(unreachable_message(service.base_url, exc)) from exc
    return service


def _read_token_file() -> str:
    path = client_module().user_config_dir() / "token"
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ServiceUnavailable(f"Token: empty, and the token file {path} cannot be read ({exc.strerror or exc}); "
                                 "paste the service's token into the add-on preferences") from exc


def unreachable_message(url: str, exc: OSError) -> str:
    reason = "it did not answer in time" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
    return (f"Cannot reach the AnimateDiff Studio service at {url} ({reason}). Is it running? Start it with "
            "`animatediff-studio serve`, or set Backend Program in the add-on preferences to start it automatically")


def describe_error(exc: BaseException, url: str | None = None) -> str:
    """One sentence for a report: the service's own sentence when it answered, else what went wrong where."""
    if isinstance(exc, ServiceUnavailable):
        return str(exc)
    if isinstance(exc, client_module().ApiError):
        if exc.status == 401:
            return f"The service refused the token ({exc.message}); check Token in the add-on preferences"
        return exc.message or str(exc)
    if isinstance(exc, OSError):
        return unreachable_message(url or "its address", exc)
    return f"{type(exc).__name__}: {exc}"

"""A service that is down, missing or misconfigured gives a report that says what to do, never a traceback."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import bpy
import pytest

from tests.addon.conftest import ADDON, backend_python, drive, quick_settings


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefs():  # noqa: ANN201
    return bpy.context.preferences.addons[ADDON].preferences


def connect() -> bpy.types.PropertyGroup:
    assert bpy.ops.animatediff.connect() == {"FINISHED"}
    drive(timeout=180)
    return bpy.context.window_manager.animatediff


def test_connect_to_a_closed_port_reports(capfd: pytest.CaptureFixture) -> None:
    port = closed_port()
    prefs().address, prefs().token = f"127.0.0.1:{port}", "whatever"
    state = connect()
    assert state.connection == "FAILED"
    assert state.message_level == "ERROR"
    assert state.message.startswith(f"Cannot reach the AnimateDiff Studio service at http://127.0.0.1:{port} "
                                    "(Connection refused)")
    assert "Traceback" not in capfd.readouterr().err


def test_generate_with_the_service_down_reports(capfd: pytest.CaptureFixture) -> None:
    prefs().address, prefs().token = f"http://127.0.0.1:{closed_port()}", "whatever"
    quick_settings(bpy.context.scene)
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    drive()
    state = bpy.context.window_manager.animatediff
    assert (state.job_status, state.connection, state.message_level) == ("FAILED", "FAILED", "ERROR")
    assert "Cannot reach the AnimateDiff Studio service" in state.message
    assert bpy.ops.animatediff.generate.poll()  # a failed job does not block the next one
    assert "Traceback" not in capfd.readouterr().err


def test_no_service_and_no_backend_program_reports() -> None:
    # tests/conftest.py points the data dir at an empty folder: no server.json to attach to.
    state = connect()
    assert state.connection == "FAILED"
    assert "Backend Program is empty" in state.message
    prefs().start_backend = False
    state = connect()
    assert "No AnimateDiff Studio service is running on this computer" in state.message
    assert os.environ["ANIMATEDIFF_STUDIO_DATA_DIR"] in state.message


def test_backend_program_that_is_not_a_file_reports(tmp_path: Path) -> None:
    prefs().backend_program = str(tmp_path / "missing" / "python")
    state = connect()
    assert state.connection == "FAILED"
    assert state.message == (f"Backend Program: {str(tmp_path / 'missing' / 'python')!r} is not a file; expected the "
                             "Python that has AnimateDiff Studio installed (e.g. .venv/bin/python) or its "
                             "animatediff-studio executable")


def test_backend_program_that_cannot_serve_reports_with_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'No module named backend' >&2\nexit 1\n")
    fake.chmod(0o755)
    prefs().backend_program = str(fake)
    state = connect()
    assert state.connection == "FAILED"
    assert state.message.startswith("Could not start the AnimateDiff Studio service: the backend exited with code 1")
    assert "No module named backend" in state.message  # the log's last lines


def test_bad_address_and_token_are_named() -> None:
    prefs().address = "ftp://example"
    state = connect()
    assert state.message == ("Service Address: 'ftp://example' is not accepted; expected http://HOST:PORT, "
                             "e.g. http://127.0.0.1:7865")


def test_wrong_token_is_reported(service) -> None:  # noqa: ANN001 - tests.addon.conftest.Service
    prefs().address, prefs().token = service.url, "not-the-token"
    state = connect()
    assert state.connection == "FAILED"
    assert state.message.startswith("The service refused the token")


def test_starts_the_service_with_the_backend_python() -> None:
    """Address empty, Start Automatically on: Connect starts `python -m backend.cli serve` and attaches to it."""
    from addon.connection import current_client

    prefs().backend_program, prefs().port = backend_python(), 0
    data_dir = Path(os.environ["ANIMATEDIFF_STUDIO_DATA_DIR"])  # private to this test (tests/conftest.py)
    try:
        state = connect()
        assert state.connection == "CONNECTED", state.message
        client = current_client()
        assert client.process is not None and client.process.poll() is None  # started by the add-on
        assert (data_dir / "server.json").is_file() and (data_dir / "logs" / "server.log").is_file()
        assert client.health().pid == client.process.pid
        # Connect again: it attaches to the running service instead of starting another.
        state = connect()
        assert state.connection == "CONNECTED"
        assert current_client().process is None and current_client().health().pid == client.process.pid
    finally:
        _stop_service_in(data_dir)


def _stop_service_in(data_dir: Path) -> None:
    """Stop the service this test started (it runs in its own session, so it outlives a failed test)."""
    import json
    import signal

    try:
        pid = json.loads((data_dir / "server.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)

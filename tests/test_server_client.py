"""The stdlib client: light import, same folders as platformdirs, attach-or-start with clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from server_fixtures import REPO, ServiceProcess, session_server

from backend.client import BackendStartError, attach, ensure_backend, user_config_dir, user_data_dir


@pytest.fixture(scope="session")
def server() -> ServiceProcess:
    return session_server()


def test_client_imports_fast_without_heavy_packages() -> None:
    code = ("import sys, time; t = time.perf_counter(); import backend.client; dt = time.perf_counter() - t; "
            "heavy = [m for m in ('torch', 'diffusers', 'pydantic', 'fastapi', 'platformdirs') if m in sys.modules]; "
            "print(dt, heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    seconds, heavy = out.split(" ", 1)
    assert float(seconds) < 0.5 and heavy.strip() == "[]"


def test_client_folders_match_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from models.paths import config_dir, data_dir

    for var in ("ANIMATEDIFF_STUDIO_DATA_DIR", "ANIMATEDIFF_STUDIO_CONFIG_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert (user_data_dir(), user_config_dir()) == (data_dir(), config_dir())
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xd"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xc"))
    assert (user_data_dir(), user_config_dir()) == (data_dir(), config_dir())


def test_ensure_backend_attaches_to_the_running_service(server: ServiceProcess) -> None:
    client = ensure_backend(data_dir=server.data_dir, config_dir=server.config_dir,
                            command=[sys.executable, "-c", "raise SystemExit('must not start a second one')"])
    assert client.process is None
    assert client.health().pid == server.pid


def test_ensure_backend_reports_the_log_when_the_service_cannot_start(tmp_path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('port already taken, giving up'); sys.exit(3)"]
    with pytest.raises(BackendStartError) as err:
        ensure_backend(data_dir=tmp_path / "d", config_dir=tmp_path / "c", command=cmd, start_timeout=30)
    message = str(err.value)
    assert "code 3" in message and str(tmp_path / "d" / "logs" / "server.log") in message
    assert "port already taken" in message


def test_attach_returns_none_for_a_stale_server_file(tmp_path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "d" / "server.json").write_text('{"host": "127.0.0.1", "port": 9, "pid": 1}')
    (tmp_path / "c" / "token").write_text("x")
    assert attach(tmp_path / "d", tmp_path / "c", timeout=0.5) is None

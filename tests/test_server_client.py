"""The stdlib client: light import, same folders as platformdirs, attach-or-start with clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from server_fixtures import REPO, ServiceProcess, session_server, tiny_request

from backend.client import (
    BackendStartError,
    attach,
    ensure_backend,
    service_alive,
    user_config_dir,
    user_data_dir,
)


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


def test_a_second_service_on_the_same_data_folder_is_refused(server: ServiceProcess) -> None:
    env = {**os.environ, "ANIMATEDIFF_STUDIO_DATA_DIR": str(server.data_dir),
           "ANIMATEDIFF_STUDIO_CONFIG_DIR": str(server.config_dir)}
    job_id = server.client.submit(tiny_request(steps=200))
    proc = subprocess.run([sys.executable, "-m", "backend.cli", "serve", "--port", "0"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "already served by another running service" in proc.stderr
    assert server.client.job(job_id).status in ("queued", "running")  # the first service's job is untouched
    server.client.cancel(job_id)
    assert server.client.wait(job_id).status == "cancelled"


def test_ensure_backend_waits_for_a_live_service_instead_of_starting_another(tmp_path) -> None:
    data, config = tmp_path / "d", tmp_path / "c"
    data.mkdir()
    config.mkdir()
    (config / "token").write_text("x")
    (data / "server.json").write_text('{"host": "127.0.0.1", "port": 9, "pid": 1}')  # nothing answers there
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); time.sleep(60)"), str(data / "server.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert service_alive(data)
        marker = tmp_path / "started"
        with pytest.raises(BackendStartError) as err:
            ensure_backend(data_dir=data, config_dir=config, start_timeout=1.5,
                           command=[sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
        assert "is running" in str(err.value) and not marker.exists()
    finally:
        holder.kill()
        holder.wait()
    assert not service_alive(data)  # the OS dropped the lock with the process

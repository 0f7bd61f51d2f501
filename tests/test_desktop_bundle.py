"""`desktop --selftest DIR` from the source tree and from a PyInstaller build of `build.spec` (app part).

The build test builds the app-only variant (`ADS_BUNDLE_APP_ONLY=1`): torch, diffusers and the service's web
stack are left out, because torch alone adds ~1 GB and minutes of analysis on a 2-core runner. The built
executable then runs its self-test against a real backend started from the venv: every view, one generation,
screenshots; missing modules or Qt plugins in the bundle fail it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from desktop_fixtures import REPO, desktop_service
from PySide6.QtGui import QImage
from server_fixtures import ServiceProcess

from desktop.main_window import TABS


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def _env(service: ServiceProcess) -> dict[str, str]:
    # The app finds the running service through server.json and the token in these folders.
    return {**os.environ, "ANIMATEDIFF_STUDIO_DATA_DIR": str(service.data_dir),
            "ANIMATEDIFF_STUDIO_CONFIG_DIR": str(service.config_dir), "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(REPO)}


def _check_selftest(out: subprocess.CompletedProcess, shots: Path) -> None:
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[selftest] player holds 4 frames" in out.stdout and "self-test passed" in out.stdout
    for index, name in enumerate(TABS, 1):
        image = QImage(str(shots / f"{index}-{name}.png"))
        assert not image.isNull() and image.width() >= 800 and image.height() >= 600, name


def test_selftest_from_source(service: ServiceProcess, tmp_path) -> None:
    shots = tmp_path / "shots"
    out = subprocess.run([sys.executable, "-m", "backend.cli", "desktop", "--selftest", str(shots),
                          "--selftest-timeout", "120", "--settings", str(tmp_path / "d.ini")],
                         env=_env(service), cwd=REPO, capture_output=True, text=True, timeout=180)
    _check_selftest(out, shots)


def test_selftest_fails_with_the_reason_when_no_backend(tmp_path) -> None:
    env = {**os.environ, "ANIMATEDIFF_STUDIO_DATA_DIR": str(tmp_path / "d"), "PYTHONPATH": str(REPO),
           "ANIMATEDIFF_STUDIO_CONFIG_DIR": str(tmp_path / "c"), "QT_QPA_PLATFORM": "offscreen"}
    settings = tmp_path / "d.ini"
    settings.write_text("[backend]\nauto_start=false\n")
    out = subprocess.run([sys.executable, "-m", "backend.cli", "desktop", "--selftest", str(tmp_path / "shots"),
                          "--settings", str(settings)], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "self-test FAILED: the backend is not available: no backend is running" in out.stdout


def test_pyinstaller_build_of_the_app_runs_its_selftest(service: ServiceProcess, tmp_path) -> None:
    pytest.importorskip("PyInstaller")
    build = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                            "--distpath", str(tmp_path / "dist"), "--workpath", str(tmp_path / "build"),
                            str(REPO / "build.spec")], env={**os.environ, "ADS_BUNDLE_APP_ONLY": "1"}, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-4000:]
    bundle = tmp_path / "dist" / "AnimateDiffStudio"
    exe = bundle / ("AnimateDiffStudio.exe" if os.name == "nt" else "AnimateDiffStudio")
    assert exe.is_file()
    assert not list(bundle.rglob("libtorch*"))  # the app part only

    shots = tmp_path / "shots"
    out = subprocess.run([str(exe), "--selftest", str(shots), "--selftest-timeout", "120", "--settings",
                          str(tmp_path / "d.ini")], env=_env(service), capture_output=True, text=True, timeout=180)
    _check_selftest(out, shots)

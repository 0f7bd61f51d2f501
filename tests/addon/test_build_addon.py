"""`animatediff-studio build-addon` writes an extension zip that Blender validates, installs and generates with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.addon.conftest import BLENDER_EXT, REPO, Service, backend_env, backend_python

_BUILD = ("import sys; from backend.cli import main; rc = main(['build-addon', '--out', sys.argv[1]]); "
          "print(sorted(m for m in ('torch', 'diffusers', 'fastapi', 'PySide6') if m in sys.modules)); sys.exit(rc)")


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built by the backend's interpreter, the way a user runs the command."""
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([backend_python(), "-c", _BUILD, str(out)], cwd=REPO, env={**os.environ, **backend_env()},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]", "build-addon imported heavy modules: " + run.stdout
    return out / "animatediff_studio-0.1.0.zip"


def test_zip_holds_the_addon_and_a_copy_of_the_client(built_zip: Path) -> None:
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
        assert zf.read("vendor/client.py") == (REPO / "backend" / "client.py").read_bytes()
        assert zf.read("blender_manifest.toml") == (REPO / "addon" / "blender_manifest.toml").read_bytes()
    sources = {p.relative_to(REPO / "addon").as_posix() for p in (REPO / "addon").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert names == sources | {"vendor/__init__.py", "vendor/client.py"}


def test_zip_is_valid_and_reproducible(built_zip: Path, tmp_path: Path) -> None:
    check = subprocess.run([sys.executable, str(BLENDER_EXT), "validate", str(built_zip)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0 and "Success" in check.stdout, check.stdout + check.stderr
    again = subprocess.run([backend_python(), "-m", "backend.cli", "build-addon", "--out", str(tmp_path)], cwd=REPO,
                           env={**os.environ, **backend_env()}, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Blender extension written to" in again.stdout
    assert (tmp_path / built_zip.name).read_bytes() == built_zip.read_bytes()


def test_installed_extension_generates_with_its_vendored_client(built_zip: Path, connected: Service,
                                                                tmp_path: Path) -> None:
    """A fresh Blender, outside the repository, installs the zip as a user would and runs a job through it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(BLENDER_USER_RESOURCES=str(tmp_path / "blender"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("installed_extension_check.py")),
                          str(built_zip), connected.url, connected.token], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    installed = tmp_path / "blender" / "extensions" / "user_default" / "animatediff_studio"
    assert Path(report["client_module"]) == installed / "vendor" / "client.py"
    assert not report["repository_importable"]  # nothing but the zip could have been used
    assert (report["connection"], report["models"]) == ("CONNECTED", ["tiny_base"]), report["connection_message"]
    assert report["job_status"] == "SUCCEEDED", report["message"]
    assert (report["image_source"], report["frames"]) == ("SEQUENCE", 4)
    # An unsaved file keeps its frames in the extension's own user folder.
    assert Path(report["image_filepath"]).is_relative_to(tmp_path / "blender" / "extensions")
    assert Path(report["image_filepath"]).is_file()
    assert report["timer_left"] is False

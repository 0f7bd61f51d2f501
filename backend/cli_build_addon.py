"""`animatediff-studio build-addon --out DIR`: write the Blender extension zip (install it in Blender 4.2+ with
Edit > Preferences > Get Extensions > Install from Disk).

The zip holds the `addon/` package as Blender's own `extension build` lays it out (the manifest at the
root), plus `vendor/client.py`: a copy of `backend/client.py` made now, so the installed add-on needs nothing
else. The repository keeps one copy of the client (see `addon/service_client.py`). Standard library only:
no torch, no bpy.
"""

from __future__ import annotations

import argparse
import importlib.util
import tomllib
import zipfile
from pathlib import Path

from backend import __version__
from models.errors import InvalidInputError

# What never goes into the zip: caches, and a vendored client left in the tree by hand (the build writes its own).
_EXCLUDED_DIRS = frozenset({"__pycache__", "vendor", ".git"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".zip")
_ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip, byte for byte
VENDOR_INIT = '"""Third-party code copied in by `animatediff-studio build-addon`: the service client."""\n'


def add_build_addon_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-addon", help="write the Blender add-on (extension zip)",
                       description="Write the Blender 4.2+ extension zip of the AnimateDiff Studio add-on.")
    p.add_argument("--out", default="dist", type=Path, help="folder for the zip (default: ./dist)")
    p.set_defaults(func=run_build_addon)


def run_build_addon(args: argparse.Namespace) -> int:
    path = build_addon_zip(args.out)
    print(f"Blender extension written to {path}")
    print("Install it in Blender 4.2+: Edit > Preferences > Get Extensions > (menu) Install from Disk...")
    return 0


def package_dirs() -> tuple[Path, Path]:
    """The add-on's source folder and the client module, found without importing either (`addon` imports bpy)."""
    addon_spec = importlib.util.find_spec("addon")
    client_spec = importlib.util.find_spec("backend.client")
    if addon_spec is None or not addon_spec.submodule_search_locations or client_spec is None:
        raise InvalidInputError("build-addon: the `addon` package is not installed next to `backend`; run from the "
                                "source tree or a full install", field="addon")
    return Path(next(iter(addon_spec.submodule_search_locations))), Path(client_spec.origin)


def build_addon_zip(out_dir: Path) -> Path:
    """Write `<id>-<version>.zip` into `out_dir` and return its path."""
    addon_dir, client_file = package_dirs()
    manifest_path = addon_dir / "blender_manifest.toml"
    if not manifest_path.is_file():
        raise InvalidInputError(f"build-addon: {manifest_path} is missing; the add-on cannot be built without its "
                                "manifest", field="addon")
    manifest = tomllib.loads(manifest_path.read_text())
    if manifest.get("version") != __version__:
        raise InvalidInputError(f"build-addon: blender_manifest.toml version {manifest.get('version')!r} is not the "
                                f"project's {__version__!r}; update the manifest", field="version")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(addon_dir.rglob("*")):
            rel = path.relative_to(addon_dir)
            if path.is_dir() or _EXCLUDED_DIRS.intersection(rel.parts) or path.name.endswith(_EXCLUDED_SUFFIXES):
                continue
            _write(zf, rel.as_posix(), path.read_bytes())
        _write(zf, "vendor/__init__.py", VENDOR_INIT.encode())
        _write(zf, "vendor/client.py", client_file.read_bytes())
    tmp.replace(target)  # a half-written zip never carries the final name
    return target


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)

"""`ModelManager`: the model manager's one entry point for the CLI and the service.

It owns the index and the roots and keeps the listing fresh: `list` first runs a detection-only pass (new or
changed files are read by header, nothing is hashed) at most every couple of seconds, so a file dropped into
a root shows up without an explicit scan, while `scan(hash_files=True)` is what computes SHA-256s.

Example:
    >>> manager = ModelManager()
    >>> manager.add_root(Path("~/ComfyUI").expanduser())           # a ComfyUI install, recognised as one
    >>> [m.name for m in manager.list("motion-modules")]
    ['mm_sd_v15_v2', 'v3_sd15_mm']
    >>> manager.check(base="dreamshaper_8", motion_module="v3_sd15_mm", camera=[("zoom-in", 1.0)]).ok
    False
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from models.camera import CAMERA_MOVES
from models.catalog import OFFICIAL_FILES, OfficialFile, official_for_move
from models.detect import DETECTOR_VERSION, detect, signature
from models.errors import InvalidInputError, ModelNotFoundError
from models.hashing import sha256_path
from models.index import ModelIndex, ModelRecord, with_notes
from models.kinds import STORE_FOLDER_KINDS, kinds_for_filter
from models.preflight import CheckReport, check_names
from models.resolve import resolve_camera_move, resolve_model
from models.roots import ModelRoot, current_roots, describe_root
from models.scan import ScanProgress, ScanReport, model_name, scan
from models.store import ImportResult, import_model, remove_model


class ModelManager:
    """Thread-safe: scans are serialised; listing and checks may run beside them."""

    REFRESH_EVERY_S = 2.0  # a picker polling the list must not turn into a walk per request

    def __init__(self, index: ModelIndex | None = None) -> None:
        self.index = index or ModelIndex()
        self._scan_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refreshed_at = 0.0

    def close(self) -> None:
        self.index.close()

    # roots

    def roots(self) -> list[ModelRoot]:
        return current_roots(self.index.user_roots())

    def add_root(self, path: Path) -> ModelRoot:
        """Remember a folder (a ComfyUI/A1111 install is recognised) and index what it holds (no hashing)."""
        path = path.expanduser()
        if not path.is_dir():
            raise InvalidInputError(f"path: {path} is not a folder; give the folder of a ComfyUI or A1111 install, "
                                    "or any folder of model files", field="path")
        root = describe_root(path.resolve(), "user")
        self.index.add_user_root(str(root.path))
        self.refresh(force=True)
        return root

    def remove_root(self, path: Path) -> bool:
        """Forget a user root and its index rows (its files are not touched)."""
        removed = self.index.remove_user_root(str(describe_root(path.expanduser().resolve()).path))
        removed = removed or self.index.remove_user_root(str(path))
        if not removed:
            raise ModelNotFoundError(f"path: {path} is not one of the added roots "
                                     f"({', '.join(self.index.user_roots()) or 'none added'})", field="path")
        return True

    # scanning

    def scan(self, *, hash_files: bool = True, progress: Callable[[ScanProgress], None] | None = None) -> ScanReport:
        with self._scan_lock:
            report = scan(self.index, self.roots(), hash_files=hash_files, progress=progress)
            self._refreshed_at = time.monotonic()
            return report

    def refresh(self, force: bool = False) -> None:
        """A detection-only pass if the last one is older than REFRESH_EVERY_S (or `force`d).

        Skipped, never waited for, while a hashing scan runs: it may take minutes, and the caller is a request.
        """
        # Callers arriving while a detection pass runs wait for it (it reads headers: milliseconds a file) and
        # then find the index fresh; without this, the first requests of a new service listed an empty index.
        with self._refresh_lock:
            if not force and time.monotonic() - self._refreshed_at < self.REFRESH_EVERY_S:
                return
            if self._scan_lock.acquire(blocking=False):
                try:
                    scan(self.index, self.roots(), hash_files=False)
                    self._refreshed_at = time.monotonic()
                finally:
                    self._scan_lock.release()

    # listing and lookup

    def list(self, kind: str | None = None, *, refresh: bool = True, shadowed: bool = False) -> list[ModelRecord]:
        """Indexed models of the current roots in search order, one per name (the file the name resolves to).

        With `shadowed`, files whose name an earlier root already uses are listed too, with a note naming the
        file that wins (a picker must not offer a name that would load another file).
        """
        wanted = kinds_for_filter(kind) if kind else None
        if refresh:
            self.refresh()
        order = {str(r.path): i for i, r in enumerate(self.roots())}
        records = sorted((r for r in self.index.records() if r.root in order),
                         key=lambda r: (order[r.root], r.path))
        first: dict[tuple[str, str | None], ModelRecord] = {}
        out = []
        for record in records:
            group = next((g for g, kinds in STORE_FOLDER_KINDS.items() if record.kind in kinds), record.kind)
            winner = first.setdefault((record.name, group), record)
            if winner is not record:
                if not shadowed:
                    continue
                record = with_notes(record, f"the name {record.name!r} is taken by {winner.path} (searched first); "
                                            "use this file's path")
            if wanted is None or record.kind in wanted:
                out.append(record)
        return out

    def info(self, name_or_path: str, *, hash_file: bool = True,
             progress: Callable[[int], None] | None = None) -> ModelRecord:
        """What a file is (by path or name), with its SHA-256 unless `hash_file` is False; indexed if in a root."""
        path = Path(name_or_path).expanduser()
        path = (path if path.exists() else self._find(name_or_path)).absolute()
        # Indexed under the path it was found at (a store link, a root reached through a symlink), or resolved.
        record = self.index.get(str(path)) or self.index.get(str(path.resolve()))
        size, mtime = signature(path)
        if record is None or (record.size_bytes, record.mtime_ns, record.detector) != (size, mtime, DETECTOR_VERSION):
            record = ModelRecord(path=record.path if record else str(path), name=model_name(path),
                                 root=record.root if record else "",
                                 is_dir=path.is_dir(), size_bytes=size, mtime_ns=mtime, detector=DETECTOR_VERSION,
                                 info=detect(path))
            if record.root:
                self.index.put(record)
        if hash_file and record.sha256 is None and record.kind != "corrupt":
            digest = sha256_path(path, progress)
            record = replace(record, sha256=digest)
            if record.root:
                self.index.set_sha256(record.path, size, mtime, digest)
        return record

    def _find(self, name: str) -> Path:
        for record in self.list(refresh=True, shadowed=True):
            if name in (record.name, Path(record.path).name):
                return Path(record.path)
        return resolve_model(name, "checkpoints", "name")  # the search a request's name goes through, or its error

    # the store

    def import_file(self, source: Path, *, link: bool = False, name: str | None = None,
                    progress: Callable[[int], None] | None = None) -> ImportResult:
        return import_model(self.index, source, link=link, name=name, progress=progress)

    def remove(self, name: str, kind: str | None = None) -> ModelRecord:
        self.refresh(force=True)
        return remove_model(self.index, name, kind)

    # checks and the catalog

    def check(self, **request: Any) -> CheckReport:
        """`check_names(**request)`: base, motion_module, motion_loras, camera, loras, domain_adapter, frames."""
        return check_names(**request)

    def camera_moves(self) -> list[dict[str, Any]]:
        """Each camera move, the official MotionLoRA it needs, and the file that provides it if one is here."""
        moves = []
        for move in CAMERA_MOVES:
            entry = official_for_move(move)
            try:
                path: str | None = str(resolve_camera_move(move, "camera"))
            except ModelNotFoundError:
                path = None
            moves.append({"move": move, "file": entry.file, "present": path is not None, "path": path,
                          "url": entry.url, "store_folder": str(entry.store_folder),
                          "approx_size_bytes": entry.approx_size_bytes})
        return moves

    def catalog(self) -> list[tuple[OfficialFile, str | None]]:
        """Every official file and the path of a file with its name in the roots, if any."""
        by_file = {Path(r.path).name: r.path for r in reversed(self.list(shadowed=True))}
        return [(entry, by_file.get(entry.file)) for entry in OFFICIAL_FILES]

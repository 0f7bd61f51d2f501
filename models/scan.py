"""Scanning: walk every root, detect what is new or changed, hash on request, forget what is gone.

A file is re-read only when its size or modification time differs from its index row (or the detector
changed), and hashed only when it has no hash for its current size and mtime, so rescanning an unchanged
tree reads headers of nothing and hashes nothing. Detection reads headers only (milliseconds per file);
hashing streams every byte and reports progress per chunk.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from models.detect import DETECTOR_VERSION, MODEL_SUFFIXES, detect, is_model_folder, signature
from models.hashing import sha256_path
from models.index import ModelIndex, ModelRecord
from models.kinds import PROBLEM_KINDS, describe_kind
from models.roots import ModelFolder, ModelRoot

_SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv", "venv", ".cache", ".Trash"})


@dataclass(frozen=True)
class ScanProgress:
    """Where a scan is: `phase` walking/detecting/hashing/done; bytes count the hashing phase."""

    phase: str
    path: str | None = None
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0


@dataclass
class ScanReport:
    """What a scan did. `hashed` counts files actually read end to end."""

    files: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    hashed: int = 0
    hashed_bytes: int = 0
    problems: list[str] = field(default_factory=list)  # "path: kind: reason" for unknown/unsafe/corrupt files
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def model_name(path: Path) -> str:
    """What a user types for this file: the name without its last extension (`mm_sd_v15_v2`), or the folder's."""
    return path.name if path.is_dir() else path.stem


def walk_folder(folder: ModelFolder, depth_limit: int | None = None) -> Iterator[Path]:
    """Model files (by extension) and diffusers model folders below `folder`; symlinks followed, loops not."""
    if not folder.path.is_dir():
        return
    seen: set[str] = set()
    base_depth = len(folder.path.parts)
    for top, dirs, files in os.walk(folder.path, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        here = Path(top)
        kept = []
        for d in sorted(dirs):
            if d in _SKIP_DIRS or d.startswith("."):
                continue
            if is_model_folder(here / d):
                yield here / d  # the folder is the model; its files are not models of their own
            elif depth_limit is None or len(here.parts) - base_depth < depth_limit:
                kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            if name.lower().endswith(MODEL_SUFFIXES) and not name.startswith("."):
                yield here / name


def _location_notes(info_kind: str, folder: ModelFolder) -> tuple[str, ...]:
    if not folder.kinds or info_kind in folder.kinds or info_kind in PROBLEM_KINDS:
        return ()
    return (f"found in {folder.label}, which holds {', '.join(sorted(folder.kinds))}; this file is "
            f"{describe_kind(info_kind)}",)


def scan(index: ModelIndex, roots: list[ModelRoot], *, hash_files: bool = False,
         progress: Callable[[ScanProgress], None] | None = None) -> ScanReport:
    """Bring the index up to date with `roots`; with `hash_files`, also hash every file that has no hash yet."""
    t0 = time.perf_counter()
    report = ScanReport()
    tell = progress or (lambda _p: None)

    # 1. Walk: the first root (in search order) to reach a path owns it
    tell(ScanProgress("walking"))
    found: dict[str, tuple[Path, ModelRoot, ModelFolder]] = {}
    for root in roots:
        for folder in root.folders:
            for path in walk_folder(folder, root.recursive_limit):
                found.setdefault(str(path), (path, root, folder))
    report.files = len(found)

    # 2. Detect what is new or changed (headers only); keep the rows of unchanged files as they are
    for i, (key, (path, root, folder)) in enumerate(found.items()):
        tell(ScanProgress("detecting", key, i, len(found)))
        try:
            size, mtime = signature(path)
        except OSError:
            continue  # vanished between the walk and now: step 3 forgets it
        row = index.get(key)
        if row and (row.size_bytes, row.mtime_ns, row.detector) == (size, mtime, DETECTOR_VERSION):
            report.unchanged += 1
            record = row
            if row.root != str(root.path):
                record = replace(row, root=str(root.path))
                index.put(record)
        else:
            info = detect(path)
            record = ModelRecord(path=key, name=model_name(path), root=str(root.path), is_dir=path.is_dir(),
                                 size_bytes=size, mtime_ns=mtime, detector=DETECTOR_VERSION, info=info,
                                 location_notes=_location_notes(info.kind, folder))
            index.put(record)
            report.added += row is None
            report.changed += row is not None
        if record.kind in PROBLEM_KINDS:
            report.problems.append(f"{key}: {record.kind}: {'; '.join(record.info.notes)}")

    # 3. Forget files that are gone, and files of scanned roots that are no longer in a scanned folder
    scanned_roots = {str(r.path) for r in roots}
    stale = [r.path for r in index.records()
             if r.path not in found and (r.root in scanned_roots or not Path(r.path).exists())]
    report.removed = index.delete(stale)

    # 4. Hash what has no hash for its current content (streamed; progress per chunk)
    if hash_files:
        todo = [r for r in (index.get(k) for k in found) if r and r.sha256 is None and r.kind != "corrupt"]
        total, done = sum(r.size_bytes for r in todo), 0
        for i, record in enumerate(todo):
            def chunk(n: int, _path: str = record.path, _i: int = i) -> None:
                nonlocal done
                done += n
                tell(ScanProgress("hashing", _path, _i, len(todo), done, total))

            try:
                digest = sha256_path(Path(record.path), chunk)
            except OSError as exc:
                report.problems.append(f"{record.path}: could not be hashed ({exc.strerror or exc})")
                continue
            if index.set_sha256(record.path, record.size_bytes, record.mtime_ns, digest):
                report.hashed += 1
                report.hashed_bytes += record.size_bytes
    report.seconds = time.perf_counter() - t0
    tell(ScanProgress("done", None, report.files, report.files, report.hashed_bytes, report.hashed_bytes))
    return report


class BackgroundScan:
    """One scan at a time in a thread, with a status a client can poll (the service's POST /v1/models/scan)."""

    def __init__(self, run: Callable[..., ScanReport]) -> None:
        self._run = run  # called as run(progress=callback, **options)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.progress = ScanProgress("idle")
        self.report: ScanReport | None = None
        self.error: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        if self.started_at is None:
            return "idle"
        return "failed" if self.error else "done"

    def start(self, **options: object) -> bool:
        """Start a scan unless one is running (then the caller joins that one). True if a new one started."""
        with self._lock:
            if self.running:
                return False
            self.report, self.error, self.started_at, self.finished_at = None, None, time.time(), None
            self.progress = ScanProgress("walking")
            self._thread = threading.Thread(target=self._main, args=(options,), name="model-scan", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _main(self, options: dict) -> None:
        try:
            self.report = self._run(progress=self._on_progress, **options)
        except Exception as exc:  # noqa: BLE001 - reported through the status; the service keeps serving
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished_at = time.time()

    def _on_progress(self, progress: ScanProgress) -> None:
        self.progress = progress

"""The model index: one SQLite database (WAL) under the data dir with what every scanned file is.

A row is keyed by the file's path and remembers the size and modification time it was detected (and
hashed) at, so a rescan re-reads and re-hashes only what changed. The user's added roots are kept here too.
The CLI and the service share the database: WAL lets one write while the other reads, and every write is
one short transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from models.detect import ModelInfo
from models.paths import data_dir

INDEX_FILE = "models.sqlite3"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    path TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    root TEXT NOT NULL,
    is_dir INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    detector INTEGER NOT NULL,
    kind TEXT NOT NULL,
    info TEXT NOT NULL,
    location_notes TEXT NOT NULL,
    sha256 TEXT,
    scanned_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS models_by_name ON models(name);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added_at REAL NOT NULL);
"""


@dataclass(frozen=True)
class ModelRecord:
    """One indexed model file or folder: where it is, what it is, and its hash once computed."""

    path: str
    name: str  # what a user types: the file name without its extension, or the folder name
    root: str
    is_dir: bool
    size_bytes: int
    mtime_ns: int
    detector: int
    info: ModelInfo
    sha256: str | None = None
    location_notes: tuple[str, ...] = ()  # about where the file is (wrong folder, shadowed name), not what it is
    scanned_at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return self.info.kind

    def to_dict(self) -> dict[str, Any]:
        """The flat shape of the wire's ModelFile and of `models info --json`."""
        info = self.info
        return {"name": self.name, "kind": info.kind, "path": self.path, "size_bytes": self.size_bytes,
                "version": info.version, "format": info.format, "sha256": self.sha256,
                "notes": [*info.notes, *self.location_notes], "base_family": info.base_family,
                "camera_move": info.camera_move, "layout": info.layout, "precision": info.precision,
                "root": self.root, "is_dir": self.is_dir, "modified": self.mtime_ns / 1e9, "details": info.details}


class ModelIndex:
    """Thread-safe access to the index database (one connection, one lock: writes are short)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / INDEX_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        if self._db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
            # The models table is a cache of what is on disk: a new schema just rebuilds it. Roots are kept.
            self._db.execute("DROP TABLE IF EXISTS models")
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open_existing(cls) -> ModelIndex | None:
        """The index if one was ever written (name lookups must not create files as a side effect)."""
        path = data_dir() / INDEX_FILE
        return cls(path) if path.is_file() else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ModelIndex:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # models

    def get(self, path: str) -> ModelRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM models WHERE path = ?", (path,)).fetchone()
        return _record(row) if row else None

    def records(self) -> list[ModelRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM models ORDER BY path").fetchall()
        return [_record(r) for r in rows]

    def by_name(self, name: str) -> list[ModelRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM models WHERE name = ? ORDER BY path", (name,)).fetchall()
        return [_record(r) for r in rows]

    def put(self, record: ModelRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.path, record.name, record.root, int(record.is_dir), record.size_bytes, record.mtime_ns,
                 record.detector, record.kind, json.dumps(record.info.to_dict()), json.dumps(record.location_notes),
                 record.sha256, record.scanned_at),
            )

    def set_sha256(self, path: str, size_bytes: int, mtime_ns: int, sha256: str) -> bool:
        """Store a hash only if the row still describes the file that was hashed (it may have changed since)."""
        with self._lock:
            cur = self._db.execute("UPDATE models SET sha256 = ? WHERE path = ? AND size_bytes = ? AND mtime_ns = ?",
                                   (sha256, path, size_bytes, mtime_ns))
        return cur.rowcount == 1

    def delete(self, paths: Iterable[str]) -> int:
        paths = list(paths)
        with self._lock:
            self._db.executemany("DELETE FROM models WHERE path = ?", [(p,) for p in paths])
        return len(paths)

    # roots

    def user_roots(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT path FROM roots ORDER BY added_at, path")]

    def add_user_root(self, path: str) -> bool:
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO roots VALUES (?, ?)", (path, time.time()))
        return cur.rowcount == 1

    def remove_user_root(self, path: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM roots WHERE path = ?", (path,))
            self._db.execute("DELETE FROM models WHERE root = ?", (path,))
        return cur.rowcount == 1


def _record(row: tuple) -> ModelRecord:
    path, name, root, is_dir, size, mtime, detector, _kind, info, location, sha, scanned = row
    return ModelRecord(path=path, name=name, root=root, is_dir=bool(is_dir), size_bytes=size, mtime_ns=mtime,
                       detector=detector, info=ModelInfo.from_dict(json.loads(info)), sha256=sha,
                       location_notes=tuple(json.loads(location)), scanned_at=scanned)


def with_notes(record: ModelRecord, *notes: str) -> ModelRecord:
    return replace(record, location_notes=record.location_notes + tuple(notes))

"""The job history: jobs and their events in SQLite (stdlib `sqlite3`, WAL) under the data directory.

Every state change is one conditional UPDATE, so a cancel racing the worker's claim has exactly one
winner. The store is shared by the HTTP threads and the worker thread through one locked connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error_code TEXT,
    error_message TEXT,
    error_field TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    seed INTEGER,
    kind TEXT NOT NULL DEFAULT 'generation',
    model TEXT
);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    time REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
"""
# Columns added after the first release: a history written by an older version gains them on open (its jobs
# are all generations, which is the default).
_ADDED_COLUMNS = {"kind": "TEXT NOT NULL DEFAULT 'generation'", "model": "TEXT"}


@dataclass(frozen=True)
class JobRecord:
    id: str
    status: str
    request: dict[str, Any]
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_field: str | None = None
    files: list[str] = field(default_factory=list)
    seed: int | None = None
    kind: str = "generation"  # generation, or a training: motion-lora-training, domain-adapter-training, ...
    model: str | None = None  # trainings: the trained model's name in the store


@dataclass(frozen=True)
class EventRecord:
    job_id: str
    seq: int
    kind: str
    time: float
    data: dict[str, Any]


@dataclass(frozen=True)
class JobFailure:
    code: str
    message: str
    field: str | None = None


class JobStore:
    """`jobs.sqlite3` in `root`; listeners are told the job id after every new event."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "jobs.sqlite3"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process kill
        self._db.executescript(_SCHEMA)
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, definition in _ADDED_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- jobs --------------------------------------------------------------------------------------

    def create(self, request: dict[str, Any], kind: str = "generation") -> JobRecord:
        job = JobRecord(id=uuid.uuid4().hex, status="queued", request=request, created_at=time.time(), kind=kind)
        with self._lock:
            self._db.execute("INSERT INTO jobs (id, status, request, created_at, kind) VALUES (?, ?, ?, ?, ?)",
                             (job.id, job.status, json.dumps(request), job.created_at, kind))
        self.add_event(job.id, "queued", {})
        return job

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list_jobs(self, kind: str | None = None) -> list[JobRecord]:
        with self._lock:
            if kind is None:
                rows = self._db.execute("SELECT * FROM jobs ORDER BY seq").fetchall()
            else:
                rows = self._db.execute("SELECT * FROM jobs WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [_job(r) for r in rows]

    def ids_with_status(self, status: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT id FROM jobs WHERE status = ? ORDER BY seq", (status,)).fetchall()
        return [r["id"] for r in rows]

    def claim(self, job_id: str) -> bool:
        """queued -> running; False when the job is no longer queued (cancelled or deleted meanwhile)."""
        return self._transition(job_id, ("queued",), "running", started_at=time.time())

    def cancel_if_queued(self, job_id: str) -> bool:
        if not self._transition(job_id, ("queued",), "cancelled", finished_at=time.time()):
            return False
        self.add_event(job_id, "cancelled", {})
        return True

    def finish(self, job_id: str, status: str, *, failure: JobFailure | None = None, files: list[str] | None = None,
               seed: int | None = None, model: str | None = None) -> None:
        """running -> succeeded | failed | cancelled, with the outputs or the error."""
        self._transition(
            job_id, ("running",), status, finished_at=time.time(), files=json.dumps(files or []), seed=seed,
            model=model,
            error_code=failure and failure.code, error_message=failure and failure.message,
            error_field=failure and failure.field,
        )

    def interrupt_running(self) -> list[str]:
        """After a crash: jobs left `running` become `interrupted` (their partial outputs are not trusted)."""
        ids = self.ids_with_status("running")
        for job_id in ids:
            if self._transition(job_id, ("running",), "interrupted", finished_at=time.time()):
                self.add_event(job_id, "interrupted", {"message": "the service stopped while this job was running; "
                                                                  "submit it again"})
        return ids

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def _transition(self, job_id: str, from_status: tuple[str, ...], to_status: str, **columns: Any) -> bool:
        sets = ", ".join(["status = ?"] + [f"{name} = ?" for name in columns])
        marks = ", ".join("?" * len(from_status))
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks})",
                                   (to_status, *columns.values(), job_id, *from_status))
        return cur.rowcount == 1

    # -- events ------------------------------------------------------------------------------------

    def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> EventRecord:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job_id = ?",
                                   (job_id,)).fetchone()
            event = EventRecord(job_id, row[0], kind, time.time(), data)
            self._db.execute("INSERT INTO events (job_id, seq, kind, time, data) VALUES (?, ?, ?, ?, ?)",
                             (job_id, event.seq, kind, event.time, json.dumps(data)))
        for listener in self._listeners:
            listener(job_id)
        return event

    def events_after(self, job_id: str, after: int = 0) -> list[EventRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
                                    (job_id, after)).fetchall()
        return [EventRecord(r["job_id"], r["seq"], r["kind"], r["time"], json.loads(r["data"])) for r in rows]


def _job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"], status=row["status"], request=json.loads(row["request"]), created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"], error_code=row["error_code"],
        error_message=row["error_message"], error_field=row["error_field"], files=json.loads(row["files"]),
        seed=row["seed"], kind=row["kind"], model=row["model"],
    )

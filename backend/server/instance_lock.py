"""One service per data folder: an exclusive lock on `server.lock`, held for the life of the process.

Two services on one data folder would share a job store: the second's start-up would mark the first's
running job `interrupted`. The operating system drops the lock when the process dies (even by kill -9),
so a crashed service never blocks the next start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

LOCK_FILE = "server.lock"


class AlreadyRunning(RuntimeError):
    """Another live service holds the data folder."""


def acquire_instance_lock(data_dir: Path) -> IO[str]:
    """The open lock file (keep it open: closing it releases the lock), or `AlreadyRunning`."""
    handle = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the process's life on purpose
    try:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise AlreadyRunning(str(data_dir)) from exc
    return handle

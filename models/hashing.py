"""SHA-256 of model files and folders, streamed, cached by (path, size, mtime) for the process.

Model files are multi-GB: they are read in 8 MiB chunks (memory stays flat) and `progress`, when given, is
called with the byte count of each chunk so a caller can show how far a long hash has come. The model index
keeps hashes across processes; this cache only saves re-reading within one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

_CACHE: dict[tuple[str, int, int], str] = {}
_CHUNK = 8 * 1024 * 1024

Progress = Callable[[int], None]  # called with the number of bytes just hashed


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                if progress is not None:
                    progress(len(chunk))
        _CACHE[key] = digest.hexdigest()
    elif progress is not None:
        progress(stat.st_size)
    return _CACHE[key]


def sha256_path(path: Path, progress: Progress | None = None) -> str:
    """A file's hash, or for a folder the hash of its files' relative names and hashes."""
    if path.is_file():
        return sha256_file(path, progress)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{f.relative_to(path).as_posix()}:{sha256_file(f, progress)}\n".encode())
    return digest.hexdigest()

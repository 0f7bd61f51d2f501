"""SHA-256 of model files and folders, streamed, cached by (path, size, mtime) for the process."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CACHE: dict[tuple[str, int, int], str] = {}
_CHUNK = 8 * 1024 * 1024


def sha256_file(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        _CACHE[key] = digest.hexdigest()
    return _CACHE[key]


def sha256_path(path: Path) -> str:
    """A file's hash, or for a folder the hash of its files' relative names and hashes."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{f.relative_to(path).as_posix()}:{sha256_file(f)}\n".encode())
    return digest.hexdigest()

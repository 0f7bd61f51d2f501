"""The tool's own store (`<data dir>/models/<kind>/`): importing files into it and removing them.

Import detects the file first and files it under the folder of its kind, so a MotionLoRA never lands among
the image LoRAs whatever its name. A copy is streamed to a temporary name and hashed in the same pass, then
renamed (a crash never leaves half a model under the real name); `link` makes a symbolic link instead (a
hard link where symlinks are not allowed), for multi-GB files already on the same disk. Only the store is
ever deleted from: files found in a user's ComfyUI/A1111 root belong to that install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.detect import DETECTOR_VERSION, ModelInfo, detect, signature
from models.errors import (
    CorruptCheckpointError,
    InvalidInputError,
    ModelNotFoundError,
    UnsafeCheckpointError,
    WrongModelKindError,
)
from models.hashing import sha256_path
from models.index import ModelIndex, ModelRecord
from models.kinds import store_folder_for
from models.paths import data_dir, store_dir
from models.scan import model_name

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ImportResult:
    record: ModelRecord
    outcome: str  # "copied", "linked", or "already-there" (the same content was in the store under that name)


def store_path() -> Path:
    return data_dir() / "models"


def import_model(index: ModelIndex, source: Path, *, link: bool = False, name: str | None = None,
                 progress: Callable[[int], None] | None = None) -> ImportResult:
    """Copy (or link) a model into the store folder of its detected kind and index it with its hash."""
    source = source.expanduser()
    if not source.exists():
        raise ModelNotFoundError(f"path: {source} does not exist; give the path of a model file or folder",
                                 field="path")
    source = source.resolve()
    info = detect(source)
    folder = store_folder_for(info.kind)
    if folder is None:
        error = {"unsafe": UnsafeCheckpointError, "corrupt": CorruptCheckpointError}.get(info.kind,
                                                                                          WrongModelKindError)
        raise error(f"path: {source} cannot be imported: {'; '.join(info.notes) or info.kind}", field="path")
    dest = store_dir(folder) / _dest_name(source, name)
    if dest.exists() or dest.is_symlink():
        return _existing(index, source, dest, info)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        digest = None
        _link(source, dest)
        outcome = "linked"
    else:
        digest = _copy(source, dest, progress)
        outcome = "copied"
    record = _record(dest, info, digest)
    index.put(record)
    return ImportResult(record, outcome)


def _dest_name(source: Path, name: str | None) -> str:
    if name is None:
        return source.name
    if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
        raise InvalidInputError(f"name: {name!r} is not accepted; a model name is one file name without folders "
                                "that does not start with '.'", field="name")
    return name if source.is_dir() else name + "".join(source.suffixes[-1:])


def _existing(index: ModelIndex, source: Path, dest: Path, info: ModelInfo) -> ImportResult:
    same = dest.exists() and (dest.resolve() == source or sha256_path(dest) == sha256_path(source))
    if not same:
        raise InvalidInputError(f"name: {dest} already exists and holds a different model; choose another name "
                                "(--name / \"name\")", field="name")
    record = _record(dest, info, None if dest.is_symlink() else sha256_path(dest))
    index.put(record)
    return ImportResult(record, "already-there")


def _link(source: Path, dest: Path) -> None:
    try:
        os.symlink(source, dest, target_is_directory=source.is_dir())
    except OSError as exc:  # Windows without the symlink privilege: a hard link works for files on one volume
        if source.is_dir():
            raise InvalidInputError(f"link: cannot link {source} into the store ({exc.strerror or exc}); import it "
                                    "without --link to copy it", field="link") from exc
        try:
            os.link(source, dest)
        except OSError as exc2:
            raise InvalidInputError(f"link: cannot link {source} into the store ({exc2.strerror or exc2}); import "
                                    "it without --link to copy it", field="link") from exc2


def _copy(source: Path, dest: Path, progress: Callable[[int], None] | None) -> str | None:
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if source.is_dir():
            shutil.copytree(source, partial)
            digest = sha256_path(partial, progress)
        else:
            hasher = hashlib.sha256()
            with open(source, "rb") as src, open(partial, "wb") as out:
                while chunk := src.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
            shutil.copystat(source, partial)
            digest = hasher.hexdigest()
        os.replace(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True) if partial.is_dir() else partial.unlink(missing_ok=True)
        raise
    return digest


def _record(dest: Path, info: ModelInfo, digest: str | None) -> ModelRecord:
    size, mtime = signature(dest)
    return ModelRecord(path=str(dest), name=model_name(dest), root=str(store_path()), is_dir=dest.is_dir(),
                       size_bytes=size, mtime_ns=mtime, detector=DETECTOR_VERSION, info=info, sha256=digest)


def remove_model(index: ModelIndex, name: str, kind: str | None = None) -> ModelRecord:
    """Delete a model from the store by name (a link is removed, never its target); other roots are refused."""
    store = store_path()
    candidates = [r for r in index.by_name(name) if r.kind == kind or kind is None]
    in_store = [r for r in candidates if store in Path(r.path).parents]
    if not in_store:
        elsewhere = [r.path for r in candidates]
        if elsewhere:
            raise InvalidInputError(
                f"name: {name!r} is not in the tool's store but in {elsewhere[0]}, which belongs to another install; "
                "this tool does not delete it (delete it there, or remove that root)", field="name")
        raise ModelNotFoundError(f"name: no model named {name!r} in the store {store}; `animatediff-studio models "
                                 "list` shows the names", field="name")
    if len(in_store) > 1:
        raise InvalidInputError(f"name: {name!r} names {len(in_store)} models in the store "
                                f"({', '.join(r.kind for r in in_store)}); say which with kind", field="name")
    record = in_store[0]
    path = Path(record.path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    index.delete([record.path])
    return record

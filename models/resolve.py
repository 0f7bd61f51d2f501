"""Turn what a user typed (a path, or a model name) into a file, with errors that say where to look.

A name is searched in this order: the store folder of the asked kind and ANIMATEDIFF_STUDIO_MODEL_DIRS (top
level, as before the index existed), then the model index (every scanned root; a file of the asked kind
first), then the model folders of every root by file name (a file added since the last scan).
"""

from __future__ import annotations

import difflib
import glob
from collections.abc import Sequence
from pathlib import Path

from models.camera import CAMERA_MOVES, OFFICIAL_MOTION_LORAS, candidate_file_names
from models.catalog import official_for_move, where_to_get
from models.errors import InvalidInputError, ModelNotFoundError
from models.index import ModelIndex, ModelRecord
from models.kinds import STORE_FOLDER_KINDS
from models.paths import extra_model_dirs, store_dir
from models.roots import ModelRoot, current_roots


def resolve_model(name_or_path: str, kind: str, field: str) -> Path:
    """A path that exists, or a file/folder name found in the store of `kind`, the user roots or the index."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.resolve()
    if len(path.parts) == 1 and not name_or_path.startswith("."):
        for root in [store_dir(kind), *extra_model_dirs()]:
            if found := _named_in(root, name_or_path):
                return found.resolve()
        if found := _find_in_roots(name_or_path, kind):
            return found.resolve()
    raise ModelNotFoundError(
        f"{field}: {name_or_path!r} is neither an existing path nor a model name in {store_dir(kind)} or the model "
        f"roots{_did_you_mean(name_or_path)}; `animatediff-studio models list` shows the names (run `models scan` "
        "after adding files to a root)",
        field=field,
    )


def _named_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, *sorted(folder.glob(f"{glob.escape(name)}.*"))):
        if candidate.exists():
            return candidate
    return None


def _roots_and_index() -> tuple[list[ModelRoot], list[ModelRecord]]:
    index = ModelIndex.open_existing()
    if index is None:
        return current_roots([]), []
    with index:
        return current_roots(index.user_roots()), index.records()


def _find_in_roots(name: str, kind: str) -> Path | None:
    roots, records = _roots_and_index()
    order = {str(r.path): i for i, r in enumerate(roots)}
    wanted = STORE_FOLDER_KINDS.get(kind, frozenset())
    named = [r for r in records if r.name == name and r.root in order and Path(r.path).exists()]
    # A file of the asked kind wins; another kind is still returned, so the pre-flight check can say what it is.
    named.sort(key=lambda r: (r.kind not in wanted, order[r.root], r.path))
    if named:
        return Path(named[0].path)
    for root in roots:
        for folder in root.folders:
            if folder.path.is_dir() and (found := _named_in(folder.path, name)):
                return found
    return None


def _did_you_mean(name: str) -> str:
    _roots, records = _roots_and_index()
    close = difflib.get_close_matches(name, sorted({r.name for r in records}), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def resolve_camera_move(move: str, field: str = "camera", extra_folders: Sequence[Path] = ()) -> Path:
    """The MotionLoRA file for a camera move: by its official name in the roots (then `extra_folders`, e.g. the
    built-in model's own), else by what the index knows."""
    if move not in OFFICIAL_MOTION_LORAS:
        raise InvalidInputError(
            f"{field}: unknown camera move {move!r}; accepted moves: {', '.join(CAMERA_MOVES)}", field=field
        )
    roots, records = _roots_and_index()
    folders = [store_dir("motion-loras"), *extra_model_dirs()]
    folders += [f.path for root in roots for f in root.folders if not f.kinds or "motion-lora" in f.kinds]
    folders += list(extra_folders)
    for folder in folders:
        for name in candidate_file_names(move):
            if (folder / name).is_file():
                return (folder / name).resolve()
    order = {str(r.path): i for i, r in enumerate(roots)}
    known = sorted((r for r in records if r.info.camera_move == move and r.kind == "motion-lora"
                    and r.root in order and Path(r.path).exists()), key=lambda r: (order[r.root], r.path))
    if known:
        return Path(known[0].path).resolve()
    raise ModelNotFoundError(
        f"{field}: camera move {move!r} needs the MotionLoRA {OFFICIAL_MOTION_LORAS[move]}; put it in "
        f"{store_dir('motion-loras')} (or pass it directly with --motion-lora FILE:STRENGTH); "
        f"{where_to_get(official_for_move(move))}",
        field=field,
    )

"""Turn what a user typed (a path, or a name in the store) into a file, with errors that say where to look."""

from __future__ import annotations

from pathlib import Path

from models.camera import CAMERA_MOVES, OFFICIAL_MOTION_LORAS, candidate_file_names
from models.errors import InvalidInputError, ModelNotFoundError
from models.paths import extra_model_dirs, store_dir


def resolve_model(name_or_path: str, kind: str, field: str) -> Path:
    """A path that exists, or a file/folder name found in the store folder of `kind` or the user roots."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.resolve()
    if len(path.parts) == 1 and not name_or_path.startswith("."):
        for root in [store_dir(kind), *extra_model_dirs()]:
            for candidate in (root / name_or_path, *root.glob(f"{name_or_path}.*")):
                if candidate.exists():
                    return candidate.resolve()
    raise ModelNotFoundError(
        f"{field}: {name_or_path!r} is neither an existing path nor a model name in {store_dir(kind)}",
        field=field,
    )


def resolve_camera_move(move: str, field: str = "camera") -> Path:
    """The MotionLoRA file for a camera move, searched in the store and the user roots."""
    if move not in OFFICIAL_MOTION_LORAS:
        raise InvalidInputError(
            f"{field}: unknown camera move {move!r}; accepted moves: {', '.join(CAMERA_MOVES)}", field=field
        )
    roots = [store_dir("motion-loras"), *extra_model_dirs()]
    for root in roots:
        for name in candidate_file_names(move):
            if (root / name).is_file():
                return (root / name).resolve()
    raise ModelNotFoundError(
        f"{field}: camera move {move!r} needs the MotionLoRA {OFFICIAL_MOTION_LORAS[move]}; "
        f"put it in {roots[0]} (or pass it directly with --motion-lora FILE:STRENGTH)",
        field=field,
    )

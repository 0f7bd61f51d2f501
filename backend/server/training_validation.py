"""A `TrainingBody` -> the request a training job stores, or an `InvalidInputError` naming the body's
field, its value and what is accepted; and that request -> the trainer's config at run time.

Ranges are the trainer's own (`backend.training.config.check_config`, imported without torch), so the service
and `animatediff-studio train` can never disagree; only the names differ (the trainer's `loop.steps` is the
body's `steps`). Models, the data folder and the uploads are looked up now, so a typo is a 422 at submission
instead of a failed job after the models loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from backend.server.schema import TRAINING_KIND, TRAINING_STORE_FOLDERS, TrainingBody
from backend.server.validation import resolve_field
from backend.training.clip_folder import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from backend.training.config import config_from_dict
from backend.uploads import resolve_reference_image
from models.camera import CAMERA_MOVES
from models.errors import InvalidInputError, StudioError
from models.paths import store_dir
from models.preflight import check_names

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,99}")
MAX_SOURCES = 1_000_000  # every picture or clip given is used (the trainer caps camera sources at data.count)
STILLS_FOLDER = "stills"  # inside the job's folder: the uploaded pictures, copied with their caption


__all__ = ["TRAINING_KIND", "failure_field", "to_training_request", "training_config"]


# motion_variant values the service trains: the 1D-convolution ablation cannot generate, so it stays CLI-only.
SERVICE_VARIANTS: tuple[str, ...] = ("transformer", "hybrid")
_TITLES = {"motion-lora": "MotionLoRA", "domain-adapter": "domain adapter", "motion-module": "motion module"}


def to_training_request(body: TrainingBody, pending_names: Iterable[str] = ()) -> dict[str, Any]:
    """Check everything a training can be refused for before it loads anything; returns the request to store.
    `pending_names`: the names of queued or running trainings of the same kind."""
    _check_name(body.name, body.kind, set(pending_names))
    resolve_field(body.base, "checkpoints", "base")
    _check_kind_fields(body)
    if body.motion_module is not None:
        resolve_field(body.motion_module, "motion-modules", "motion_module")
    if body.domain_adapter is not None:
        resolve_field(body.domain_adapter, "domain-adapters", "domain_adapter")
    if body.camera_move is not None and body.camera_move not in CAMERA_MOVES:
        raise InvalidInputError(f"camera_move: {body.camera_move!r} is not accepted; expected one of "
                                f"{', '.join(CAMERA_MOVES)}", field="camera_move")
    _check_data(body)
    request = body.model_dump()
    try:  # the trainer's ranges (steps, rank, learning rate, frames, size ...), named as the body names them
        config_from_dict(training_config(request, "<job folder>", body.data_path or STILLS_FOLDER, device=None))
    except InvalidInputError as exc:
        raise _renamed(exc) from exc
    if body.motion_module is None:
        return request  # a new module is built for the base; a domain adapter needs no module
    # The module must cover the clip's frames and fit the base: the model manager's header-only check.
    try:
        check_names(base=body.base, motion_module=body.motion_module, frames=body.frames,
                    domain_adapter=(body.domain_adapter, 1.0) if body.domain_adapter else None).raise_first()
    except StudioError as exc:
        if exc.field != "frames":
            raise
        # The check speaks of generations, whose context windows do not apply to training clips.
        raise InvalidInputError(exc.message.split(", or set context_length", 1)[0], field="frames") from exc
    return request


def _check_kind_fields(body: TrainingBody) -> None:
    """Fields that only some kinds use: a value given to a kind that would ignore it is refused, not dropped."""
    if body.kind == "motion-lora" and body.motion_module is None:
        raise InvalidInputError("motion_module: missing; a MotionLoRA trains on top of a motion module (a path or a "
                                "model name from GET /v1/models?kind=motion-module)", field="motion_module")
    if body.kind == "domain-adapter":
        for name in ("motion_module", "domain_adapter"):
            if getattr(body, name) is not None:
                raise InvalidInputError(f"{name}: {getattr(body, name)!r} is not used by a domain-adapter training, "
                                        "which trains on the base alone; leave it out", field=name)
    if body.kind != "motion-lora" and (body.images or body.camera_move is not None):
        name = "images" if body.images else "camera_move"
        raise InvalidInputError(f"{name}: pictures and synthesized camera moves train MotionLoRAs only; a "
                                f"{body.kind} trains on data_path's clips", field=name)
    if body.motion_variant not in SERVICE_VARIANTS:
        raise InvalidInputError(f"motion_variant: {body.motion_variant!r} is not accepted; expected one of "
                                f"{', '.join(SERVICE_VARIANTS)} (the conv1d ablation cannot generate, so only "
                                "`animatediff-studio train motion-module` trains it)", field="motion_variant")
    if body.motion_variant != "transformer" and body.kind != "motion-module":
        raise InvalidInputError(f"motion_variant: {body.motion_variant!r} is for motion-module trainings; a "
                                f"{body.kind} takes the variant of the module it is given", field="motion_variant")


def _check_name(name: str, kind: str, pending: set[str]) -> None:
    if not NAME.fullmatch(name):
        raise InvalidInputError(f"name: {name!r} is not accepted; expected a model name of 1 to 100 letters, digits, "
                                "'_', '-' or '+' (no folders, no file extension)", field="name")
    folder = store_dir(TRAINING_STORE_FOLDERS[kind])
    taken = [p for p in (folder / name, *folder.glob(f"{name}.*")) if p.exists()]
    if taken:
        raise InvalidInputError(f"name: {name!r} is already a {_TITLES[kind]} in the store ({taken[0]}); choose "
                                "another name", field="name")
    if name in pending:
        raise InvalidInputError(f"name: {name!r} is the name of a training that is already queued or running; "
                                "choose another name", field="name")


def _check_data(body: TrainingBody) -> None:
    if body.data_path and body.images:
        raise InvalidInputError("images: give either data_path (a folder) or images (pictures), not both",
                                field="images")
    if not body.data_path and not body.images:
        raise InvalidInputError("data_path: missing; give a folder of clips (data_path) or pictures (images, upload "
                                "ids) to train on", field="data_path")
    if body.images:
        if body.camera_move is None:
            raise InvalidInputError("camera_move: missing; pictures do not move, so a training from images needs the "
                                    f"camera move to synthesize: one of {', '.join(CAMERA_MOVES)}",
                                    field="camera_move")
        for i, image in enumerate(body.images):
            resolve_reference_image(image, f"images[{i}]", allow_relative=False)
        return
    folder = Path(body.data_path or "").expanduser()
    if not folder.is_absolute() or not folder.is_dir():
        raise InvalidInputError(f"data_path: {body.data_path!r} is not accepted; expected the absolute path of a "
                                "folder on the service's machine", field="data_path")
    if body.camera_move is None and not _has_clips(folder):
        pictures = any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())
        hint = "; it holds pictures: choose a camera_move to make clips of them" if pictures else ""
        raise InvalidInputError(f"data_path: {folder} holds no clip ({', '.join(VIDEO_SUFFIXES)}, .gif or a folder "
                                f"of frames){hint}", field="data_path")


def _has_clips(folder: Path) -> bool:
    """Any entry the clip reader would try (the files are read at run time; bad ones are skipped then)."""
    return any(p.is_dir() or p.suffix.lower() in (*VIDEO_SUFFIXES, ".gif")
               for p in folder.iterdir() if not p.name.startswith("."))


def _renamed(exc: InvalidInputError) -> InvalidInputError:
    """`loop.steps: 0 is not accepted ...` -> `steps: 0 is not accepted ...`: the name the client sent."""
    field = exc.field or ""
    if field == "data.path":
        name = "data_path"
    elif field.startswith(("data.", "loop.")):
        name = field.split(".", 1)[1]
    else:
        name = field
    message = exc.message.replace(f"{field}:", f"{name}:", 1) if field else exc.message
    return InvalidInputError(message, field=name or None)


def training_config(request: dict[str, Any], output_dir: str, data_path: str, device: str | None) -> dict[str, Any]:
    """The trainer's config (`backend.training.config` layout) for a stored request."""
    config: dict[str, Any] = {
        # Requests stored before other kinds existed have no kind: they were MotionLoRA trainings.
        "kind": request.get("kind", "motion-lora"), "output_dir": output_dir, "base": request["base"],
        "motion_module": request.get("motion_module"), "domain_adapter": request.get("domain_adapter"),
        "motion_variant": request.get("motion_variant", "transformer"),
        "rank": request["rank"], "sample_steps": request["sample_steps"],
        "data": {"source": "camera" if request.get("camera_move") else "folder", "path": data_path,
                 "count": MAX_SOURCES, "frames": request["frames"], "stride": request["stride"],
                 "size": request["size"], "camera_move": request.get("camera_move"),
                 "camera_strength": request["camera_strength"], "seed": request["seed"]},
        "loop": {"steps": request["steps"], "learning_rate": request["learning_rate"],
                 "batch_size": request["batch_size"], "mixed_precision": request["mixed_precision"],
                 # The service's --device cpu holds for trainings too; otherwise accelerate picks the GPU.
                 "device": "cpu" if device == "cpu" else "auto", "seed": request["seed"],
                 "checkpoint_every": request["checkpoint_every"], "sample_every": request["sample_every"]},
    }
    prompt = request.get("sample_prompt") or request.get("caption")
    if prompt:
        config["sample_prompt"] = prompt
    return config


def failure_field(exc: StudioError) -> StudioError:
    """A trainer's error at run time, renamed to the body's field names (data.path -> data_path)."""
    return _renamed(exc) if isinstance(exc, InvalidInputError) else exc

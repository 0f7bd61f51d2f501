"""One training job (a MotionLoRA, a domain adapter or a motion module), run on the GPU worker's thread: stage
the pictures, run the trainer with its progress and cancel wired to the job's events, then put the trained file
into the model store.

The run is written into `jobs/<id>.partial/` and renamed to `jobs/<id>/` when it ends (succeeded or cancelled),
as a generation is: a job cut short by a crash never leaves a folder that looks finished. A cancelled run keeps
its checkpoint and loss plot there (the trainer saves both when it stops).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.server.schema import TRAINING_STORE_FOLDERS
from backend.server.training_validation import STILLS_FOLDER, training_config
from backend.uploads import resolve_reference_image
from models.paths import store_dir

Emit = Callable[[str, dict[str, Any]], None]  # (event kind, data) -> stored and streamed
# (trained file, wanted name, store folder) -> the name it got in the store
ImportModel = Callable[[Path, str, str], str]
# Training state and inputs stay in the job's folder but are not outputs to download.
_NOT_OUTPUTS = ("checkpoints", STILLS_FOLDER)


@dataclass(frozen=True)
class TrainingOutcome:
    cancelled: bool
    steps_done: int
    total: int
    files: list[str]  # names for GET /v1/jobs/{id}/files/{name}
    model: str | None  # the trained model's name in the store (None when cancelled)


def run_training_job(request: dict[str, Any], partial: Path, final: Path, emit: Emit,
                     should_cancel: Callable[[], bool], device: str | None, import_model: ImportModel
                     ) -> TrainingOutcome:
    """Train, export and import; raises what the trainer raises (the worker turns it into a failed job)."""
    from backend.training.config import config_from_dict
    from backend.training.trainers import run_trainer

    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    data_path = request.get("data_path") or str(_stage_pictures(request, partial / STILLS_FOLDER))
    folder = TRAINING_STORE_FOLDERS[request.get("kind", "motion-lora")]
    config = config_from_dict(training_config(request, str(partial), data_path, device))
    emit("phase", {"phase": "loading"})
    started = False

    def progress(p: Any) -> None:  # TrainingProgress, after every optimizer step
        nonlocal started
        if not started:
            emit("phase", {"phase": "training", "total": p.total})
            started = True
        emit("progress", {"step": p.step, "total": p.total, "loss": p.loss, "seconds": p.seconds})

    result = run_trainer(config, on_progress=progress, should_cancel=should_cancel,
                         log=lambda message: emit("log", {"message": message}))
    model = None
    if not result.cancelled:
        emit("phase", {"phase": "importing"})
        model = import_model(result.outputs["original"], request["name"], folder)
    files = _outputs(partial)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return TrainingOutcome(result.cancelled, result.steps_done, config.loop.steps, files, model)


def _stage_pictures(request: dict[str, Any], folder: Path) -> Path:
    """The uploaded pictures as a folder the trainer reads, each with the request's caption beside it (an upload
    is named by its hash, which would otherwise become its caption)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(request["images"]):
        source = resolve_reference_image(image, f"images[{i}]", allow_relative=False)
        shutil.copyfile(source, folder / f"picture_{i:04d}{source.suffix.lower()}")
        (folder / f"picture_{i:04d}.txt").write_text(request.get("caption", ""), encoding="utf-8")
    return folder


def _outputs(folder: Path) -> list[str]:
    """Relative names of what the run wrote: model files, loss.png/.csv, config.json, samples/..."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.relative_to(folder).parts[0] not in _NOT_OUTPUTS)


def import_into_store(manager: Any, path: Path, name: str, folder_name: str = "motion-loras") -> str:
    """Copy the trained file into the store (the manager files it by what it is, in `folder_name` for these
    files) under `name`, or `name-2`, ... when a file took that name while the job ran; returns the model name it
    is listed under."""
    folder = store_dir(folder_name)
    candidate, n = name, 1
    while (folder / candidate).exists() or any(folder.glob(f"{candidate}.*")):
        n += 1
        candidate = f"{name}-{n}"
    return manager.import_file(path, name=candidate).record.name

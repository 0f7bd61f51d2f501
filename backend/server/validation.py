"""Turn a validated wire body into a `GenerationRequest` the engine will accept, or an `InvalidInputError`.

Ranges come from the engine's own `check_request`; model names are resolved here too, so a typo in a
model name is a 4xx at submission instead of a failed job minutes later.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from backend.engine.request import GenerationRequest, segment_frames
from backend.engine.request_checks import check_request
from backend.engine.video_input import resolve_video
from backend.server.schema import GenerationRequestBody
from backend.uploads import resolve_reference_image
from models.errors import InvalidInputError
from models.preflight import check_names
from models.resolve import resolve_camera_move, resolve_model


def to_generation_request(body: GenerationRequestBody, jobs_dir: Path) -> GenerationRequest:
    """The engine's request, with `extend` turned from a job id into that job's output folder."""
    req = GenerationRequest.from_dict(body.model_dump())
    check_request(req)
    if req.extend is not None:
        req = dataclasses.replace(req, extend=str(_clip_folder(req.extend, jobs_dir)))
    check_models_exist(req)
    check_combination(req)
    return req


def check_combination(req: GenerationRequest) -> None:
    """The model manager's pre-flight check (headers only): a bad combination is a 4xx now, not a failed job."""
    check_names(
        base=req.base, motion_module=req.motion_module, scheduler=req.scheduler,
        motion_loras=[(m.path, m.weight) for m in req.motion_loras], camera=[(c.move, c.strength) for c in req.camera],
        loras=[(lora.path, lora.weight) for lora in req.loras],
        domain_adapter=(req.domain_adapter.path, req.domain_adapter.weight) if req.domain_adapter else None,
        sparsectrl=(req.sparsectrl.path, req.sparsectrl.weight) if req.sparsectrl else None,
        # With context windows the engine checks the window against the module once it is loaded.
        frames=None if req.context_length else segment_frames(req),
    ).raise_first()


def _clip_folder(extend: str, jobs_dir: Path) -> Path:
    folder = jobs_dir / extend if re.fullmatch(r"[0-9a-f]{32}", extend) else Path(extend)
    if not folder.is_absolute() or not (folder / "metadata.json").is_file():
        raise InvalidInputError(f"extend: {extend!r} is not accepted; expected the id of a succeeded job (or an "
                                "absolute path of a finished clip's folder)", field="extend")
    return folder


def check_models_exist(req: GenerationRequest) -> None:
    """Raise `ModelNotFoundError` / `InvalidInputError` (naming the field) for the first file not found."""
    resolve_field(req.base, "checkpoints", "base")
    resolve_field(req.motion_module, "motion-modules", "motion_module")
    for i, cam in enumerate(req.camera):
        resolve_camera_move(cam.move, f"camera[{i}]")
    for i, ml in enumerate(req.motion_loras):
        resolve_field(ml.path, "motion-loras", f"motion_loras[{i}]")
    for i, lora in enumerate(req.loras):
        resolve_field(lora.path, "loras", f"loras[{i}]")
    if req.domain_adapter is not None:
        resolve_field(req.domain_adapter.path, "domain-adapters", "domain_adapter")
    for i, ref in enumerate(req.references):
        resolve_reference_image(ref.image, f"references[{i}].image", allow_relative=False)
    if req.sparsectrl is not None:
        resolve_field(req.sparsectrl.path, "sparsectrl", "sparsectrl")
    if req.video:
        resolve_video(req.video, allow_relative=False)


def resolve_field(name_or_path: str, kind: str, field: str) -> None:
    # The service's working directory means nothing to a client: a relative path (`../x.ckpt`) would
    # silently name a different file than the user meant, so only absolute paths and store names pass.
    path = Path(name_or_path).expanduser()
    if not path.is_absolute() and (len(path.parts) != 1 or name_or_path.startswith(".")):
        raise InvalidInputError(f"{field}: {name_or_path!r} is not accepted; expected an absolute path or a model "
                                "name from GET /v1/models", field=field)
    resolve_model(name_or_path, kind, field)

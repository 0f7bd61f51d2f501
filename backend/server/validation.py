"""Turn a validated wire body into a `GenerationRequest` the engine will accept, or an `InvalidInputError`.

Ranges come from the engine's own `check_request`; model names are resolved here too, so a typo in a
model name is a 4xx at submission instead of a failed job minutes later.
"""

from __future__ import annotations

from pathlib import Path

from backend.engine.request import GenerationRequest, check_request
from backend.server.schema import GenerationRequestBody
from backend.uploads import resolve_reference_image
from models.errors import InvalidInputError
from models.resolve import resolve_camera_move, resolve_model


def to_generation_request(body: GenerationRequestBody) -> GenerationRequest:
    req = GenerationRequest.from_dict(body.model_dump())
    check_request(req)
    check_models_exist(req)
    return req


def check_models_exist(req: GenerationRequest) -> None:
    """Raise `ModelNotFoundError` / `InvalidInputError` (naming the field) for the first file not found."""
    _resolve(req.base, "checkpoints", "base")
    _resolve(req.motion_module, "motion-modules", "motion_module")
    for i, cam in enumerate(req.camera):
        resolve_camera_move(cam.move, f"camera[{i}]")
    for i, ml in enumerate(req.motion_loras):
        _resolve(ml.path, "motion-loras", f"motion_loras[{i}]")
    for i, lora in enumerate(req.loras):
        _resolve(lora.path, "loras", f"loras[{i}]")
    if req.domain_adapter is not None:
        _resolve(req.domain_adapter.path, "domain-adapters", "domain_adapter")
    for i, ref in enumerate(req.references):
        resolve_reference_image(ref.image, f"references[{i}].image", allow_relative=False)


def _resolve(name_or_path: str, kind: str, field: str) -> None:
    # The service's working directory means nothing to a client: a relative path (`../x.ckpt`) would
    # silently name a different file than the user meant, so only absolute paths and store names pass.
    path = Path(name_or_path).expanduser()
    if not path.is_absolute() and (len(path.parts) != 1 or name_or_path.startswith(".")):
        raise InvalidInputError(f"{field}: {name_or_path!r} is not accepted; expected an absolute path or a model "
                                "name from GET /v1/models", field=field)
    resolve_model(name_or_path, kind, field)

"""The files a request names, resolved before anything loads: models, reference pictures, video, source clip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.engine.adapters import AdapterSpec
from backend.engine.request import GenerationRequest
from backend.engine.video_input import resolve_video
from backend.uploads import resolve_reference_image
from models.builtin import camera_folders_for
from models.resolve import resolve_camera_move, resolve_model


@dataclass(frozen=True)
class ResolvedModels:
    """The files a request names, resolved to absolute paths (what metadata records and hashes)."""

    base: Path
    motion_module: Path
    adapters: tuple[AdapterSpec, ...]
    references: tuple[Path, ...] = ()  # the image of each of `request.references`, in order
    video: tuple[Path, ...] = ()  # the frames of `request.video`, or its one video file
    extend: Path | None = None  # the folder of the clip being continued
    sparsectrl: Path | None = None


def resolve_models(req: GenerationRequest) -> ResolvedModels:
    base = resolve_model(req.base, "checkpoints", "base")
    adapters: list[AdapterSpec] = []
    for i, cam in enumerate(req.camera):
        path = resolve_camera_move(cam.move, f"camera[{i}]", camera_folders_for(base))
        adapters.append(AdapterSpec(path, "motion-lora", cam.strength, f"camera[{i}]"))
    for i, ml in enumerate(req.motion_loras):
        f = f"motion_loras[{i}]"
        adapters.append(AdapterSpec(resolve_model(ml.path, "motion-loras", f), "motion-lora", ml.weight, f))
    for i, lora in enumerate(req.loras):
        f = f"loras[{i}]"
        adapters.append(AdapterSpec(resolve_model(lora.path, "loras", f), "lora", lora.weight, f))
    if req.domain_adapter is not None:
        path = resolve_model(req.domain_adapter.path, "domain-adapters", "domain_adapter")
        adapters.append(AdapterSpec(path, "domain-adapter", req.domain_adapter.weight, "domain_adapter"))
    return ResolvedModels(
        base=base,
        motion_module=resolve_model(req.motion_module, "motion-modules", "motion_module"),
        adapters=tuple(adapters),
        references=tuple(resolve_reference_image(r.image, f"references[{i}].image")
                         for i, r in enumerate(req.references)),
        video=resolve_video(req.video) if req.video else (),
        extend=Path(req.extend).expanduser().resolve() if req.extend else None,
        sparsectrl=resolve_model(req.sparsectrl.path, "sparsectrl", "sparsectrl") if req.sparsectrl else None,
    )

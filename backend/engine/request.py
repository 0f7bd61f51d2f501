"""The typed generation request and its validation (the single place that says what is accepted).

The CLI, the server and `metadata.json` all speak this dataclass; `check_request` raises
`InvalidInputError` naming the field, the offending value and what would be accepted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from models.camera import CAMERA_MOVES, CameraMove
from models.errors import InvalidInputError

SCHEDULERS: tuple[str, ...] = ("ddim", "euler", "euler-ancestral", "dpm++-2m-karras", "lcm")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class WeightedFile:
    """A model file (path or store name) applied with a weight: a LoRA, MotionLoRA or domain adapter."""

    path: str
    weight: float = 1.0


@dataclass(frozen=True)
class ReferenceFrame:
    """A picture the clip starts from at frame `frame` (negative counts from the end: -1 is the last frame).

    `image` is an upload id (`POST /v1/uploads`) or an image file path.
    """

    image: str
    frame: int = 0


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a clip. Defaults follow the AnimateDiff paper's inference set-up."""

    prompt: str
    base: str
    motion_module: str
    negative_prompt: str = ""
    motion_loras: tuple[WeightedFile, ...] = ()
    camera: tuple[CameraMove, ...] = ()
    loras: tuple[WeightedFile, ...] = ()
    domain_adapter: WeightedFile | None = None
    width: int = 512
    height: int = 512
    frames: int = 16
    steps: int = 25
    guidance: float = 7.5
    seed: int | None = None  # None: a random seed is drawn and recorded in the metadata
    scheduler: str = "ddim"
    fps: int = 8
    precision: str = "auto"
    decode_chunk_size: int = 4  # frames per VAE decode call: bounds the decode's memory peak
    # The clip starts from these pictures' latents, noised as img2img does: 0 keeps them, 1 ignores them.
    references: tuple[ReferenceFrame, ...] = ()
    reference_strength: float = 0.8
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # free-form, recorded as is

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """Build from JSON-like data (metadata.json's `request`, a wire body); unknown keys are errors."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"{unknown[0]}: unknown field; accepted fields: {', '.join(sorted(known))}", field=unknown[0]
            )
        data = dict(data)
        for name in ("motion_loras", "loras"):
            data[name] = tuple(_weighted(x, name) for x in data.get(name) or ())
        data["camera"] = tuple(
            c if isinstance(c, CameraMove) else CameraMove(c["move"], float(c.get("strength", 1.0)))
            for c in data.get("camera") or ()
        )
        data["references"] = tuple(_reference(x, i) for i, x in enumerate(data.get("references") or ()))
        if data.get("domain_adapter") is not None:
            data["domain_adapter"] = _weighted(data["domain_adapter"], "domain_adapter")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInputError(f"request: {exc}", field="request") from exc


def _weighted(value: Any, name: str) -> WeightedFile:
    if isinstance(value, WeightedFile):
        return value
    if isinstance(value, dict) and "path" in value:
        return WeightedFile(str(value["path"]), float(value.get("weight", 1.0)))
    raise InvalidInputError(f"{name}: {value!r} is not {{'path': ..., 'weight': ...}}", field=name)


def _reference(value: Any, index: int) -> ReferenceFrame:
    if isinstance(value, ReferenceFrame):
        return value
    if isinstance(value, dict) and "image" in value and set(value) <= {"image", "frame"}:
        return ReferenceFrame(value["image"], value.get("frame", 0))
    raise InvalidInputError(f"references[{index}]: {value!r} is not {{'image': ..., 'frame': ...}}",
                            field=f"references[{index}]")


def denoising_steps(req: GenerationRequest) -> int:
    """Steps the sampler runs: all of them, or with references the last `reference_strength` share (img2img)."""
    return min(int(req.steps * req.reference_strength), req.steps) if req.references else req.steps


def _check_range(name: str, value: Any, lo: float, hi: float, kind: type = int) -> None:
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else (
        isinstance(value, int) and not isinstance(value, bool)
    )
    if not ok_type or not lo <= value <= hi:
        what = "an integer" if kind is int else "a number"
        raise InvalidInputError(f"{name}: {value!r} is not accepted; expected {what} from {lo} to {hi}", field=name)


def check_request(req: GenerationRequest) -> None:
    """Raise `InvalidInputError` for the first field that is out of what the engine accepts."""
    if not isinstance(req.prompt, str) or not req.prompt.strip():
        raise InvalidInputError(f"prompt: {req.prompt!r} is not accepted; expected non-empty text", field="prompt")
    for name in ("base", "motion_module"):
        value = getattr(req, name)
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"{name}: {value!r} is not accepted; expected a path or a model name", field=name)
    for name in ("width", "height"):
        value = getattr(req, name)
        _check_range(name, value, 64, 2048)
        if value % 8:
            raise InvalidInputError(
                f"{name}: {value} is not accepted; expected a multiple of 8 (e.g. {value - value % 8})", field=name
            )
    _check_range("frames", req.frames, 1, 1024)
    _check_range("steps", req.steps, 1, 200)
    _check_range("guidance", req.guidance, 0.0, 30.0, float)
    _check_range("fps", req.fps, 1, 60)
    _check_range("decode_chunk_size", req.decode_chunk_size, 1, 1024)
    if req.seed is not None:
        _check_range("seed", req.seed, 0, MAX_SEED)
    if req.scheduler not in SCHEDULERS:
        raise InvalidInputError(
            f"scheduler: {req.scheduler!r} is not accepted; expected one of {', '.join(SCHEDULERS)}",
            field="scheduler",
        )
    if req.precision not in PRECISIONS:
        raise InvalidInputError(
            f"precision: {req.precision!r} is not accepted; expected one of {', '.join(PRECISIONS)}",
            field="precision",
        )
    for i, cam in enumerate(req.camera):
        if cam.move not in CAMERA_MOVES:
            raise InvalidInputError(
                f"camera[{i}]: unknown move {cam.move!r}; accepted moves: {', '.join(CAMERA_MOVES)}",
                field=f"camera[{i}]",
            )
        _check_range(f"camera[{i}].strength", cam.strength, 0.0, 2.0, float)
    for i, ml in enumerate(req.motion_loras):
        _check_range(f"motion_loras[{i}].weight", ml.weight, -2.0, 2.0, float)
    for i, lora in enumerate(req.loras):
        _check_range(f"loras[{i}].weight", lora.weight, -4.0, 4.0, float)
    if req.domain_adapter is not None:
        _check_range("domain_adapter.weight", req.domain_adapter.weight, 0.0, 1.0, float)
    _check_references(req)


def _check_references(req: GenerationRequest) -> None:
    seen: dict[int, int] = {}
    for i, ref in enumerate(req.references):
        if not isinstance(ref.image, str) or not ref.image:
            raise InvalidInputError(f"references[{i}].image: {ref.image!r} is not accepted; expected an upload id "
                                    "or an image path", field=f"references[{i}].image")
        _check_range(f"references[{i}].frame", ref.frame, -req.frames, req.frames - 1)
        index = ref.frame % req.frames
        if index in seen:
            raise InvalidInputError(
                f"references[{i}].frame: {ref.frame} is frame {index}, which references[{seen[index]}] already "
                "sets; give each frame at most one reference", field=f"references[{i}].frame")
        seen[index] = i
    if req.references:
        _check_range("reference_strength", req.reference_strength, 0.0, 1.0, float)
        if denoising_steps(req) < 1:
            least = 1 / req.steps
            raise InvalidInputError(
                f"reference_strength: {req.reference_strength} leaves no denoising step out of steps={req.steps}; "
                f"expected at least {least:.3g} (or more steps)", field="reference_strength")

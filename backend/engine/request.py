"""The typed generation request and its validation (the single place that says what is accepted).

The CLI, the server and `metadata.json` all speak this dataclass; `request_checks.check_request` raises
`InvalidInputError` naming the field, the offending value and what would be accepted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from models.camera import CameraMove
from models.errors import InvalidInputError

MEMORY_PLANS: tuple[str, ...] = ("auto", "off", "model-offload")

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
class PromptAt:
    """The prompt from frame `frame` on (prompt travel): embeddings blend linearly between two of them."""

    frame: int
    prompt: str


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
    # Lin et al. 2024, 3.4: the guided prediction's spread pulled back toward the text branch's (0: off; 0.7 is the
    # paper's), against the over-exposure strong guidance gives on zero-terminal-SNR (v-prediction) bases.
    guidance_rescale: float = 0.0
    seed: int | None = None  # None: a random seed is drawn and recorded in the metadata
    scheduler: str = "ddim"
    fps: int = 8
    precision: str = "auto"
    decode_chunk_size: int = 4  # frames per VAE decode call: bounds the decode's memory peak
    # "auto": predict the peak memory and pick the set-up that fits (memory_plan.py); "off": run as asked;
    # "model-offload": as asked, one model on the device at a time (like other tools' --medvram).
    memory_plan: str = "auto"
    memory_limit_mb: int = 0  # what "auto" may use at most (0: what the device has free)
    # DeepCache-style speed/quality trade (deep_cache.py): the whole UNet runs every N-th step, only its
    # outermost blocks in between (0: off).
    deep_cache: int = 0
    # The clip starts from these pictures' latents, noised as img2img does: 0 keeps them, 1 ignores them.
    references: tuple[ReferenceFrame, ...] = ()
    reference_strength: float = 0.8
    # With a SparseCtrl model (RGB or scribble), the references condition their frames through it instead
    # (the whole schedule runs; `weight` is the ControlNet's conditioning scale).
    sparsectrl: WeightedFile | None = None
    # Prompt travel: `prompt` holds at frame 0, these from their frames on, blended in between.
    prompt_at: tuple[PromptAt, ...] = ()
    # Long clips: windows of `context_length` frames (0: none, the clip must fit the motion module).
    context_length: int = 0
    context_overlap: int = 4
    context_weighting: str = "pyramid"  # how overlapping windows are fused: flat or pyramid
    closed_loop: bool = False  # windows wrap around the end: a seamless loop
    free_noise: bool = False  # FreeNoise: later windows start from shuffled copies of the first one's noise
    free_init: int = 0  # FreeInit: extra sampling rounds from low-pass re-initialised noise (0: off)
    # Video-to-video: restyle these frames (upload ids / image paths, or one video file or frames folder).
    video: tuple[str, ...] = ()
    video_strength: float = 0.8
    # Continuation: extend the finished clip in this folder by `frames` frames, its last
    # `extend_overlap` frames pinned as the new segment's start and cross-faded.
    extend: str | None = None
    extend_overlap: int = 4
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
        data["prompt_at"] = tuple(_prompt_at(x, i) for i, x in enumerate(data.get("prompt_at") or ()))
        if isinstance(data.get("video"), list):
            data["video"] = tuple(data["video"])
        for name in ("domain_adapter", "sparsectrl"):
            if data.get(name) is not None:
                data[name] = _weighted(data[name], name)
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


def _prompt_at(value: Any, index: int) -> PromptAt:
    if isinstance(value, PromptAt):
        return value
    if isinstance(value, dict) and set(value) == {"frame", "prompt"}:
        return PromptAt(value["frame"], value["prompt"])
    raise InvalidInputError(f"prompt_at[{index}]: {value!r} is not {{'frame': ..., 'prompt': ...}}",
                            field=f"prompt_at[{index}]")


def _reference(value: Any, index: int) -> ReferenceFrame:
    if isinstance(value, ReferenceFrame):
        return value
    if isinstance(value, dict) and "image" in value and set(value) <= {"image", "frame"}:
        return ReferenceFrame(value["image"], value.get("frame", 0))
    raise InvalidInputError(f"references[{index}]: {value!r} is not {{'image': ..., 'frame': ...}}",
                            field=f"references[{index}]")


def denoising_steps(req: GenerationRequest) -> int:
    """Steps the sampler runs: all of them, or from references / a video the last `strength` share (img2img)."""
    if req.references and req.sparsectrl is None:
        return min(int(req.steps * req.reference_strength), req.steps)
    if req.video:
        return min(int(req.steps * req.video_strength), req.steps)
    return req.steps


def segment_frames(req: GenerationRequest) -> int:
    """Frames the sampler denoises at once: the clip, plus the pinned overlap when extending one."""
    return req.frames + (req.extend_overlap if req.extend else 0)

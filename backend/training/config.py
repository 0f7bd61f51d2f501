"""Typed training configs: a JSON or TOML file, then command-line flags on top, validated field by field.

File layout (TOML shown; JSON has the same keys):

    kind = "motion-lora"                 # domain-adapter | motion-module | motion-lora
    base = "models/builtin/base"         # any SD1.5-family base the engine loads; omitted: the built-in one
    motion_module = "my_mm.safetensors"  # motion-lora: required; motion-module: optional starting point
    domain_adapter = "adapter.safetensors"  # merged into the frozen base while training the motion module/LoRA
    output_dir = "runs/zoom"
    rank = 8
    resume = false
    [data]
    source = "camera"                    # synthetic | folder | camera
    path = "my_pictures/"                # folder (clips) or camera (stills/clips); camera without one: scenes
    camera_move = "zoom-in"
    count = 40
    [loop]
    steps = 400
    learning_rate = 1e-4

Every rejection is an `InvalidInputError` naming the field (`loop.steps`), the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.training.loop_settings import LR_SCHEDULES, LoopSettings
from backend.training.shapes import OBJECT_MOVES
from models.camera import CAMERA_MOVES
from models.errors import InvalidInputError
from models.motion_config import MOTION_VARIANTS

KINDS: tuple[str, ...] = ("domain-adapter", "motion-module", "motion-lora")
SOURCES: tuple[str, ...] = ("synthetic", "folder", "camera")
PRECISIONS: tuple[str, ...] = ("no", "fp16", "bf16")
DEVICES: tuple[str, ...] = ("auto", "cpu")


@dataclass(frozen=True)
class DataConfig:
    """Where clips come from and how they are cut."""

    source: str = "synthetic"
    path: str | None = None
    count: int = 1000  # synthetic/camera: how many clips (camera: how many sources are used)
    frames: int = 16
    stride: int = 4  # folder: take every stride-th frame of a clip (the paper's sampling)
    size: int = 64  # square side in pixels after the centre crop
    moves: tuple[str, ...] = OBJECT_MOVES  # synthetic: which object moves
    camera_move: str | None = None  # camera: the move to synthesize
    camera_strength: float = 1.0
    watermark: bool = True  # synthetic: put the video-only corner mark on the clips
    seed: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """One training run. `loop` holds steps, learning rate, batch, checkpoint and sample intervals."""

    kind: str
    output_dir: str
    base: str | None = None
    motion_module: str | None = None
    domain_adapter: str | None = None
    rank: int = 8
    # Share of captions replaced by "" (classifier-free guidance's unconditional branch learns the motion too):
    # the official AnimateDiff trainer's cfg_random_null_text_ratio.
    caption_dropout: float = 0.1
    motion_variant: str = "transformer"  # motion-module: transformer, hybrid (EasyAnimate) or conv1d (ablation)
    resume: bool = False
    sample_prompt: str = "a red circle moving right"
    sample_steps: int = 20  # denoising steps of the sample clip rendered every loop.sample_every steps
    data: DataConfig = field(default_factory=DataConfig)
    loop: LoopSettings = field(default_factory=LoopSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _bad(name: str, value: Any, accepted: str) -> InvalidInputError:
    return InvalidInputError(f"{name}: {value!r} is not accepted; expected {accepted}", field=name)


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    """A dataclass from a dict: unknown keys and wrong types are errors naming `prefix.key`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInputError(f"{prefix}{unknown[0]}: unknown field; accepted: {', '.join(sorted(fields))}",
                                field=f"{prefix}{unknown[0]}")
    values = {}
    for key, value in data.items():
        kind = fields[key].type
        name = f"{prefix}{key}"
        if kind in ("int", int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _bad(name, value, "an integer")
        elif kind in ("float", float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(name, value, "a number")
            value = float(value)
        elif kind in ("bool", bool):
            if not isinstance(value, bool):
                raise _bad(name, value, "true or false")
        elif kind in ("str", str):
            if not isinstance(value, str):
                raise _bad(name, value, "text")
        elif kind == "str | None":
            if value is not None and not isinstance(value, str):
                raise _bad(name, value, "text or nothing")
        elif kind == "tuple[str, ...]":
            if isinstance(value, str):
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise _bad(name, value, "a list of names")
            value = tuple(value)
        values[key] = value
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    data = dict(data)
    data_part = data.pop("data", {}) or {}
    loop_part = data.pop("loop", {}) or {}
    for name, part in (("data", data_part), ("loop", loop_part)):
        if not isinstance(part, dict):
            raise _bad(name, part, "a table of settings")
    config = dataclasses.replace(_build(TrainConfig, data, ""), data=_build(DataConfig, data_part, "data."),
                                 loop=_build(LoopSettings, loop_part, "loop."))
    check_config(config)
    return config


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw settings of a `.toml` or `.json` file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"config: cannot read {path} ({exc})", field="config") from exc
    try:
        return tomllib.loads(text) if Path(path).suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"config: {path} is not valid {Path(path).suffix.lstrip('.') or 'JSON'} ({exc})",
                                field="config") from exc


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Flags over file values; `data.x` / `loop.x` keys go into their tables."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in overrides.items():
        if "." in key:
            table, sub = key.split(".", 1)
            out.setdefault(table, {})[sub] = value
        else:
            out[key] = value
    return out


def _range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise _bad(name, value, f"a value from {lo} to {hi}")


def check_config(c: TrainConfig) -> None:
    if c.kind not in KINDS:
        raise _bad("kind", c.kind, f"one of {', '.join(KINDS)}")
    if not c.output_dir:
        raise _bad("output_dir", c.output_dir, "a folder to write into")
    if c.kind == "motion-lora" and not c.motion_module:
        raise InvalidInputError("motion_module: missing; a MotionLoRA trains on top of a motion module (give "
                                "--motion-module)", field="motion_module")
    _range("rank", c.rank, 1, 256)
    _range("caption_dropout", c.caption_dropout, 0.0, 1.0)
    if c.motion_variant not in MOTION_VARIANTS:
        raise _bad("motion_variant", c.motion_variant, f"one of {', '.join(MOTION_VARIANTS)}")
    if c.motion_variant != "transformer" and c.kind != "motion-module":
        raise InvalidInputError(f"motion_variant: {c.motion_variant!r} is for training a motion module; a "
                                f"{c.kind} takes the variant of the module it is given", field="motion_variant")
    _range("sample_steps", c.sample_steps, 1, 200)
    d, lp = c.data, c.loop
    if d.source not in SOURCES:
        raise _bad("data.source", d.source, f"one of {', '.join(SOURCES)}")
    if d.source == "folder" and not d.path:
        raise InvalidInputError("data.path: missing; data.source=folder needs a folder of clips", field="data.path")
    if c.kind == "motion-lora" and d.source == "camera" and d.camera_move not in CAMERA_MOVES:
        raise _bad("data.camera_move", d.camera_move, f"one of {', '.join(CAMERA_MOVES)}")
    unknown = [m for m in d.moves if m not in OBJECT_MOVES]
    if unknown or not d.moves:
        raise _bad("data.moves", ",".join(d.moves), f"some of {', '.join(OBJECT_MOVES)}")
    _range("data.count", d.count, 1, 10_000_000)
    _range("data.frames", d.frames, 1 if c.kind == "domain-adapter" else 2, 64)
    _range("data.stride", d.stride, 1, 64)
    _range("data.size", d.size, 32, 1024)
    if d.size % 8:
        raise _bad("data.size", d.size, "a multiple of 8")
    _range("data.camera_strength", d.camera_strength, 0.05, 1.5)
    _range("loop.steps", lp.steps, 1, 10_000_000)
    _range("loop.learning_rate", lp.learning_rate, 1e-8, 1.0)
    _range("loop.batch_size", lp.batch_size, 1, 4096)
    _range("loop.gradient_accumulation_steps", lp.gradient_accumulation_steps, 1, 1024)
    _range("loop.lr_warmup_steps", lp.lr_warmup_steps, 0, 10_000_000)
    _range("loop.max_grad_norm", lp.max_grad_norm, 0.0, 1e6)
    if lp.lr_schedule not in LR_SCHEDULES:
        raise _bad("loop.lr_schedule", lp.lr_schedule, f"one of {', '.join(LR_SCHEDULES)}")
    for name in ("checkpoint_every", "sample_every", "log_every", "num_workers"):
        _range(f"loop.{name}", getattr(lp, name), 0, 10_000_000)
    if lp.mixed_precision not in PRECISIONS:
        raise _bad("loop.mixed_precision", lp.mixed_precision, f"one of {', '.join(PRECISIONS)}")
    if lp.device not in DEVICES:
        raise _bad("loop.device", lp.device, f"one of {', '.join(DEVICES)}")

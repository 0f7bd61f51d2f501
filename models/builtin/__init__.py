"""The built-in model shipped in this folder, and where each of its files is.

A tiny SD-architecture pipeline trained from nothing on procedural shapes by `scripts/train_builtin.py`
(docs/builtin-model.md): `base/` (diffusers folder: UNet, VAE, CLIP text encoder; the tokenizer is the shipped
SD1.5 one), `personalized/` (the base fine-tuned on outlined shapes), `motion_module.safetensors` (original
AnimateDiff layout), `domain_adapter.safetensors`, and `motion-loras/<move>.safetensors` for the camera moves.
All weights are fp16 safetensors. This module imports no torch: the CLI and the service ask it for paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

BUILTIN_DIR = Path(__file__).parent


@dataclass(frozen=True)
class BuiltinDefaults:
    """Generation settings the built-in model was trained for (its pictures are 64x64, its clips 16 frames)."""

    width: int = 64
    height: int = 64
    frames: int = 16
    steps: int = 20
    guidance: float = 4.0


@dataclass(frozen=True)
class BuiltinModel:
    base: Path
    personalized: Path
    motion_module: Path
    domain_adapter: Path
    motion_lora_dir: Path  # `<move>.safetensors`: a folder `resolve_camera_move` can search
    camera: dict[str, Path] = field(default_factory=dict)  # move -> MotionLoRA file, for the moves shipped
    defaults: BuiltinDefaults = field(default_factory=BuiltinDefaults)

    def exists(self) -> bool:
        return (self.base / "unet" / "config.json").is_file() and self.motion_module.is_file()


def builtin_model_paths(root: Path = BUILTIN_DIR) -> BuiltinModel:
    """Where the built-in model's files are (check `.exists()`: a checkout without them still imports)."""
    loras = root / "motion-loras"
    camera = {p.stem: p for p in sorted(loras.glob("*.safetensors"))} if loras.is_dir() else {}
    manifest = root / "manifest.json"
    defaults = BuiltinDefaults(**json.loads(manifest.read_text()).get("defaults", {})) if manifest.is_file() \
        else BuiltinDefaults()
    return BuiltinModel(
        base=root / "base", personalized=root / "personalized", motion_module=root / "motion_module.safetensors",
        domain_adapter=root / "domain_adapter.safetensors", motion_lora_dir=loras, camera=camera, defaults=defaults,
    )


def camera_folders_for(base: Path | None) -> list[Path]:
    """Where camera-move MotionLoRAs may also come from for this base: the built-in ones go with the built-in
    model (base or personalized) only; with any other base they would not fit its motion module."""
    builtin = builtin_model_paths()
    if base is not None and base.resolve() in (builtin.base.resolve(), builtin.personalized.resolve()):
        return [builtin.motion_lora_dir]
    return []

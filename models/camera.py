"""Camera-motion vocabulary and the official MotionLoRA file each move maps to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

# move -> file name of the official AnimateDiff v2 MotionLoRA (guoyww/animatediff).
OFFICIAL_MOTION_LORAS: dict[str, str] = {
    "zoom-in": "v2_lora_ZoomIn.ckpt",
    "zoom-out": "v2_lora_ZoomOut.ckpt",
    "pan-left": "v2_lora_PanLeft.ckpt",
    "pan-right": "v2_lora_PanRight.ckpt",
    "tilt-up": "v2_lora_TiltUp.ckpt",
    "tilt-down": "v2_lora_TiltDown.ckpt",
    "roll-clockwise": "v2_lora_RollingClockwise.ckpt",
    "roll-anticlockwise": "v2_lora_RollingAnticlockwise.ckpt",
}
CAMERA_MOVES: tuple[str, ...] = tuple(OFFICIAL_MOTION_LORAS)


@dataclass(frozen=True)
class CameraMove:
    """One camera move of the vocabulary with its strength (0 = off, 1 = as trained)."""

    move: str
    strength: float = 1.0


def candidate_file_names(move: str) -> list[str]:
    """File names that count as this move's MotionLoRA: the official one, then `<move>.safetensors`."""
    official = OFFICIAL_MOTION_LORAS[move]
    stem = official.rsplit(".", 1)[0]
    return [official, f"{stem}.safetensors", f"{move}.safetensors", f"{move}.ckpt"]


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


# "zoomin" (ours) and "zoomin"/"rollingclockwise" (the official names' tags), longest first so that a name is
# matched by its most specific tag.
_MOVE_TAGS = sorted(
    {(_squash(tag), move) for move, official in OFFICIAL_MOTION_LORAS.items()
     for tag in (move, official.removeprefix("v2_lora_").removesuffix(".ckpt"))},
    key=lambda pair: -len(pair[0]),
)


def move_from_file_name(name: str) -> str | None:
    """The camera move a MotionLoRA's file name names (`v2_lora_ZoomIn.ckpt`, `mm_sd15_v2_lora_PanLeft...`)."""
    stem = _squash(PurePath(name).name.split(".")[0])
    return next((move for tag, move in _MOVE_TAGS if tag in stem), None)

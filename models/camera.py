"""Camera-motion vocabulary and the official MotionLoRA file each move maps to."""

from __future__ import annotations

from dataclasses import dataclass

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

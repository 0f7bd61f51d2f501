"""Camera moves synthesized from still pictures or clips with a crop window that moves along time.

As in the paper's MotionLoRA data: zoom in/out by shrinking/growing the crop window, pan/tilt by sliding it,
roll by rotating it. The move names what the *camera* does, so the picture moves the other way: panning left
slides the window left and the content drifts right; tilting up slides it up and the content drifts down;
zooming in shrinks the window and the content grows; rolling clockwise turns the window clockwise and the
content turns anticlockwise on screen.

Each output frame is one affine resample of the source (bicubic), so no frame is cropped twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.camera import CAMERA_MOVES
from models.errors import InvalidInputError

# Per unit of strength, over the whole clip: the window shrinks to 1/(1+ZOOM) (content grows 1+ZOOM x), slides
# PAN of its side, or turns ROLL degrees.
ZOOM = 0.6
PAN = 0.35
ROLL = 40.0


@dataclass(frozen=True)
class CropWindow:
    """Where frame t is cut from the source: centre (pixels), side (pixels) and angle (degrees, clockwise)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0


def check_move(move: str, strength: float, field: str = "move") -> None:
    if move not in CAMERA_MOVES:
        raise InvalidInputError(f"{field}: {move!r} is not a camera move; accepted: {', '.join(CAMERA_MOVES)}",
                                field=field)
    if not 0.0 < strength <= 1.5:
        raise InvalidInputError(f"{field}: strength {strength} is not accepted; expected a number in (0, 1.5]",
                                field=field)


def window_path(move: str, frames: int, source_size: tuple[int, int], strength: float = 1.0) -> list[CropWindow]:
    """The crop window of each frame. The widest window is the largest centred square that stays inside the
    source through the whole move (for rolls: inside at every angle), so no frame shows an empty border."""
    check_move(move, strength)
    width, height = source_size
    short = min(width, height)
    cx, cy = width / 2, height / 2
    if move.startswith("roll"):
        base = short / math.sqrt(2)  # a turning square stays inside while its half-diagonal is within short/2
    elif move.startswith(("pan", "tilt")):
        base = short / (1 + PAN * strength)
    else:
        base = short
    out = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        side, x, y, angle = base, cx, cy, 0.0
        if move == "zoom-in":
            side = base / (1 + ZOOM * strength * t)
        elif move == "zoom-out":
            side = base / (1 + ZOOM * strength * (1 - t))
        elif move in ("pan-left", "pan-right"):
            shift = (t - 0.5) * PAN * strength * base
            x = cx + (shift if move == "pan-right" else -shift)
        elif move in ("tilt-up", "tilt-down"):
            shift = (t - 0.5) * PAN * strength * base
            y = cy + (shift if move == "tilt-down" else -shift)
        else:
            angle = ROLL * strength * t * (1 if move == "roll-clockwise" else -1)
        out.append(CropWindow(x, y, side, angle))
    return out


def _cut(source: Image.Image, window: CropWindow, out_size: int) -> Image.Image:
    """Resample the window to out_size x out_size. The affine maps each output pixel to a source point:
    source = centre + R(angle) * (side / out_size) * (output - out_size / 2)."""
    scale = window.side / out_size
    a = math.radians(window.angle)
    cos_a, sin_a = math.cos(a) * scale, math.sin(a) * scale
    half = out_size / 2
    # Row-major 2x3 affine (x', y') <- (x, y); y grows downwards, so +angle turns the window clockwise.
    coeffs = (cos_a, -sin_a, window.cx - cos_a * half + sin_a * half,
              sin_a, cos_a, window.cy - sin_a * half - cos_a * half)
    return source.transform((out_size, out_size), Image.Transform.AFFINE, coeffs,
                            resample=Image.Resampling.BICUBIC)


def synthesize_camera_move(source: np.ndarray, move: str, frames: int, out_size: int,
                           strength: float = 1.0) -> np.ndarray:
    """A clip of `move` from a still (H, W, 3) or a clip (F, H, W, 3); uint8 (frames, out_size, out_size, 3).

    A clip source is followed frame by frame (its own motion stays, the camera move is added); a clip shorter
    than `frames` is an error, not silently looped.
    """
    if source.ndim == 3:
        stills = [Image.fromarray(source)] * frames
    elif source.ndim == 4:
        if source.shape[0] < frames:
            raise InvalidInputError(f"frames: the source clip has {source.shape[0]} frames, fewer than the "
                                    f"{frames} asked for", field="frames")
        stills = [Image.fromarray(f) for f in source[:frames]]
    else:
        raise InvalidInputError(f"source: shape {source.shape} is not (H, W, 3) or (F, H, W, 3)", field="source")
    path = window_path(move, frames, stills[0].size, strength)
    return np.stack([np.asarray(_cut(img, w, out_size).convert("RGB")) for img, w in zip(stills, path, strict=True)])

"""Procedural scenes of coloured shapes, their captions, and clips of them moving.

The built-in model's whole world: a circle, square or triangle in one of four colours on black. Clips move
the shape left/right/up/down, grow or shrink it, or rotate it. Two things make the data like the paper's:

- *Motion blur*: a moving shape leaves two faint copies of itself where it was (a trail). Stills captioned
  with a motion ("a red circle moving right") carry the trail too, so the base model learns what the motion
  words look like in one frame; without this the frozen base gives the motion module no direction signal
  (see TESTING-NOTES: motion words that never appear in the base's captions are never followed).
- *A video-only artifact*: every frame of a "video" clip carries a small grey box in the bottom-right corner
  (a watermark) that stills never have; the domain adapter is meant to absorb it.

Everything is drawn 4x larger and downsampled (anti-aliased edges) and is a pure function of its spec, so a
data set is reproducible from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 100, 245), "yellow": (235, 215, 40),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
STYLES: tuple[str, ...] = ("filled", "outlined")  # "outlined": the personalized model's style, unseen by the base
DIRECTIONS: dict[str, tuple[float, float]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
OBJECT_MOVES: tuple[str, ...] = (*DIRECTIONS, "growing", "shrinking", "rotating")
_SUPERSAMPLE = 4
# (frames behind, opacity) of the motion-blur copies: a comet tail 12 px long at 2 px/frame. A fainter, shorter
# trail (1.5 and 3 frames) was too weak a cue: the base drew the same picture for "moving left" and "moving right".
# The first copy stays under the tracker's threshold (half the brightest pixel), so centroids follow the shape.
_TRAIL = ((2.0, 0.45), (4.0, 0.28), (6.0, 0.14))
WATERMARK_COLOUR = (200, 200, 200)


@dataclass(frozen=True)
class ShapeState:
    """One shape at one instant: centre and size in pixels of a `canvas`-wide image, angle in degrees."""

    kind: str
    colour: str
    x: float
    y: float
    size: float  # circumradius
    angle: float = 0.0
    style: str = "filled"


@dataclass(frozen=True)
class ClipSpec:
    """A shape and how it moves: `rate` is pixels/frame, scale factor/frame or degrees/frame by `move`."""

    start: ShapeState
    move: str
    frames: int
    rate: float


def phrase(move: str | None) -> str:
    """The words a caption uses for a move ("moving right", "growing"), empty for a still."""
    if move is None:
        return ""
    return f"moving {move}" if move in DIRECTIONS else move


def caption(shape: ShapeState, move: str | None = None) -> str:
    """"a red circle", "a blue square moving left"; the style is never named (the personalized model's
    style is a look it takes on, not a word)."""
    text = f"a {shape.colour} {shape.kind}"
    return f"{text} {phrase(move)}" if move else text


def state_at(spec: ClipSpec, t: float) -> ShapeState:
    """The shape `t` frames after the clip's start (t may be fractional or negative, for the trail)."""
    s = spec.start
    if spec.move in DIRECTIONS:
        dx, dy = DIRECTIONS[spec.move]
        return replace(s, x=s.x + dx * spec.rate * t, y=s.y + dy * spec.rate * t)
    if spec.move == "growing":
        return replace(s, size=s.size * spec.rate**t)
    if spec.move == "shrinking":
        return replace(s, size=s.size / spec.rate**t)
    if spec.move == "rotating":
        return replace(s, angle=s.angle + spec.rate * t)
    raise ValueError(f"move: {spec.move!r} is not one of {', '.join(OBJECT_MOVES)}")


def _vertices(shape: ShapeState, scale: float) -> list[tuple[float, float]]:
    n = {"circle": 48, "square": 4, "triangle": 3}[shape.kind]
    offset = {"circle": 0.0, "square": 45.0, "triangle": -90.0}[shape.kind]
    cx, cy, r = shape.x * scale, shape.y * scale, shape.size * scale
    return [
        (cx + r * math.cos(math.radians(offset + shape.angle + 360 * i / n)),
         cy + r * math.sin(math.radians(offset + shape.angle + 360 * i / n)))
        for i in range(n)
    ]


def _mask(shape: ShapeState, canvas: int) -> np.ndarray:
    """Coverage of the shape in [0, 1] at the output resolution (drawn large, then averaged down)."""
    big = Image.new("L", (canvas * _SUPERSAMPLE, canvas * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    points = _vertices(shape, _SUPERSAMPLE)
    if shape.style == "outlined":
        width = max(2, round(shape.size * _SUPERSAMPLE * 0.28))
        draw.polygon(points, outline=255, width=width)
    else:
        draw.polygon(points, fill=255)
    small = big.resize((canvas, canvas), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def watermark_box(canvas: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends, of the video-only corner mark on a `canvas`-wide frame."""
    unit = canvas / 64
    return (canvas - round(15 * unit), canvas - round(8 * unit), canvas - round(3 * unit), canvas - round(3 * unit))


def render(layers: list[tuple[ShapeState, float]], canvas: int, *, watermark: bool = False) -> np.ndarray:
    """Draw shapes (each with an opacity, back to front) on black: uint8 array (canvas, canvas, 3)."""
    image = np.zeros((canvas, canvas, 3), dtype=np.float32)
    for shape, opacity in layers:
        alpha = (_mask(shape, canvas) * opacity)[..., None]
        image = image * (1 - alpha) + np.asarray(COLOURS[shape.colour], dtype=np.float32) * alpha
    if watermark:
        x0, y0, x1, y1 = watermark_box(canvas)
        image[y0:y1, x0:x1] = WATERMARK_COLOUR
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def render_frame(spec: ClipSpec, t: float, canvas: int, *, trail: bool = True, watermark: bool = False) -> np.ndarray:
    """Frame `t` of a clip: the shape with its motion-blur trail behind it."""
    layers = [(state_at(spec, t - lag), opacity) for lag, opacity in _TRAIL] if trail else []
    return render([*reversed(layers), (state_at(spec, t), 1.0)], canvas, watermark=watermark)


def render_clip(spec: ClipSpec, canvas: int, *, trail: bool = True, watermark: bool = True) -> np.ndarray:
    """All frames of a clip: uint8 array (frames, canvas, canvas, 3). Video clips carry the watermark."""
    return np.stack([render_frame(spec, t, canvas, trail=trail, watermark=watermark) for t in range(spec.frames)])


def random_shape(rng: np.random.Generator, canvas: int, *, style: str = "filled") -> ShapeState:
    unit = canvas / 64
    return ShapeState(
        kind=str(rng.choice(SHAPES)), colour=str(rng.choice(list(COLOURS))),
        x=float(rng.uniform(14, 50) * unit), y=float(rng.uniform(14, 50) * unit),
        size=float(rng.uniform(7, 10) * unit), angle=float(rng.uniform(0, 90)), style=style,
    )


def random_clip(rng: np.random.Generator, canvas: int, frames: int, move: str, *, style: str = "filled",
                speed: float = 2.0) -> ClipSpec:
    """A clip of `move` whose shape stays inside the frame the whole time.

    Directions travel `speed` px/frame (at 64 px); sizes change so the clip ends at ~1.8x (or 1/1.8x);
    rotation turns 6 degrees a frame. Circles cannot be seen to rotate, so a rotating clip never draws one.
    """
    unit = canvas / 64
    shape = random_shape(rng, canvas, style=style)
    span = frames - 1
    if move in DIRECTIONS:
        rate = speed * unit
        travel = rate * span
        dx, dy = DIRECTIONS[move]
        margin = shape.size + 2 * unit
        lo, hi = margin, canvas - margin
        # The start is drawn so that start + travel stays within [lo, hi] along the moving axis.
        x = rng.uniform(lo + max(0, -dx) * travel, hi - max(0, dx) * travel) if dx else rng.uniform(lo, hi)
        y = rng.uniform(lo + max(0, -dy) * travel, hi - max(0, dy) * travel) if dy else rng.uniform(lo, hi)
        return ClipSpec(replace(shape, x=float(x), y=float(y)), move, frames, rate)
    if move in ("growing", "shrinking"):
        rate = 1.8 ** (1 / max(span, 1))
        small, large = 5.5 * unit, 5.5 * unit * 1.8
        size = small if move == "growing" else large
        margin = large + 2 * unit
        x, y = rng.uniform(margin, canvas - margin, size=2)
        return ClipSpec(replace(shape, x=float(x), y=float(y), size=float(size)), move, frames, rate)
    if move == "rotating":
        kind = str(rng.choice(["square", "triangle"]))
        return ClipSpec(replace(shape, kind=kind), move, frames, 6.0)
    raise ValueError(f"move: {move!r} is not one of {', '.join(OBJECT_MOVES)}")


@dataclass(frozen=True)
class Sample:
    """One training item: uint8 frames (F, H, W, 3) (F = 1 for a still) and its caption."""

    frames: np.ndarray
    caption: str


def still_sample(rng: np.random.Generator, canvas: int, *, style: str = "filled",
                 motion_share: float = 0.5) -> Sample:
    """A photo-like still (no watermark): half of them show a shape in motion, trail and caption included."""
    if rng.random() < motion_share:
        move = str(rng.choice(OBJECT_MOVES))
        spec = random_clip(rng, canvas, 16, move, style=style)
        t = float(rng.uniform(3, spec.frames - 1))
        return Sample(render_frame(spec, t, canvas)[None], caption(spec.start, move))
    shape = random_shape(rng, canvas, style=style)
    return Sample(render([(shape, 1.0)], canvas)[None], caption(shape))


def clip_sample(rng: np.random.Generator, canvas: int, frames: int, *, moves: tuple[str, ...] = OBJECT_MOVES,
                style: str = "filled", watermark: bool = True) -> Sample:
    """A "video" clip of one of `moves`, captioned with the move, watermark on every frame."""
    move = str(rng.choice(moves))
    spec = random_clip(rng, canvas, frames, move, style=style)
    return Sample(render_clip(spec, canvas, watermark=watermark), caption(spec.start, move))


def scene_still(rng: np.random.Generator, canvas: int, shapes: int = 2) -> Sample:
    """A still with several shapes (for camera-move synthesis, which needs something around the centre)."""
    states = [random_shape(rng, canvas) for _ in range(shapes)]
    text = " and ".join(caption(s) for s in states)
    return Sample(render([(s, 1.0) for s in states], canvas)[None], text)

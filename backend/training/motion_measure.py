"""Measure the motion in frames: a shape tracker for clips on a dark background.

Used by the tests (does a synthesized clip move the way it was asked?) and by the paper benchmark (does a
generated clip?). The tracker takes the bright pixels of each frame, ignoring the watermark corner, and follows
their centroid and area; a motion-blur trail is fainter than the shape and falls below the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.training.shapes import watermark_box


@dataclass(frozen=True)
class FrameTrack:
    """The shape in one frame: centroid (pixels), area (pixels) and whether anything was found."""

    x: float
    y: float
    area: float
    found: bool


def _rgb(frame: np.ndarray | Image.Image) -> np.ndarray:
    return np.asarray(frame.convert("RGB") if isinstance(frame, Image.Image) else frame, dtype=np.float32)


def foreground(frame: np.ndarray | Image.Image, threshold: float = 0.5) -> np.ndarray:
    """Pixels brighter than `threshold` x the frame's brightest (outside the watermark box), as a bool mask."""
    value = _brightness(frame)
    peak = value.max()
    if peak < 40:
        return np.zeros(value.shape, dtype=bool)
    return value > threshold * peak


def _brightness(frame: np.ndarray | Image.Image) -> np.ndarray:
    """Each pixel's brightest channel, with the watermark corner blanked (the corner mark is not the shape)."""
    value = _rgb(frame).max(axis=-1)
    x0, y0, x1, y1 = watermark_box(value.shape[1])
    value[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = 0
    return value


def track(frames: list | np.ndarray) -> list[FrameTrack]:
    """Centroid and area of the foreground in each frame."""
    out = []
    for frame in frames:
        mask = foreground(frame)
        if not mask.any():
            out.append(FrameTrack(float("nan"), float("nan"), 0.0, False))
            continue
        ys, xs = np.nonzero(mask)
        out.append(FrameTrack(float(xs.mean()), float(ys.mean()), float(mask.sum()), True))
    return out


def trail_offset(frame: np.ndarray | Image.Image) -> tuple[float, float] | None:
    """Where a still says its shape is going: (dx, dy) from the shape's centroid to the brightness-weighted
    centroid of its faint pixels (12-50% of the brightest), i.e. of the motion-blur trail, which lies behind the
    shape (a shape moving right: dx < 0). None if there is no shape or no faint pixels."""
    value = _brightness(frame)
    peak = value.max()
    if peak < 40:
        return None
    bright = value > 0.5 * peak
    faint = (value > 0.12 * peak) & ~bright
    if faint.sum() < 3 or bright.sum() < 3:
        return None
    ys, xs = np.nonzero(bright)
    fy, fx = np.nonzero(faint)
    w = value[faint]
    return float((fx * w).sum() / w.sum() - xs.mean()), float((fy * w).sum() / w.sum() - ys.mean())


def displacement(tracks: list[FrameTrack]) -> tuple[float, float]:
    """Least-squares slope of x and y against the frame index, times the clip length: the net travel in pixels,
    robust to one bad frame (first-minus-last is not)."""
    found = [(i, t) for i, t in enumerate(tracks) if t.found]
    if len(found) < 2:
        return 0.0, 0.0
    idx = np.array([i for i, _ in found], dtype=np.float64)
    span = len(tracks) - 1
    dx = np.polyfit(idx, [t.x for _, t in found], 1)[0] * span
    dy = np.polyfit(idx, [t.y for _, t in found], 1)[0] * span
    return float(dx), float(dy)


def median_jump(tracks: list[FrameTrack]) -> float:
    """Median distance (pixels) the shape's centroid moves between consecutive frames where it is found: about the
    speed for a clip of one moving shape, large when each frame draws its own picture; inf if under two frames."""
    found = np.array([(t.x, t.y) for t in tracks if t.found])
    if len(found) < 2:
        return float("inf")
    return float(np.median(np.hypot(*np.diff(found, axis=0).T)))


def direction(tracks: list[FrameTrack], min_travel: float = 4.0) -> str | None:
    """"left", "right", "up" or "down" by the dominant axis of travel; None if it moved less than `min_travel`."""
    dx, dy = displacement(tracks)
    if max(abs(dx), abs(dy)) < min_travel:
        return None
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def area_ratio(tracks: list[FrameTrack]) -> float:
    """Area of the last found frame over the first (> 1: growing / zooming in)."""
    found = [t for t in tracks if t.found and t.area > 0]
    return found[-1].area / found[0].area if len(found) >= 2 else 1.0


def rotation(frame_a: np.ndarray | Image.Image, frame_b: np.ndarray | Image.Image, max_angle: float = 60.0,
             step: float = 1.0) -> float:
    """Degrees (clockwise positive, y down) that best turn frame A's content about the image centre into B's."""
    a, b = Image.fromarray(_rgb(frame_a).astype(np.uint8)), _rgb(frame_b)
    best, best_err = 0.0, float("inf")
    for angle in np.arange(-max_angle, max_angle + step, step):
        # PIL rotates anticlockwise for a positive angle.
        turned = np.asarray(a.rotate(-float(angle), resample=Image.Resampling.BILINEAR), dtype=np.float32)
        err = float(np.mean((turned - b) ** 2))
        if err < best_err:
            best, best_err = float(angle), err
    return best


def watermark_contrast(frame: np.ndarray | Image.Image) -> float:
    """Mean brightness inside the watermark box minus the mean of a ring around it (0..255)."""
    value = _rgb(frame).mean(axis=-1)
    x0, y0, x1, y1 = watermark_box(value.shape[1])
    inside = value[y0:y1, x0:x1].mean()
    ring = np.concatenate([value[y0 - 3:y0 - 1, x0:x1].ravel(), value[y0:y1, x0 - 3:x0 - 1].ravel()])
    return float(inside - ring.mean())


def is_outlined(frame: np.ndarray | Image.Image) -> bool | None:
    """Whether the shape is drawn as an outline rather than filled: its bright pixels enclose dark ones (a hole
    not reachable from the frame's border through dark pixels); None if no shape is found.

    A hole, not a dark centroid: the motion-blur trail (a fainter copy 4 px behind, below the foreground
    threshold) fills the small hollow of an outlined triangle at its centroid, which a centroid test read as
    filled on every moving triangle of the data itself.
    """
    mask = foreground(frame)
    if mask.sum() < 6:
        return None
    return bool(enclosed(mask).any())


def enclosed(mask: np.ndarray) -> np.ndarray:
    """The pixels outside `mask` that `mask` closes off from the border (4-connected flood fill from outside)."""
    free = ~np.pad(mask, 1)
    outside = np.zeros_like(free)
    outside[0, :] = outside[-1, :] = outside[:, 0] = outside[:, -1] = True
    while True:
        grown = outside.copy()
        grown[1:] |= outside[:-1]
        grown[:-1] |= outside[1:]
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= free
        if np.array_equal(grown, outside):
            return (free & ~outside)[1:-1, 1:-1]
        outside = grown

"""Sliding context windows: which frames each UNet call sees, and how overlapping predictions are fused.

A clip longer than the motion module's training length is denoised window by window (each window as
long as the module was trained for), every step; frames covered by several windows get the weighted
mean of their predictions. Memory then depends on the window, not on the clip's length. With a
closed loop the windows wrap around the end, so the last frames are denoised together with the first
ones and the clip loops seamlessly.
"""

from __future__ import annotations

from dataclasses import dataclass

WEIGHTINGS: tuple[str, ...] = ("flat", "pyramid")


@dataclass(frozen=True)
class ContextPlan:
    """The frame indices of every window (in order) and each window position's fuse weight."""

    windows: tuple[tuple[int, ...], ...]
    weights: tuple[float, ...]  # one per position inside a window


def plan_windows(frames: int, length: int, overlap: int, closed_loop: bool = False,
                 weighting: str = "pyramid") -> ContextPlan:
    """Windows of `length` frames starting every `length - overlap` frames, covering all `frames`.

    Open: the last window is shifted back to end at the last frame (no window runs past the clip).
    Closed loop: windows keep their stride and wrap past the end to the first frames.
    """
    if length < 1:
        raise ValueError(f"length: {length} is not accepted; expected at least 1")
    if not 0 <= overlap < length:
        raise ValueError(f"overlap: {overlap} is not accepted; expected 0 to {length - 1}")
    if frames <= length:
        # One window covers everything: the same computation as no windows at all.
        return ContextPlan((tuple(range(frames)),), _weights(frames, weighting))
    stride = length - overlap
    windows: list[tuple[int, ...]] = []
    if closed_loop:
        for start in range(0, frames, stride):
            windows.append(tuple((start + i) % frames for i in range(length)))
    else:
        start = 0
        while True:
            start = min(start, frames - length)
            windows.append(tuple(range(start, start + length)))
            if start + length >= frames:
                break
            start += stride
    return ContextPlan(tuple(windows), _weights(length, weighting))


def _weights(length: int, weighting: str) -> tuple[float, ...]:
    if weighting == "flat":
        return (1.0,) * length
    if weighting == "pyramid":
        # Highest in the middle of a window, lowest at its edges, where its context is one-sided.
        return tuple(float(min(i + 1, length - i)) for i in range(length))
    raise ValueError(f"weighting: {weighting!r} is not accepted; expected one of {', '.join(WEIGHTINGS)}")

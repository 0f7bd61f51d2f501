"""Values pinned at some frames and blended linearly in between: reference latents, prompt embeddings."""

from __future__ import annotations

import torch


def interpolate_keyframes(by_frame: dict[int, torch.Tensor], frames: int) -> torch.Tensor:
    """{frame index: tensor} -> (frames, *shape): the keyframe's own value at its frame, a linear blend by
    frame distance between two keyframes, and the nearest keyframe's value before the first / after the last."""
    keys = sorted(by_frame)
    out = []
    for f in range(frames):
        if f <= keys[0]:
            out.append(by_frame[keys[0]])
        elif f >= keys[-1]:
            out.append(by_frame[keys[-1]])
        else:
            left = max(k for k in keys if k <= f)
            right = min(k for k in keys if k >= f)
            out.append(by_frame[left] if left == right else torch.lerp(by_frame[left], by_frame[right],
                                                                         (f - left) / (right - left)))
    return torch.stack(out)

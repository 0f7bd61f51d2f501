"""Torch data sets over the data sources: procedural stills and clips, single video frames, camera moves,
and a user's clip folder. Items are `{"pixels": float tensor in [-1, 1], "caption": str}`: (3, H, W) for an
image, (F, 3, H, W) for a clip. Procedural items are a pure function of (seed, index): reproducible and
resumable without storing anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from backend.training.camera_synthesis import synthesize_camera_move
from backend.training.shapes import (
    OBJECT_MOVES,
    Sample,
    caption,
    clip_sample,
    random_clip,
    render_frame,
    scene_still,
    still_sample,
)


def to_pixels(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float (F, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _item(sample: Sample, still: bool) -> dict:
    pixels = to_pixels(sample.frames)
    return {"pixels": pixels[0] if still else pixels, "caption": sample.caption}


class ProceduralStills(Dataset):
    """Photo-like stills of one shape (no watermark); `motion_share` of them show a shape in motion."""

    def __init__(self, length: int, canvas: int = 64, seed: int = 0, style: str = "filled",
                 motion_share: float = 0.5) -> None:
        self.length, self.canvas, self.seed, self.style, self.motion_share = length, canvas, seed, style, motion_share

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        return _item(still_sample(rng, self.canvas, style=self.style, motion_share=self.motion_share), True)


class ProceduralClips(Dataset):
    """"Video" clips of shapes doing one of `moves`, with the watermark on every frame."""

    def __init__(self, length: int, canvas: int = 64, frames: int = 16, seed: int = 0,
                 moves: tuple[str, ...] = OBJECT_MOVES, style: str = "filled", watermark: bool = True) -> None:
        self.length, self.canvas, self.frames, self.seed = length, canvas, frames, seed
        self.moves, self.style, self.watermark = moves, style, watermark

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        return _item(clip_sample(rng, self.canvas, self.frames, moves=self.moves, style=self.style,
                                 watermark=self.watermark), False)


class ProceduralVideoFrames(ProceduralClips):
    """One seeded frame of each procedural clip, rendered alone (16x cheaper than rendering the clip)."""

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        move = str(rng.choice(self.moves))
        spec = random_clip(rng, self.canvas, self.frames, move, style=self.style)
        t = int(rng.integers(self.frames))
        frame = render_frame(spec, t, self.canvas, watermark=self.watermark)
        return {"pixels": to_pixels(frame[None])[0], "caption": caption(spec.start, move)}


class VideoFrames(Dataset):
    """Single frames of a clip data set (what the domain adapter trains on): item i is one seeded frame of
    clip i."""

    def __init__(self, clips: Dataset, seed: int = 0) -> None:
        self.clips, self.seed = clips, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        item = self.clips[index]
        frame = int(np.random.default_rng([self.seed, index, 1]).integers(item["pixels"].shape[0]))
        return {"pixels": item["pixels"][frame], "caption": item["caption"]}


class CameraMoveClips(Dataset):
    """One camera move synthesized from each source (a still (H, W, 3) or a clip (F, H, W, 3)), with a
    seeded strength jitter so the MotionLoRA learns the move, not one speed."""

    def __init__(self, sources: Sequence[Sample], move: str, frames: int, size: int, strength: float = 1.0,
                 jitter: float = 0.2, seed: int = 0) -> None:
        self.sources, self.move, self.frames, self.size = list(sources), move, frames, size
        self.strength, self.jitter, self.seed = strength, jitter, seed

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> dict:
        source = self.sources[index]
        rng = np.random.default_rng([self.seed, index, 2])
        strength = self.strength * float(rng.uniform(1 - self.jitter, 1 + self.jitter))
        frames = source.frames[0] if source.frames.shape[0] == 1 else source.frames
        clip = synthesize_camera_move(frames, self.move, self.frames, self.size, strength)
        return {"pixels": to_pixels(clip), "caption": source.caption}


def procedural_scenes(count: int, canvas: int, seed: int = 0, shapes: int = 0) -> list[Sample]:
    """Stills of 1-3 shapes (or `shapes` each) on a canvas larger than the clips cut from them (camera-move
    sources)."""
    return [scene_still(np.random.default_rng([seed, i, 3]), canvas, shapes=shapes or 1 + i % 3)
            for i in range(count)]


class SampleList(Dataset):
    """Already loaded samples (a user's clip folder): clips as (F, 3, H, W), stills as (3, H, W)."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples = list(samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        return _item(sample, sample.frames.shape[0] == 1)

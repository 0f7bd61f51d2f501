"""Continue a finished clip (EasyAnimate-style): the new segment starts with the source's last frames
pinned, so the motion module sees the real ending, and the overlap is cross-faded into the result.

The source's own final latents (`latents.safetensors`, written with every clip) are used when present:
pinned to them, the overlap decodes to exactly the source's frames. Otherwise its last frames are
encoded with the VAE, and the cross-fade hides the VAE's round-trip error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from safetensors import safe_open

from backend.engine.reference_latents import encode_images
from models.errors import InvalidInputError

LATENTS_FILE = "latents.safetensors"


@dataclass
class SourceClip:
    folder: Path
    request: dict
    frames: list[Image.Image]


def load_source_clip(folder: Path, field: str = "extend") -> SourceClip:
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise InvalidInputError(f"{field}: {str(folder)!r} is not a finished clip (no metadata.json); expected the "
                                "output folder of a generation", field=field)
    request = json.loads(meta_path.read_text())["request"]
    frame_paths = sorted((folder / "frames").glob("*.png"))
    if not frame_paths:
        raise InvalidInputError(f"{field}: {folder} has no frames/*.png", field=field)
    frames = []
    for path in frame_paths:
        with Image.open(path) as img:
            frames.append(img.convert("RGB"))
    return SourceClip(folder, request, frames)


def check_fits(source: SourceClip, width: int, height: int, overlap: int, field: str = "extend") -> None:
    if source.frames[0].size != (width, height):
        w, h = source.frames[0].size
        raise InvalidInputError(f"{field}: the source clip is {w}x{h}; set width={w} and height={h} to continue it",
                                field=field)
    if overlap > len(source.frames):
        raise InvalidInputError(f"extend_overlap: {overlap} is more than the source clip's {len(source.frames)} "
                                "frames", field="extend_overlap")


def source_tail_latents(pipe, source: SourceClip, overlap: int) -> torch.Tensor:
    """(1, C, overlap, h, w): the source's last `overlap` frames as latents (saved ones when there are)."""
    saved = _saved_tail(source.folder / LATENTS_FILE, len(source.frames), overlap)
    if saved is not None:
        return saved
    encoded = encode_images(pipe, source.frames[-overlap:])  # (overlap, C, h, w)
    return encoded.movedim(0, 1).unsqueeze(0)


def _saved_tail(path: Path, clip_frames: int, overlap: int) -> torch.Tensor | None:
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        first = int((f.metadata() or {}).get("first_frame", "0"))
        latents = f.get_tensor("latents")
    if first + latents.shape[2] != clip_frames or latents.shape[2] < overlap:
        return None  # not this clip's ending: fall back to encoding the frames
    return latents[:, :, -overlap:].float()


def join(source: list[Image.Image], segment: list[Image.Image], overlap: int) -> list[Image.Image]:
    """source[:-overlap] + the overlap cross-faded from the source's frames to the segment's + the rest."""
    out = list(source[:-overlap])
    for j in range(overlap):
        keep = 1 - j / overlap  # the first overlap frame is the source's own, then it hands over
        out.append(Image.blend(segment[j], source[len(source) - overlap + j], keep))
    return out + list(segment[overlap:])

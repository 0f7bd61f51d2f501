"""A user's folder of training clips: videos, GIFs and frame folders with their captions.

What is read: `*.mp4`, `*.webm`, `*.mov`, `*.mkv` (through imageio-ffmpeg), `*.gif`, and sub-folders of
numbered pictures (a frame folder); with `allow_stills`, single pictures too (camera-move sources). Captions
come from a sidecar `NAME.txt`, else a `captions.csv` (columns `file,caption`) in the folder, else the file
name ("red_ball_rolling.mp4" -> "red ball rolling", reported).

As in the paper, `frames` frames are taken `stride` apart from the middle of each clip, centre-cropped to a
square and resized to `size`. A file that cannot be read or is too short is skipped and listed in the report
with the reason; it never stops the run.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from backend.training.shapes import Sample
from models.errors import InvalidInputError

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class FolderReport:
    """What was loaded and what was skipped (file, reason); `named_from_file` lists captions taken from names."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    named_from_file: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.loaded)} loaded, {len(self.skipped)} skipped"]
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped]
        if self.named_from_file:
            lines.append(f"  {len(self.named_from_file)} without a caption file used their file name as caption")
        return "\n".join(lines)


def square_crop(image: Image.Image, size: int) -> np.ndarray:
    """Centre-crop to the largest square and resize to size x size; uint8 (size, size, 3)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    box = image.convert("RGB").crop((left, top, left + side, top + side))
    return np.asarray(box.resize((size, size), Image.Resampling.BICUBIC))


def pick_indices(total: int, frames: int, stride: int) -> list[int]:
    """`frames` indices `stride` apart, centred in a clip of `total` frames; [] when it is too short."""
    span = (frames - 1) * stride + 1
    if total < span:
        return []
    start = (total - span) // 2
    return [start + i * stride for i in range(frames)]


def _read_video(path: Path) -> list[Image.Image]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    out = [Image.frombytes("RGB", (width, height), bytes(raw)) for raw in reader]
    if not out:
        raise ValueError("no frames decoded")
    return out


def _read_gif(path: Path) -> list[Image.Image]:
    with Image.open(path) as img:
        return [frame.convert("RGB") for frame in ImageSequence.Iterator(img)]


def _read_frame_folder(path: Path) -> list[Image.Image]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError("no pictures in the folder")
    frames = []
    for f in files:
        with Image.open(f) as img:
            frames.append(img.convert("RGB"))
    return frames


def _captions_csv(folder: Path) -> dict[str, str]:
    path = folder / "captions.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise InvalidInputError(f"data: {path} must have the columns file,caption; it has {reader.fieldnames}",
                                    field="data")
        return {row["file"].strip(): row["caption"].strip() for row in reader if row.get("file")}


def _caption(item: Path, table: dict[str, str], report: FolderReport) -> str:
    sidecar = item.with_suffix(".txt") if item.is_file() else item.parent / f"{item.name}.txt"
    if sidecar.is_file():
        return sidecar.read_text(encoding="utf-8").strip()
    for key in (item.name, item.stem):
        if key in table:
            return table[key]
    report.named_from_file.append(item.name)
    return item.stem.replace("_", " ").replace("-", " ")


def load_clip_folder(folder: Path, frames: int, stride: int, size: int, *, allow_stills: bool = False
                     ) -> tuple[list[Sample], FolderReport]:
    """Every readable clip of `folder` as a `Sample` ((frames, size, size, 3) uint8 + caption), and the report."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InvalidInputError(f"data.path: {folder} is not a folder", field="data.path")
    report, samples = FolderReport(), []
    table = _captions_csv(folder)
    for item in sorted(folder.iterdir()):
        suffix = item.suffix.lower()
        if item.name.startswith(".") or suffix in (".txt", ".csv"):
            continue
        try:
            if item.is_dir():
                images = _read_frame_folder(item)
            elif suffix in VIDEO_SUFFIXES:
                images = _read_video(item)
            elif suffix == ".gif":
                images = _read_gif(item)
            elif suffix in IMAGE_SUFFIXES and allow_stills:
                with Image.open(item) as img:
                    images = [img.convert("RGB")]
            else:
                report.skipped.append((item.name, f"not a clip ({suffix or 'no extension'}); expected "
                                       f"{', '.join(VIDEO_SUFFIXES)}, .gif or a frame folder"))
                continue
        except (OSError, ValueError, RuntimeError, UnidentifiedImageError, StopIteration) as exc:
            report.skipped.append((item.name, f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"))
            continue
        if len(images) == 1 and allow_stills:
            chosen = images
        else:
            indices = pick_indices(len(images), frames, stride)
            if not indices:
                report.skipped.append((item.name, f"too short: {len(images)} frames, {(frames - 1) * stride + 1} "
                                       f"needed for {frames} frames at stride {stride}"))
                continue
            chosen = [images[i] for i in indices]
        samples.append(Sample(np.stack([square_crop(img, size) for img in chosen]), _caption(item, table, report)))
        report.loaded.append(item.name)
    return samples, report

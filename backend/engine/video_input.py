"""The frames of a video-to-video request: uploaded/listed pictures, a folder of frames, or a video file."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from backend.uploads import resolve_reference_image
from models.errors import InvalidInputError

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def resolve_video(items: tuple[str, ...], *, allow_relative: bool = True) -> tuple[Path, ...]:
    """The files behind `video`: each frame file, or the one video file. A folder means its frames, in name order."""
    if len(items) == 1:
        path = Path(items[0]).expanduser()
        if not allow_relative and not path.is_absolute() and (path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES):
            raise InvalidInputError(f"video[0]: {items[0]!r} is not accepted; expected an absolute path",
                                    field="video[0]")
        if path.is_dir():
            frames = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not frames:
                raise InvalidInputError(f"video[0]: the folder {path} holds no PNG/JPEG/WebP frames", field="video[0]")
            return tuple(p.resolve() for p in frames)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            if not path.is_file():
                raise InvalidInputError(f"video[0]: {items[0]!r} is not a file", field="video[0]")
            return (path.resolve(),)
    return tuple(resolve_reference_image(item, f"video[{i}]", allow_relative=allow_relative)
                 for i, item in enumerate(items))


def read_video_frames(files: tuple[Path, ...], count: int) -> list[Image.Image]:
    """The first `count` frames, RGB; an error naming how many there are when there are fewer."""
    if len(files) == 1 and files[0].suffix.lower() in VIDEO_SUFFIXES:
        frames = _decode(files[0], count)
    else:
        frames = []
        for path in files[:count]:
            with Image.open(path) as img:
                frames.append(img.convert("RGB"))
    if len(frames) < count:
        raise InvalidInputError(f"video: {len(frames)} frames is fewer than frames={count}; ask for at most "
                                f"{len(frames)} frames or give a longer video", field="video")
    return frames


def _decode(path: Path, count: int) -> list[Image.Image]:
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = []
    try:
        for raw in reader:
            frames.append(Image.fromarray(np.frombuffer(raw, np.uint8).reshape(height, width, 3)))
            if len(frames) == count:
                break
    finally:
        reader.close()
    return frames

"""The frames of a video-to-video source on this machine: a video file (decoded with imageio-ffmpeg) or a folder
of pictures. Everything here blocks (disk, ffmpeg), so the views call it through `run_task`, never on the GUI
thread; only `QImage` (safe off the GUI thread) is used to read and encode pictures.

imageio-ffmpeg is imported when a video file is read, not before: the app starts without it, and the app-only
bundle leaves it out (a folder of frames still works there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QImage, QImageReader

from desktop.views.common import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif")  # what the service's --video reads too
THUMB_SIDE = 96


@dataclass(frozen=True)
class VideoProbe:
    """What `probe` found: how many frames the source holds and its first frame, small."""

    path: Path
    count: int
    thumbnail: QImage | None
    size: tuple[int, int] | None  # the frames' width x height


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def folder_frames(folder: Path) -> list[Path]:
    """The pictures of a frames folder, in name order (as a render's 0001.png, 0002.png ...)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def probe(path: Path) -> VideoProbe:
    """Count the frames and read the first one; raises ValueError with a sentence for a source it cannot use."""
    if path.is_dir():
        files = folder_frames(path)
        if not files:
            raise ValueError(f"{path}: the folder holds no PNG, JPEG or WebP frames")
        reader = QImageReader(str(files[0]))
        first = reader.read()
        if first.isNull():
            raise ValueError(f"{files[0].name}: not a readable picture ({reader.errorString()})")
        return VideoProbe(path, len(files), _thumbnail(first), (first.width(), first.height()))
    if not is_video_file(path):
        raise ValueError(f"{path.name}: not a video file ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames")
    ffmpeg = _imageio_ffmpeg()
    try:
        count, _seconds = ffmpeg.count_frames_and_secs(str(path))
        frames = _decode(path, 1)
        first = next(frames, None)
        frames.close()  # stops ffmpeg now, not when the generator is collected
    except (OSError, RuntimeError, StopIteration) as exc:
        raise ValueError(f"{path.name}: ffmpeg could not read it ({_first_line(exc)})") from exc
    if not count or first is None:
        raise ValueError(f"{path.name}: the video holds no frames")
    return VideoProbe(path, count, _thumbnail(first), (first.width(), first.height()))


def frame_pictures(path: Path, count: int) -> Iterator[tuple[str, bytes]]:
    """The first `count` frames as `(name, file bytes)` for `POST /v1/uploads`: a folder's files as they are
    (PNG/JPEG/WebP), a video's frames decoded and encoded as PNG. Fewer frames than `count`: ValueError."""
    produced = 0
    if path.is_dir():
        for file in folder_frames(path)[:count]:
            produced += 1
            yield file.name, file.read_bytes()
    else:
        for index, image in enumerate(_decode(path, count)):
            produced += 1
            yield f"frame {index}", png_bytes(image)
    if produced < count:
        raise ValueError(f"video: {path.name} holds {produced} frames, fewer than frames={count}; ask for at most "
                         f"{produced} frames")


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ValueError("could not encode a frame as PNG")
    return bytes(buffer.data())


def _decode(path: Path, count: int) -> Iterator[QImage]:
    reader = _imageio_ffmpeg().read_frames(str(path), pix_fmt="rgb24")
    try:
        width, height = next(reader)["size"]
        for produced, raw in enumerate(reader, start=1):
            # copy(): the QImage must own its pixels, `raw` is reused by nothing but freed with this frame.
            yield QImage(raw, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
            if produced >= count:
                break
    finally:
        reader.close()


def _thumbnail(image: QImage) -> QImage:
    return image.scaled(THUMB_SIDE, THUMB_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


def _imageio_ffmpeg():  # noqa: ANN202 - the module
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise ValueError("reading a video file needs imageio-ffmpeg, which this build does not include; export the "
                         "video's frames to a folder and choose the folder instead") from exc
    return imageio_ffmpeg


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__

"""Reference images sent by the front ends: checked, stored by content under the data dir, found again by id.

An upload's id is the SHA-256 of its bytes, so the same picture sent twice is stored once, and a
`metadata.json` that names an id still points at exactly those pixels. Decoding runs through Pillow with
its decompression-bomb guard; nothing but PNG, JPEG and WebP is kept.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from models.errors import InvalidInputError
from models.paths import data_dir

MAX_UPLOAD_BYTES = 32 << 20  # a 4K PNG is ~25 MB; a reference for a 512x512 clip is far smaller
MAX_SIDE = 8192
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class UploadInfo:
    id: str  # sha256 of the bytes, hex
    width: int
    height: int
    format: str  # PNG, JPEG or WEBP
    size_bytes: int


def uploads_dir() -> Path:
    return data_dir() / "uploads"


def save_upload(data: bytes, field: str = "body") -> UploadInfo:
    """Check that `data` is one PNG/JPEG/WebP image of sane size and store it; returns its id and size."""
    if not data:
        raise InvalidInputError(f"{field}: empty; send the image file's bytes", field=field)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"{field}: {len(data)} bytes is more than the {MAX_UPLOAD_BYTES} accepted", field=field)
    width, height, fmt = _inspect(data, field)
    digest = hashlib.sha256(data).hexdigest()
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{FORMATS[fmt]}"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a reader never sees half an image
    return UploadInfo(digest, width, height, fmt, len(data))


def _inspect(data: bytes, field: str) -> tuple[int, int, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
                img.verify()  # reads the whole file: truncated or corrupt data fails here, not in a job
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(f"{field}: the image is too large to decode safely ({exc})", field=field) from exc
    except Exception as exc:  # Pillow raises many types for bad data; all mean "not an image we can read"
        raise InvalidInputError(f"{field}: not a readable image ({exc}); expected a PNG, JPEG or WebP file",
                                field=field) from exc
    if fmt not in FORMATS:
        raise InvalidInputError(f"{field}: image format {fmt!r} is not accepted; expected PNG, JPEG or WebP",
                                field=field)
    if max(width, height) > MAX_SIDE:
        raise InvalidInputError(f"{field}: {width}x{height} is not accepted; expected at most {MAX_SIDE} pixels a side",
                                field=field)
    return width, height, fmt


def is_upload_id(text: str) -> bool:
    return bool(_ID.fullmatch(text))


def resolve_reference_image(image: str, field: str, *, allow_relative: bool = True) -> Path:
    """An upload id or an existing image path -> the file. The service passes `allow_relative=False`:
    its working directory means nothing to a client."""
    if is_upload_id(image):
        for suffix in FORMATS.values():
            path = uploads_dir() / f"{image}{suffix}"
            if path.is_file():
                return path
        raise InvalidInputError(f"{field}: {image!r} is not an upload of this service; send the image to "
                                "POST /v1/uploads first and use the id it returns", field=field)
    path = Path(image).expanduser()
    if not allow_relative and not path.is_absolute():
        raise InvalidInputError(f"{field}: {image!r} is not accepted; expected an upload id or an absolute path",
                                field=field)
    if not path.is_file():
        raise InvalidInputError(f"{field}: {image!r} is neither an upload id nor an image file", field=field)
    return path.resolve()

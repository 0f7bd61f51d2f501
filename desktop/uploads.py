"""Send the Generate view's local pictures to the service before the job: reference pictures and the frames of
a video (decoded here), each with `POST /v1/uploads`; the request then names them by upload id.

Runs in the submit task's thread (never the GUI thread). A refused upload keeps the service's sentence and is
re-labelled with the request field it belongs to (`references[1].image`, `video[3]`), so the view frames the
right widget.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from backend.client import ApiError, Client
from desktop.video_frames import frame_pictures


class InputError(Exception):
    """A local source that cannot be sent (a video with fewer frames than asked, an unreadable folder)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def upload_inputs(client: Client, request: dict[str, Any], pictures: list[tuple[int, Path]], video: Path | None,
                  report: Callable[[str], None] = lambda _text: None) -> dict[str, Any]:
    """Upload `pictures` (`(index in references, file)`) and the first `frames` frames of `video`; returns
    `request` with their upload ids in `references[i].image` and `video`."""
    for n, (index, path) in enumerate(pictures, start=1):
        report(f"Uploading reference picture {n}/{len(pictures)}...")
        field = f"references[{index}].image"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{field}: {path.name} cannot be read ({exc.strerror or exc})", field) from exc
        try:
            request["references"][index]["image"] = client.upload_image(data).id
        except ApiError as exc:
            raise _relabel(exc, field, path.name) from exc
    if video is not None:
        frames = int(request.get("frames", 16))
        ids: list[str] = []
        for index, (name, data) in enumerate(_video_frames(video, frames)):
            report(f"Uploading video frame {index + 1}/{frames}...")
            try:
                ids.append(client.upload_image(data).id)
            except ApiError as exc:
                raise _relabel(exc, f"video[{index}]", name) from exc
        request["video"] = ids
    return request


def _video_frames(video: Path, frames: int) -> Iterator[tuple[str, bytes]]:
    """The frames to upload; a source that cannot be read is an `InputError` (a network error stays one)."""
    try:
        yield from frame_pictures(video, frames)
    except ValueError as exc:
        raise InputError(str(exc), "video") from exc
    except OSError as exc:
        raise InputError(f"video: {video} cannot be read ({exc.strerror or exc})", "video") from exc


def _relabel(exc: ApiError, field: str, name: str) -> ApiError:
    """The service's sentence about an upload (its field is the request body) under the job's field."""
    message = re.sub(r"^\w+: ", "", exc.message or f"HTTP {exc.status}")
    return ApiError(exc.status, exc.code, f"{field} ({name}): {message}", field=field, value=exc.value)

"""Reference pictures through the service: upload, use in a job, and every bad upload named."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from PIL import Image
from server_fixtures import ServiceProcess, session_server, tiny_request

from backend.client import ApiError


@pytest.fixture(scope="session")
def server() -> ServiceProcess:
    return session_server()


def _image_bytes(fmt: str = "PNG", size: tuple[int, int] = (80, 48), colour=(200, 40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt)
    return buf.getvalue()


def test_upload_then_start_a_clip_from_it(server: ServiceProcess, tmp_path) -> None:
    client = server.client
    picture = tmp_path / "start.png"
    picture.write_bytes(_image_bytes())
    upload = client.upload_image(picture)
    assert (upload.width, upload.height, upload.format) == (80, 48, "PNG")
    assert upload.id == hashlib.sha256(picture.read_bytes()).hexdigest()
    assert client.upload_image(picture.read_bytes()).id == upload.id  # same bytes, same id, stored once

    job_id = client.submit(tiny_request(steps=4, references=[{"image": upload.id, "frame": 0}],
                                        reference_strength=0.5))
    events = list(client.events(job_id))
    assert events[-1].kind == "finished", events[-1].data
    assert [e.data["step"] for e in events if e.kind == "progress"] == [1, 2]  # the last half of 4 steps
    meta = json.loads(client.file_bytes(job_id, "metadata.json"))
    (ref,) = meta["references"]
    assert ref["image"] == upload.id and ref["frame"] == 0 and ref["sha256"] == upload.id


@pytest.mark.parametrize(("body", "words"), [
    (b"", ["empty"]),
    (b"definitely not a picture", ["not a readable image", "PNG, JPEG or WebP"]),
    (_image_bytes()[:60], ["not a readable image"]),  # truncated PNG
    (_image_bytes("GIF"), ["'GIF'", "PNG, JPEG or WebP"]),
    (_image_bytes("PNG", (9000, 8)), ["9000x8", "8192"]),
])
def test_bad_uploads_are_refused_with_the_reason(server: ServiceProcess, body: bytes, words: list[str]) -> None:
    with pytest.raises(ApiError) as err:
        server.client.upload_image(body)
    assert err.value.status == 422 and err.value.field == "body"
    for word in words:
        assert word in err.value.message
    assert server.client.health().status == "ok"


def test_jpeg_and_webp_are_accepted(server: ServiceProcess) -> None:
    assert server.client.upload_image(_image_bytes("JPEG")).format == "JPEG"
    assert server.client.upload_image(_image_bytes("WEBP")).format == "WEBP"


@pytest.mark.parametrize(("reference", "field", "words"), [
    ({"image": "0" * 64}, "references[0].image", ["not an upload", "POST /v1/uploads"]),
    ({"image": "pictures/start.png"}, "references[0].image", ["absolute path"]),
    ({"image": "/no/such/picture.png"}, "references[0].image", ["neither an upload id nor an image file"]),
    ({"image": "0" * 64, "frame": 4}, "references[0].frame", ["4", "-4 to 3"]),
    ({"image": "0" * 64, "frame": "first"}, "references[0].frame", ["first"]),
])
def test_bad_references_are_refused_at_submission(server: ServiceProcess, reference: dict, field: str,
                                                  words: list[str]) -> None:
    with pytest.raises(ApiError) as err:
        server.client.submit(tiny_request(references=[reference]))
    assert err.value.status == 422 and err.value.field == field, err.value.message
    for word in words:
        assert word in err.value.message

"""Video to video in the Generate view against a real service: a video file decoded here, a folder of frames,
each frame uploaded off the GUI thread; a frame the service refuses shows its sentence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from desktop_fixtures import (
    click,
    desktop_service,
    fill_form,
    job_frames,
    open_window,
    png_file,
    screenshot,
    type_into,
    video_file,
)
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog
from server_fixtures import ServiceProcess

JOB_TIMEOUT_MS = 90_000
COLORS = ["#d04020", "#20d040", "#2040d0", "#d0d020", "#20d0d0", "#d020d0"]


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def close_to(image: QImage, color: str, tolerance: int = 24) -> bool:
    pixel, want = image.pixelColor(image.width() // 2, image.height() // 2), QColor(color)
    return all(abs(a - b) <= tolerance for a, b in ((pixel.red(), want.red()), (pixel.green(), want.green()),
                                                     (pixel.blue(), want.blue())))


def test_video_file_is_decoded_and_its_frames_uploaded(qtbot, service: ServiceProcess, tmp_path,
                                                       monkeypatch) -> None:
    clip = video_file(tmp_path / "walk cycle.mp4", COLORS)
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    fill_form(qtbot, window, "a watercolour painting", frames=16)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(clip), "Videos"))
    click(qtbot, gen.video.file_button)
    assert gen.video.summary.text() == "Reading walk cycle.mp4..."  # counted in the background
    qtbot.waitUntil(lambda: gen.video.count == 6, timeout=20_000)
    assert gen.frames.value() == 6 and "6 frames, 64x64" in gen.video.summary.text()
    assert not gen.video.thumb.pixmap().isNull()
    type_into(qtbot, gen.frames, "5")  # restyle the first 5 frames only
    assert "the first 5," in gen.video.summary.text()
    gen.video.strength.slider.setValue(60)
    screenshot(gen.body, "generate-video")

    reported: list[str] = []
    gen._progress.connect(reported.append)  # the submit thread's progress lines
    click(qtbot, gen.generate_button)
    assert gen.generate_button.text() == "Submitting..."  # decoding and uploading run in the background
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 5, timeout=JOB_TIMEOUT_MS)
    job = service.client.job(window.watch.job_id)
    assert job.status == "succeeded" and job_frames(job) == 5
    ids = job.request["video"]
    assert len(ids) == 5 and len(set(ids)) == 5 and job.request["video_strength"] == 0.6 and job.request["frames"] == 5
    assert reported[-1] == "Uploading video frame 5/5..."
    meta = json.loads(service.client.file_bytes(job.id, "metadata.json"))
    assert [v["sha256"] for v in meta["video"]] == ids
    # The uploaded frames are the video's, in order (H.264 is lossy: colours within a tolerance).
    for entry, color in zip(meta["video"], COLORS, strict=False):
        frame = QImage(entry["path"])
        assert frame.size().width() == 64 and close_to(frame, color), (entry["path"], color)


def test_frames_folder_and_a_frame_the_service_refuses(qtbot, service: ServiceProcess, tmp_path,
                                                       monkeypatch) -> None:
    render = tmp_path / "render"
    render.mkdir()
    frames = [png_file(render / f"{i:04d}.png", 64, 64, color) for i, color in enumerate(COLORS[:4])]
    (render / "notes.txt").write_text("not a frame")  # ignored: only pictures are frames
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    fill_form(qtbot, window, "a pencil sketch")
    jobs_before = len(service.client.jobs())

    broken = tmp_path / "broken"
    broken.mkdir()
    for i, color in enumerate(COLORS[:2]):
        png_file(broken / f"{i:04d}.png", 64, 64, color)
    (broken / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n but the rest is not a picture")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(broken))
    click(qtbot, gen.video.folder_button)
    qtbot.waitUntil(lambda: gen.video.count == 3, timeout=10_000)
    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: "video[2]" in gen.error.text(), timeout=20_000)
    # The service's own sentence about the upload, under the field of the frame it refused.
    assert gen.error.text().startswith("video[2] (0002.png): ") and "expected a PNG, JPEG or WebP" in gen.error.text()
    assert "border" in gen.video.summary.styleSheet() and len(service.client.jobs()) == jobs_before

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(render))
    click(qtbot, gen.video.folder_button)
    qtbot.waitUntil(lambda: gen.video.count == 4, timeout=10_000)
    assert gen.frames.value() == 4
    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 4, timeout=JOB_TIMEOUT_MS)
    job = service.client.job(window.watch.job_id)
    assert job.status == "succeeded" and job_frames(job) == 4
    # A folder's frames are sent as they are, in name order.
    assert job.request["video"] == [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in frames]
    assert job.request["video_strength"] == 0.8
    meta = json.loads(service.client.file_bytes(job.id, "metadata.json"))
    assert len(meta["video"]) == 4
    qtbot.waitUntil(lambda: job.id in window.queue.items, timeout=10_000)
    assert "video 4 frames, strength 0.8" in window.queue.items[job.id].text(2)

    # Edit in Generate: the frames come back by their upload ids.
    click(qtbot, gen.video.clear_button)
    window.show_view("queue")
    window.queue.tree.setCurrentItem(window.queue.items[job.id])
    click(qtbot, window.queue.buttons["edit"])
    assert gen.video.path is None and gen.video.count == 4 and "4 frames already on the backend" in \
        gen.video.summary.text()
    assert gen.build_request()["video"] == job.request["video"]

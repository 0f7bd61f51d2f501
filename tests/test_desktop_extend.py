"""Extend... in Queue & history against a real service: continue a succeeded clip by N frames; the result is a
new job holding the source's frames and the new ones."""

from __future__ import annotations

import json

import pytest
from desktop_fixtures import click, desktop_service, job_frames, open_window, screenshot, type_into
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialogButtonBox
from server_fixtures import ServiceProcess, tiny_request

JOB_TIMEOUT_MS = 90_000


def pixels(png: bytes) -> bytes:
    image = QImage.fromData(png).convertToFormat(QImage.Format.Format_RGB888)
    return bytes(image.constBits())


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def test_extend_a_finished_clip(qtbot, service: ServiceProcess, tmp_path) -> None:
    client = service.client
    window = open_window(qtbot, service, tmp_path)  # first: a busy 2-core box may not answer the attach in time
    queue = window.queue
    window.show_view("queue")
    source = client.submit(tiny_request(prompt="a paper boat on a pond", frames=4, seed=21))
    stopped = client.submit(tiny_request(prompt="stopped early", steps=200, seed=3))
    client.cancel(stopped)
    assert client.wait(source).status == "succeeded" and client.wait(stopped).status == "cancelled"
    qtbot.waitUntil(lambda: stopped in queue.items and source in queue.items, timeout=10_000)
    queue.tree.setCurrentItem(queue.items[stopped])
    assert not queue.buttons["extend"].isEnabled()  # only a finished clip can be continued
    qtbot.waitUntil(lambda: queue.items[source].text(0) == "done", timeout=15_000)
    queue.tree.setCurrentItem(queue.items[source])
    assert queue.buttons["extend"].isEnabled()
    jobs_before = len(client.jobs())

    click(qtbot, queue.buttons["extend"])
    dialog = queue.extend_dialog
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=5_000)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    # The overlap cannot be longer than the source clip: refused in the dialog, nothing sent.
    type_into(qtbot, dialog.overlap, "5")
    click(qtbot, ok)
    assert dialog.isVisible() and "extend_overlap: 5 is not accepted; expected 1 to 4" in dialog.error.text()
    assert "border" in dialog.overlap.styleSheet() and len(client.jobs()) == jobs_before
    screenshot(dialog, "queue-extend-refused")
    type_into(qtbot, dialog.overlap, "2")
    assert dialog.error.text() == "" and "border" not in dialog.overlap.styleSheet()
    type_into(qtbot, dialog.frames, "3")
    type_into(qtbot, dialog.prompt, "the paper boat sails away")
    assert dialog.total.text().startswith("Result: 4 + 3 = 7 frames")
    screenshot(dialog, "queue-extend")
    click(qtbot, ok)

    qtbot.waitUntil(lambda: window.watch.job_id not in (None, source), timeout=10_000)
    longer = window.watch.job_id
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 7, timeout=JOB_TIMEOUT_MS)
    job = client.job(longer)
    assert job.status == "succeeded" and job_frames(job) == 4 + 3
    # The service records the source as its clip folder (the job id resolved).
    source_folder = str(service.data_dir / "jobs" / source)
    assert (job.request["extend"], job.request["frames"], job.request["extend_overlap"]) == (source_folder, 3, 2)
    assert job.request["prompt"] == "the paper boat sails away" and job.request["width"] == 64
    meta = json.loads(client.file_bytes(longer, "metadata.json"))
    assert meta["extend"]["path"] == source_folder
    # The longer clip starts with the source's frames: as they were, then the 2 overlap frames re-decoded from
    # the source's own final latents (within 2 of 255, docs/generation.md).
    for index in range(4):
        name = f"frames/{index:04d}.png"
        got, want = (pixels(client.file_bytes(job_id, name)) for job_id in (longer, source))
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= (0 if index < 2 else 2), name
    qtbot.waitUntil(lambda: longer in queue.items, timeout=10_000)
    assert f"extends {source[:8]} (overlap 2)" in queue.items[longer].text(2)

"""Queue & history against a real service: thumbnails, re-run with the same seed, vary the seed, edit, delete,
and a history that survives closing the app and restarting the backend."""

from __future__ import annotations

import pytest
from desktop_fixtures import click, desktop_service, open_window, screenshot, store_only_service
from PySide6.QtWidgets import QMessageBox
from server_fixtures import ServiceProcess, tiny_request

from backend.client import ApiError

JOB_TIMEOUT_MS = 90_000


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def select_row(qtbot, window, job_id: str) -> None:  # noqa: ANN001
    queue = window.queue
    qtbot.waitUntil(lambda: job_id in queue.items, timeout=10_000)
    queue.tree.setCurrentItem(queue.items[job_id])
    assert queue.selected_id() == job_id


def test_rerun_vary_edit_delete(qtbot, service: ServiceProcess, tmp_path, monkeypatch) -> None:
    client = service.client
    first = client.submit(tiny_request(prompt="a paper boat on a pond", seed=7))
    assert client.wait(first).status == "succeeded"
    window = open_window(qtbot, service, tmp_path)
    queue = window.queue
    window.show_view("queue")
    select_row(qtbot, window, first)
    item = queue.items[first]
    assert item.text(0) == "done" and item.text(1) == "a paper boat on a pond"
    assert "64x64" in item.text(2) and "seed 7" in item.text(2) and "4 frames" in item.text(2)
    qtbot.waitUntil(lambda: not item.icon(0).isNull(), timeout=10_000)  # the first frame as thumbnail

    # Re-run with the same seed: the same clip again, bit for bit.
    click(qtbot, queue.buttons["rerun"])
    qtbot.waitUntil(lambda: window.watch.job_id not in (None, first), timeout=10_000)
    again = window.watch.job_id
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 4, timeout=JOB_TIMEOUT_MS)
    assert client.job(again).seed == 7
    for name in ("frames/0000.png", "frames/0003.png"):
        assert client.file_bytes(again, name) == client.file_bytes(first, name)

    # Vary the seed: the same request, a seed the service draws.
    window.show_view("queue")
    select_row(qtbot, window, first)
    click(qtbot, queue.buttons["vary"])
    qtbot.waitUntil(lambda: window.watch.job_id not in (first, again), timeout=10_000)
    varied = window.watch.job_id
    finished = client.wait(varied)
    assert finished.status == "succeeded" and finished.seed not in (None, 7)
    assert finished.request["prompt"] == "a paper boat on a pond"
    qtbot.waitUntil(lambda: varied in queue.items and queue.items[varied].text(0) == "done", timeout=10_000)
    qtbot.waitUntil(lambda: not queue.items[varied].icon(0).isNull(), timeout=10_000)
    window.show_view("queue")
    screenshot(window, "queue")

    # Edit in Generate: the form takes the job's request and the seed it used.
    select_row(qtbot, window, first)
    click(qtbot, queue.buttons["edit"])
    gen = window.generate
    assert window.tabs.currentWidget() is gen
    assert gen.prompt.toPlainText() == "a paper boat on a pond" and gen.seed.text() == "7"
    assert not gen.random_seed.isChecked() and gen.frames.value() == 4 and gen.width_spin.value() == 64

    # Delete (after the confirmation) removes the job and its clip from the backend.
    window.show_view("queue")
    select_row(qtbot, window, again)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes)
    click(qtbot, queue.buttons["delete"])
    qtbot.waitUntil(lambda: again not in queue.items, timeout=10_000)
    assert len(asked) == 1 and not (service.data_dir / "jobs" / again).exists()
    with pytest.raises(ApiError) as err:
        client.job(again)
    assert err.value.status == 404


def test_history_survives_app_and_backend_restart(qtbot, tmp_path) -> None:
    service = store_only_service()
    try:
        window = open_window(qtbot, service, tmp_path)
        qtbot.keyClicks(window.generate.prompt, "history survives a restart")
        window.generate.load_request({**window.generate.build_request(), "width": 64, "height": 64, "frames": 4,
                                      "steps": 2, "seed": 3})
        click(qtbot, window.generate.generate_button)
        qtbot.waitUntil(lambda: window.watch.player.frame_count == 4, timeout=JOB_TIMEOUT_MS)
        job_id = window.watch.job_id
        window.close()
        service.stop()
        assert service.client.process.poll() is not None

        service.start()  # a new backend process on the same data folder
        reopened = open_window(qtbot, service, tmp_path / "second")
        queue = reopened.queue
        qtbot.waitUntil(lambda: job_id in queue.items, timeout=10_000)
        assert queue.items[job_id].text(0) == "done"
        assert queue.items[job_id].text(1) == "history survives a restart"
        qtbot.waitUntil(lambda: not queue.items[job_id].icon(0).isNull(), timeout=10_000)
    finally:
        service.stop()

"""The Training view against a real service: pick pictures (dialog and drop) + a camera move, models, steps and
rank, Start (returns at once), live progress and loss curve, the result in the Models tab and in Generate's
MotionLoRA choices (and a clip made with it); a folder of clips cancelled mid-run; refusals name the field.

Its own service (not the shared desktop one): the trained MotionLoRAs join that service's store, and the Models
tests count what the shared store holds.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from desktop_fixtures import click, drop_files, fill_form, open_window, screenshot, store_only_service, type_into
from PIL import Image
from PySide6.QtWidgets import QFileDialog
from server_fixtures import BASE_NAME, MOTION_NAME, ServiceProcess

JOB_TIMEOUT_MS = 120_000  # the first training loads torch and the tiny models in the service (~10 s on 2 cores)


@pytest.fixture(scope="module")
def service() -> ServiceProcess:
    service = store_only_service()
    yield service
    service.stop()


def pictures(folder: Path, count: int) -> list[Path]:
    """Patterned pictures (a camera move over them is visible in the sample clip)."""
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        y, x = np.mgrid[0:96, 0:96] / 96
        rgb = np.stack([np.sin(9 * x + i), np.cos(7 * y - i), np.sin(5 * (x + y))], -1) * 0.45 + 0.5
        path = folder / f"pattern_{i}.png"
        Image.fromarray((rgb * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def clips(folder: Path) -> Path:
    """Two 8-frame GIFs of a square moving right."""
    folder.mkdir()
    for n in range(2):
        frames = [Image.new("RGB", (64, 64), (10, 10, 40)) for _ in range(8)]
        for t, frame in enumerate(frames):
            frame.paste((220, 80 + 60 * n, 40), (8 + 5 * t, 24, 24 + 5 * t, 40))
        frames[0].save(folder / f"clip{n}.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return folder


def open_training(qtbot, service: ServiceProcess, tmp_path: Path):  # noqa: ANN001, ANN201
    window = open_window(qtbot, service, tmp_path)
    view = window.training
    window.show_view("training")
    qtbot.waitUntil(lambda: view.base.combo.count() > 0 and view.motion_module.combo.count() > 0, timeout=15_000)
    return window, view


def tiny_settings(qtbot, view, name: str, steps: int) -> None:  # noqa: ANN001
    """What a user sets for a quick run on the tiny models: the models, few steps, a small clip."""
    view.base.select(BASE_NAME)
    view.motion_module.select(MOTION_NAME)
    s = view.settings
    for widget, text in ((s.steps, str(steps)), (s.rank, "4"), (s.frames, "8"), (s.size, "64"),
                         (s.learning_rate, "0.001000")):
        type_into(qtbot, widget, text)
    type_into(qtbot, view.name, name)


def test_train_from_pictures_then_use_it_in_generate(qtbot, service: ServiceProcess, tmp_path, monkeypatch) -> None:
    window, view = open_training(qtbot, service, tmp_path)
    first, second, dropped = pictures(tmp_path / "pictures", 3)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(first), str(second)], ""))
    click(qtbot, view.data.add_pictures_button)
    assert drop_files(view.data, [dropped])
    assert [p.name for p in view.data.local_pictures()] == ["pattern_0.png", "pattern_1.png", "pattern_2.png"]
    view.data.move.setCurrentIndex(view.data.move.findData("zoom-in"))
    qtbot.keyClicks(view.data.caption, "a colourful pattern")
    tiny_settings(qtbot, view, "desktop_zoom", steps=4)
    body = view.build_body()
    assert body["camera_move"] == "zoom-in" and body["steps"] == 4 and body["rank"] == 4 and body["size"] == 64
    assert body["learning_rate"] == pytest.approx(1e-3) and len(body["images"]) == 3

    started = time.perf_counter()
    click(qtbot, view.start_button)
    assert time.perf_counter() - started < 1.0 and not view.start_button.isEnabled()  # uploads run in background
    qtbot.waitUntil(lambda: view.job_id is not None, timeout=15_000)
    qtbot.waitUntil(lambda: view.job is not None, timeout=JOB_TIMEOUT_MS)
    job = view.job
    assert job.status == "succeeded", job.error
    assert job.model == "desktop_zoom" and len(job.request["images"]) == 3  # uploaded: sent as upload ids
    assert job.request["caption"] == "a colourful pattern"
    assert view.plot.steps == [1, 2, 3, 4] and all(loss > 0 for loss in view.plot.losses)  # the live curve
    assert view.progress.value() == 4 and view.progress.maximum() == 4
    assert "3 loaded, 0 skipped" in view.log.toPlainText()
    assert "desktop_zoom" in view.result.text() and view.start_button.isEnabled()
    qtbot.waitUntil(lambda: view.loss_image.pixmap() is not None and not view.loss_image.pixmap().isNull()
                    and view.sample_movie is not None and view.sample_movie.frameCount() == 8, timeout=10_000)

    # The result is in the model manager: the Models tab and the Generate view's MotionLoRA choices.
    qtbot.waitUntil(lambda: "desktop_zoom" in window.models.files_of("motion-loras"), timeout=15_000)
    gen = window.generate
    qtbot.waitUntil(lambda: gen.motion_lora.combo.findText("desktop_zoom") >= 0, timeout=15_000)
    qtbot.wait(300)  # the sample clip plays a few frames for the screenshot
    screenshot(window, "training")

    # ... and a clip is made with it.
    window.show_view("generate")
    fill_form(qtbot, window, "a colourful pattern")
    gen.motion_lora.combo.setCurrentIndex(gen.motion_lora.combo.findText("desktop_zoom"))
    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: window.watch.job_id is not None, timeout=10_000)
    generation = service.client.wait(window.watch.job_id)
    assert generation.status == "succeeded"
    assert generation.request["motion_loras"] == [{"path": "desktop_zoom", "weight": 1.0}]

    # The history lists the training; Watch on it opens the Training view, not the clip player.
    queue = window.queue
    queue.refresh()
    qtbot.waitUntil(lambda: job.id in queue.items, timeout=10_000)
    assert queue.items[job.id].text(1) == "Train MotionLoRA desktop_zoom" and "-> desktop_zoom" in \
        queue.items[job.id].text(2)
    queue.tree.setCurrentItem(queue.items[job.id])
    assert not queue.buttons["rerun"].isEnabled() and not queue.buttons["edit"].isEnabled()
    click(qtbot, queue.buttons["watch"])
    assert window.tabs.currentWidget() is view and view.job_id == job.id
    qtbot.waitUntil(lambda: view.job is not None and view.plot.steps == [1, 2, 3, 4], timeout=10_000)


def test_cancel_a_training_on_a_folder_of_clips(qtbot, service: ServiceProcess, tmp_path, monkeypatch) -> None:
    window, view = open_training(qtbot, service, tmp_path)
    folder = clips(tmp_path / "clips")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    click(qtbot, view.data.choose_folder_button)
    assert view.data.folder_mode.isChecked() and view.data.folder.text() == str(folder)
    view.data.move.setCurrentIndex(view.data.move.findData(""))  # the clips' own motion
    tiny_settings(qtbot, view, "never_done", steps=500)
    type_into(qtbot, view.settings.stride, "1")
    assert view.build_body()["data_path"] == str(folder) and "camera_move" not in view.build_body()

    click(qtbot, view.start_button)
    qtbot.waitUntil(lambda: len(view.plot.steps) >= 1, timeout=JOB_TIMEOUT_MS)
    click(qtbot, view.cancel_button)
    qtbot.waitUntil(lambda: view.job is not None, timeout=30_000)
    assert view.job.status == "cancelled" and "cancelled after step" in view.status.text()
    assert len(view.plot.steps) < 20 and view.start_button.isEnabled() and not view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: view.loss_image.pixmap() is not None and not view.loss_image.pixmap().isNull(),
                    timeout=10_000)
    assert "never_done" not in {m.name for m in service.client.models(kind="motion-lora")}


def test_refusals_name_the_field(qtbot, service: ServiceProcess, tmp_path) -> None:
    window, view = open_training(qtbot, service, tmp_path)
    jobs_before = len(service.client.jobs())
    click(qtbot, view.start_button)  # no pictures: refused here, nothing sent
    assert view.error.text().startswith("images: no pictures") and "border" in view.data.pictures.styleSheet()

    view.data.add_pictures(pictures(tmp_path / "pictures", 1))
    tiny_settings(qtbot, view, "bad/name", steps=2)
    click(qtbot, view.start_button)  # the service refuses the name: its sentence, the field framed
    qtbot.waitUntil(lambda: "name: 'bad/name' is not accepted" in view.error.text(), timeout=15_000)
    assert "border" in view.name.styleSheet() and "border" not in view.data.pictures.styleSheet()
    assert view.start_button.isEnabled() and len(service.client.jobs()) == jobs_before

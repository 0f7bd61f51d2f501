"""Generate -> Watch against a real service: type a prompt, pick models, click Generate, watch the clip play.

Real widgets offscreen, a real `serve` process on loopback with the tiny models in its store, real files.
"""

from __future__ import annotations

import pytest
from desktop_fixtures import ZOOM_IN_FILE, click, desktop_service, fill_form, open_window, screenshot, type_into
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QImage
from PySide6.QtWidgets import QFileDialog
from server_fixtures import BASE_NAME, MOTION_NAME, ServiceProcess

JOB_TIMEOUT_MS = 90_000  # the first job of the session loads the tiny pipeline (~10 s on a loaded 2-core CI box)


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


class _UrlCatcher(QObject):
    """Receives what `QDesktopServices.openUrl` would hand to the file manager (Qt's own URL-handler hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_generate_watch_play_export(qtbot, service: ServiceProcess, tmp_path, monkeypatch) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    # The pickers hold only their own kind.
    assert [gen.base.combo.itemText(i) for i in range(gen.base.combo.count())] == [BASE_NAME]
    motion_names = [gen.motion_module.combo.itemText(i) for i in range(gen.motion_module.combo.count())]
    assert MOTION_NAME in motion_names and BASE_NAME not in motion_names
    fill_form(qtbot, window, "a red ball bouncing on the beach")
    click(qtbot, gen.random_seed)  # untick Random: a seed of our own
    type_into(qtbot, gen.seed, "5")
    click(qtbot, gen.camera.boxes["zoom-in"])
    gen.camera.sliders["zoom-in"].setValue(60)
    gen.settings.deep_cache.setCurrentIndex(gen.settings.deep_cache.findData(2))  # DeepCache every 2nd step
    screenshot(window, "generate")

    click(qtbot, gen.generate_button)
    assert gen.generate_button.text() == "Submitting..."  # returned at once; the POST runs in the background
    qtbot.waitUntil(lambda: window.watch.job_id is not None, timeout=10_000)
    job_id = window.watch.job_id
    assert window.tabs.currentWidget() is window.watch
    qtbot.waitUntil(lambda: job_id in window.queue.items, timeout=10_000)  # the job is in the queue

    player = window.watch.player
    qtbot.waitUntil(lambda: player.frame_count == 4, timeout=JOB_TIMEOUT_MS)
    job = service.client.job(job_id)
    assert job.status == "succeeded" and job.seed == 5
    assert job.request["prompt"] == "a red ball bouncing on the beach"
    assert job.request["camera"] == [{"move": "zoom-in", "strength": 0.6}]
    assert job.request["deep_cache"] == 2
    assert (job.request["width"], job.request["height"], job.request["frames"], job.request["steps"]) == (64, 64, 4, 2)
    assert window.watch.progress.value() == window.watch.progress.maximum() == 2
    # The player shows the backend's frames, in order, looping at the clip's fps.
    assert player.fps == job.request["fps"] and player.timer.interval() == round(1000 / player.fps)
    for index in range(4):
        expected = QImage.fromData(service.client.file_bytes(job_id, f"frames/{index:04d}.png"), "PNG")
        assert player.frames[index].toImage().convertToFormat(expected.format()) == expected
    assert player.playing
    seen = {player.current}
    qtbot.waitUntil(lambda: seen.add(player.current) or len(seen) == 4, timeout=5_000)  # every frame comes round
    click(qtbot, player.play_button)
    assert not player.playing
    player.slider.setValue(2)  # scrub
    assert player.current == 2 and player.counter.text() == "3 / 4"
    screenshot(window, "watch")

    exported = tmp_path / "chosen" / "clip.mp4"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(exported), "MP4 video (*.mp4)"))
    click(qtbot, window.watch.export_buttons["mp4"])
    qtbot.waitUntil(lambda: window.watch.saved.text().startswith("Saved"), timeout=10_000)
    assert exported.read_bytes() == service.client.file_bytes(job_id, "animation.mp4")

    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        click(qtbot, window.watch.open_folder_button)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.urls] == [str(service.data_dir / "jobs" / job_id)]
    assert (service.data_dir / "jobs" / job_id / "animation.gif").is_file()


def test_rejected_request_shows_the_services_sentence(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    jobs_before = len(service.client.jobs())
    fill_form(qtbot, window, "a cat")
    type_into(qtbot, gen.width_spin, "100")
    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: "not accepted" in gen.error.text(), timeout=10_000)
    assert "width: 100 is not accepted; expected a multiple of 8" in gen.error.text()
    assert "border" in gen.width_spin.styleSheet()  # the field the service named is framed
    assert len(service.client.jobs()) == jobs_before and window.tabs.currentWidget() is gen


def test_camera_move_without_its_motion_lora(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    cam = window.generate.camera
    # Pre-flight: the store has the zoom-in file only, so every other move says which file it needs.
    assert cam.warnings["zoom-in"].text() == ""
    assert cam.warnings["roll-clockwise"].text() == "needs v2_lora_RollingClockwise.ckpt"
    assert (service.data_dir / "models" / "motion-loras" / ZOOM_IN_FILE).is_file()
    fill_form(qtbot, window, "a lighthouse")
    click(qtbot, cam.boxes["zoom-in"])
    click(qtbot, cam.boxes["roll-clockwise"])  # camera[1] in the request
    # The pre-flight check says it before Generate is clicked.
    preflight = window.generate.preflight
    qtbot.waitUntil(lambda: "camera[1]" in preflight.text(), timeout=10_000)
    assert preflight.text().startswith("Error: camera[1]: camera move 'roll-clockwise' needs the MotionLoRA "
                                       "v2_lora_RollingClockwise.ckpt")
    click(qtbot, window.generate.generate_button)
    qtbot.waitUntil(lambda: "RollingClockwise" in window.generate.error.text(), timeout=10_000)
    assert "camera[1]" in window.generate.error.text()
    assert "border" in cam.boxes["roll-clockwise"].styleSheet() and cam.boxes["zoom-in"].styleSheet() == ""


def test_cancel_mid_run(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    fill_form(qtbot, window, "a long run to cancel", frames=8, steps=200)
    click(qtbot, window.generate.generate_button)
    watch = window.watch
    qtbot.waitUntil(lambda: watch.progress.value() >= 1, timeout=JOB_TIMEOUT_MS)
    assert watch.preview.pixmap() is not None and watch.status.text().startswith("Denoising: step")
    click(qtbot, watch.cancel_button)
    qtbot.waitUntil(lambda: watch.status.text() == "Cancelled.", timeout=30_000)
    job = service.client.job(watch.job_id)
    assert job.status == "cancelled" and job.files == []
    assert watch.progress.value() < 200 and watch.player.frame_count == 0
    assert not watch.cancel_button.isEnabled() and not watch.export_buttons["mp4"].isEnabled()
    qtbot.waitUntil(lambda: window.queue.items[job.id].text(0) == "cancelled", timeout=10_000)


def test_preflight_check_is_shown_next_to_the_pickers(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    qtbot.waitUntil(lambda: gen.last_check is not None and gen.last_check.ok, timeout=10_000)  # the defaults fit
    assert gen.base.warning.isHidden() and gen.motion_module.warning.isHidden()
    # The motion module typed into the base field: the service tells which field it belongs in.
    gen.base.combo.setFocus()
    gen.base.combo.lineEdit().selectAll()
    qtbot.keyClicks(gen.base.combo.lineEdit(), MOTION_NAME)
    qtbot.waitUntil(lambda: "not an SD1.5 base model" in gen.base.warning.text(), timeout=10_000)
    assert "is a motion module, not an SD1.5 base model; pass it as motion_module" in gen.base.warning.text()
    assert gen.base.warning.isVisible() and "c0392b" in gen.base.warning.styleSheet()  # an error, in red
    assert gen.motion_module.warning.isHidden() and not gen.last_check.ok
    screenshot(window, "generate-preflight")
    gen.base.combo.setCurrentIndex(gen.base.combo.findText(BASE_NAME))
    qtbot.waitUntil(lambda: gen.base.warning.isHidden(), timeout=10_000)

"""The Models view against a real service's model manager: the index grouped by kind with what was detected,
import by dialog and by drag and drop (the kind is detected; a junk file is refused with the reason; the imported
file is then usable), a ComfyUI folder, rescan with progress (SHA-256), remove."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from desktop_fixtures import click, desktop_service, drop_files, open_window, screenshot, tiny_motion_lora
from PySide6.QtWidgets import QFileDialog, QMessageBox
from server_fixtures import BASE_NAME, MOTION_NAME, ServiceProcess, tiny_models_dir, tiny_request


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def coverage(window) -> dict[str, str]:  # noqa: ANN001
    table = window.models.camera_table
    return {table.topLevelItem(i).text(0): table.topLevelItem(i).text(2) for i in range(table.topLevelItemCount())}


def test_index_grouped_by_kind_with_what_was_detected(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    models = window.models
    assert models.files_of("checkpoints") == [BASE_NAME]
    assert MOTION_NAME in models.files_of("motion-modules") and models.files_of("motion-loras") == ["v2_lora_ZoomIn"]
    assert models.files_of("loras") == [] and models.group_items["loras"].text(0) == "Image LoRAs (0)"
    base = models.row_of("checkpoints", BASE_NAME)
    assert base.text(6) == str(service.data_dir / "models" / "checkpoints" / f"{BASE_NAME}.safetensors")
    size = (tiny_models_dir() / f"{BASE_NAME}.safetensors").stat().st_size
    assert base.text(1) == f"{size / 2**20:.1f} MB" and base.text(3) == "safetensors"
    motion = models.row_of("motion-modules", MOTION_NAME)
    assert motion.text(2) == "custom" and "position table of 32 frames" in motion.text(5)  # the detector's notes
    lora = models.row_of("motion-loras", "v2_lora_ZoomIn")
    assert lora.text(2) == "v2"
    rows = coverage(window)
    assert rows["zoom-in"] == "v2_lora_ZoomIn.ckpt" and rows["pan-left"] == "missing" and len(rows) == 8
    roots = [models.roots_table.topLevelItem(i).text(0) for i in range(models.roots_table.topLevelItemCount())]
    assert roots[0] == str(service.data_dir / "models")
    window.show_view("models")
    screenshot(window, "models")


def test_import_by_dialog_and_by_drop_then_remove(qtbot, service: ServiceProcess, tmp_path, monkeypatch) -> None:
    window = open_window(qtbot, service, tmp_path)
    models, gen = window.models, window.generate
    window.show_view("models")

    # Dialog: the service tells what the file is and files it under that kind.
    source = shutil.copy(tiny_models_dir() / f"{MOTION_NAME}.ckpt", tmp_path / "mm_imported.ckpt")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(source)], ""))
    click(qtbot, models.import_button)
    qtbot.waitUntil(lambda: "mm_imported" in models.files_of("motion-modules"), timeout=15_000)
    assert models.status.text() == "Imported mm_imported (motion module, copied)."
    assert (service.data_dir / "models" / "motion-modules" / "mm_imported.ckpt").read_bytes() == source.read_bytes()
    qtbot.waitUntil(lambda: gen.motion_module.combo.findText("mm_imported") >= 0, timeout=10_000)  # Generate too
    assert gen.base.combo.findText("mm_imported") < 0  # and only where it fits

    # Drag and drop: a MotionLoRA and a file that is no model at all.
    pan_left = tiny_motion_lora(tmp_path, "v2_lora_PanLeft.ckpt")
    junk = tmp_path / "notes.safetensors"
    junk.write_text("not a model, just text")
    assert drop_files(models.tree.viewport(), [pan_left, junk])
    qtbot.waitUntil(lambda: "v2_lora_PanLeft" in models.files_of("motion-loras"), timeout=15_000)
    assert "notes.safetensors:" in models.error.text() and "cannot be imported" in models.error.text()
    assert coverage(window)["pan-left"] == "v2_lora_PanLeft.ckpt"
    qtbot.waitUntil(lambda: gen.camera.warnings["pan-left"].text() == "", timeout=10_000)  # no more warning
    # The service uses it: a pan-left job now runs.
    job = service.client.submit(tiny_request(camera=[{"move": "pan-left", "strength": 0.8}]))
    assert service.client.wait(job).status == "succeeded"

    # Remove (after the confirmation) deletes the store's copy, never the user's file.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    for group, name in (("motion-loras", "v2_lora_PanLeft"), ("motion-modules", "mm_imported")):
        models.tree.setCurrentItem(models.row_of(group, name))
        click(qtbot, models.remove_button)
        qtbot.waitUntil(lambda g=group, n=name: n not in models.files_of(g), timeout=15_000)
    assert source.is_file() and pan_left.is_file()
    assert not (service.data_dir / "models" / "motion-loras" / "v2_lora_PanLeft.ckpt").exists()
    assert coverage(window)["pan-left"] == "missing"


def test_comfyui_folder_rescan_with_hashes(qtbot, service: ServiceProcess, tmp_path, monkeypatch) -> None:
    window = open_window(qtbot, service, tmp_path)
    models = window.models
    comfy = tmp_path / "ComfyUI"
    (comfy / "models" / "checkpoints").mkdir(parents=True)
    (comfy / "models" / "animatediff_models").mkdir(parents=True)
    checkpoint = shutil.copy(tiny_models_dir() / f"{BASE_NAME}.safetensors",
                             comfy / "models" / "checkpoints" / "comfy_base.safetensors")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(comfy))
    click(qtbot, models.add_root_button)
    qtbot.waitUntil(lambda: "comfy_base" in models.files_of("checkpoints"), timeout=15_000)
    assert "(comfyui," in models.status.text()
    def root_row():  # noqa: ANN202 - the rows are rebuilt at each listing
        table = models.roots_table
        return next(table.topLevelItem(i) for i in range(table.topLevelItemCount())
                    if table.topLevelItem(i).text(0) == str(comfy))

    assert root_row().text(1) == "comfyui" and root_row().text(2) == "added here"

    click(qtbot, models.rescan_button)
    qtbot.waitUntil(lambda: models.last_scan is not None and not models.last_scan.running, timeout=60_000)
    assert models.last_scan.state == "done" and models.status.text().startswith("Scan done:")
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: models.row_of("checkpoints", "comfy_base").text(4) == digest[:12], timeout=10_000)
    assert models.row_of("checkpoints", "comfy_base").toolTip(4) == digest and not models.progress.isVisible()

    # A file of the user's folder is not the store's to delete: the service says so.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    models.tree.setCurrentItem(models.row_of("checkpoints", "comfy_base"))
    click(qtbot, models.remove_button)
    qtbot.waitUntil(lambda: "comfy_base" in models.error.text(), timeout=10_000)
    assert checkpoint.is_file()

    models.roots_table.setCurrentItem(root_row())
    click(qtbot, models.remove_root_button)
    qtbot.waitUntil(lambda: "comfy_base" not in models.files_of("checkpoints"), timeout=15_000)
    assert checkpoint.is_file()

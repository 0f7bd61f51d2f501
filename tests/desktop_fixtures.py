"""Shared pieces of the desktop tests: a real service whose model store holds the tiny models, and windows.

The store (not `ANIMATEDIFF_STUDIO_MODEL_DIRS`) is what `GET /v1/models` lists, so the tiny base, motion
module, a zoom-in MotionLoRA and an RGB SparseCtrl are copied into `<data dir>/models/<kind>/` of the test's
own service.
"""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path

from server_fixtures import BASE_NAME, MOTION_NAME, ServiceProcess, new_service, tiny_models_dir

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "desktop"  # screenshots for a reviewer (gitignored)
ZOOM_IN_FILE = "v2_lora_ZoomIn.ckpt"
SPARSECTRL_FILE = "v3_tiny_sparsectrl_rgb.ckpt"  # the official files' layout, sized for the tiny base
_service: ServiceProcess | None = None


def tiny_motion_lora(folder: Path, name: str = ZOOM_IN_FILE) -> Path:
    """A MotionLoRA (original key layout) that fits the tiny motion module."""
    from models.testing.tiny_motion import build_tiny_motion_adapter, motion_lora_state, save_lora

    return save_lora(motion_lora_state(build_tiny_motion_adapter(0), seed=1), folder / name)


def stock_store(service: ServiceProcess) -> None:
    """Put the tiny models where the service's listing finds them."""
    models = tiny_models_dir()
    store = service.data_dir / "models"
    for kind, name in (("checkpoints", f"{BASE_NAME}.safetensors"), ("motion-modules", f"{MOTION_NAME}.ckpt")):
        (store / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy2(models / name, store / kind / name)
    (store / "motion-loras").mkdir(parents=True, exist_ok=True)
    tiny_motion_lora(store / "motion-loras")
    from models.testing.tiny_sparsectrl import build_tiny_sparsectrl, save_sparsectrl

    save_sparsectrl(build_tiny_sparsectrl("rgb"), store / "sparsectrl" / SPARSECTRL_FILE)


def store_only_service() -> ServiceProcess:
    """A new service that finds models in its store only (no extra roots: each file is listed once)."""
    service = new_service({"ANIMATEDIFF_STUDIO_MODEL_DIRS": ""})
    stock_store(service)
    return service


def desktop_service() -> ServiceProcess:
    """The service shared by the desktop tests of this pytest run (started once, stopped at exit)."""
    global _service
    if _service is None:
        _service = store_only_service()
        atexit.register(_service.stop)
    return _service


def screenshot(widget, name: str) -> Path:  # noqa: ANN001 - any QWidget
    """Save `widget.grab()` as `test-artifacts/desktop/<name>.png` and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not write {path}"
    return path


def png_file(path: Path, width: int = 64, height: int = 48, color: str = "#3070c0") -> Path:
    """A real PNG picture (a reference frame) written by Qt."""
    from PySide6.QtGui import QColor, QImage

    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert image.save(str(path), "PNG")
    return path


def video_file(path: Path, colors: list[str], size: int = 64, fps: int = 8) -> Path:
    """A real video (H.264 MP4 by default, from the file's suffix) whose frame i is filled with `colors[i]`,
    written with imageio-ffmpeg as the backend reads it."""
    import imageio_ffmpeg
    from PySide6.QtGui import QColor

    writer = imageio_ffmpeg.write_frames(str(path), (size, size), fps=fps, macro_block_size=1)
    writer.send(None)
    for color in colors:
        rgb = QColor(color)
        writer.send(bytes([rgb.red(), rgb.green(), rgb.blue()]) * (size * size))
    writer.close()
    return path


def open_window(qtbot, service: ServiceProcess, tmp_path: Path, **settings):  # noqa: ANN001, ANN201
    """A shown `MainWindow` connected to `service`, with its own settings file; waits for the model listing."""
    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings

    options = {"output_folder": str(tmp_path / "exports"), "path": tmp_path / "desktop.ini", **settings}
    window = MainWindow(AppSettings(**options), data_dir=service.data_dir, config_dir=service.config_dir)
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.link.state == "connected", timeout=30_000)
    qtbot.waitUntil(lambda: bool(window.models.models), timeout=15_000)
    qtbot.waitUntil(lambda: window.generate.base.combo.count() > 0, timeout=15_000)  # the pickers come next
    return window


def fill_form(qtbot, window, prompt: str, frames: int = 4, steps: int = 2) -> None:  # noqa: ANN001
    """What a user does before Generate: prompt, models, a small size, few frames and steps."""
    gen = window.generate
    qtbot.keyClicks(gen.prompt, prompt)
    gen.base.combo.setCurrentIndex(gen.base.combo.findText(BASE_NAME))
    gen.motion_module.combo.setCurrentIndex(gen.motion_module.combo.findText(MOTION_NAME))
    type_into(qtbot, gen.width_spin, "64")
    type_into(qtbot, gen.height_spin, "64")
    type_into(qtbot, gen.frames, str(frames))
    type_into(qtbot, gen.steps, str(steps))


def job_frames(job) -> int:  # noqa: ANN001 - a client Job
    """How many frames the service wrote for a job."""
    return sum(1 for name in job.files if name.startswith("frames/"))


def type_into(qtbot, widget, text: str) -> None:  # noqa: ANN001 - a QSpinBox, QLineEdit ...
    """Replace a field's text by typing, as a user does (select all, then the keys)."""
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def click(qtbot, button) -> None:  # noqa: ANN001 - a QAbstractButton
    """A left click where a user would click: the centre, or a check box's box (a wide one's centre is empty)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QCheckBox

    assert button.isEnabled(), f"{button.text()!r} is disabled"
    pos = QPoint(8, button.height() // 2) if isinstance(button, QCheckBox) else button.rect().center()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=pos)


def drop_files(widget, paths: list[Path], pos=None) -> bool:  # noqa: ANN001
    """Drag `paths` over `widget` (at `pos`, default its centre) and drop them; True if the drag was accepted."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(pos if pos is not None else widget.rect().center())
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(point, *args)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(widget, QDragMoveEvent(point, *args))
    QApplication.sendEvent(widget, QDropEvent(point, *args))
    return True

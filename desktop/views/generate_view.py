"""The Generate view: models, prompt, settings, camera moves and a reference picture -> a queued job.

Generate returns at once: the upload (if any) and `POST /v1/jobs` run in a background thread, the job id
comes back through `submitted`; a rejection shows the service's sentence and frames the field it names.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backend.client import ApiError, CameraMoveStatus, Client, ModelCheck, ModelFile
from desktop.views.camera_panel import CameraPanel
from desktop.views.common import WARNING_STYLE, ImageDropZone, mark_invalid, message_label
from desktop.views.model_picker import NONE_CHOICE, ModelPicker
from desktop.workers import describe_error, run_task

# The service's accepted schedulers (backend.engine.request_checks.SCHEDULERS; a test keeps the two equal). Not
# imported from there: the engine package is the backend's, and the UI must not depend on its layout.
SCHEDULERS: tuple[str, ...] = ("ddim", "euler", "euler-ancestral", "dpm++-2m-karras", "lcm")
CHECK_DELAY_MS = 400  # pre-flight check this long after the last change of a model field


class GenerateView(QWidget):
    """`submitted(job_id, request)` once the service accepted the job; `rejected(sentence)` if it refused it."""

    submitted = Signal(str, dict)
    rejected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: Client | None = None
        self._busy = False
        self.last_check: ModelCheck | None = None
        self._check_seq = 0
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.run_check)

        self.base = ModelPicker("checkpoints")
        self.motion_module = ModelPicker("motion-modules")
        self.lora = ModelPicker("loras", optional=True, weight=(-4.0, 4.0, 1.0))
        self.domain_adapter = ModelPicker("domain-adapters", optional=True, weight=(0.0, 1.0, 1.0))
        self.pickers = (self.base, self.motion_module, self.lora, self.domain_adapter)
        self.refresh_models_button = QPushButton("Refresh list")
        self.refresh_models_button.clicked.connect(self.refresh_models)
        models_box = QGroupBox("Models")
        models_form = QFormLayout(models_box)
        models_form.addRow("Base checkpoint", self.base)
        models_form.addRow("Motion module", self.motion_module)
        models_form.addRow("Image LoRA", self.lora)
        models_form.addRow("Domain adapter", self.domain_adapter)
        models_form.addRow("", self.refresh_models_button)

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("what the clip shows, e.g. a lighthouse in a storm, waves crashing")
        self.prompt.setFixedHeight(70)
        self.negative_prompt = QPlainTextEdit()
        self.negative_prompt.setPlaceholderText("what to avoid, e.g. blurry, watermark")
        self.negative_prompt.setFixedHeight(46)
        prompt_box = QGroupBox("Prompt")
        prompt_form = QFormLayout(prompt_box)
        prompt_form.addRow("Prompt", self.prompt)
        prompt_form.addRow("Negative", self.negative_prompt)

        self.seed = QLineEdit()
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,19}")))
        self.seed.setPlaceholderText("random")
        self.random_seed = QCheckBox("Random")
        self.random_seed.setChecked(True)
        self.random_seed.toggled.connect(lambda on: self.seed.setEnabled(not on))
        self.seed.setEnabled(False)
        self.dice = QPushButton("New seed")
        self.dice.setToolTip("Draw a seed now (so you can see it and reuse it)")
        self.dice.clicked.connect(self.draw_seed)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        seed_row.addWidget(self.dice)
        # Ranges are the service's; width/height accept any number so that the service's own sentence
        # ("expected a multiple of 8") is what the user sees, not a silent correction.
        self.steps = _spin(1, 200, 25)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(7.5)
        self.frames = _spin(1, 1024, 16)
        self.width_spin = _spin(64, 2048, 512, step=8)
        self.height_spin = _spin(64, 2048, 512, step=8)
        self.fps = _spin(1, 60, 8)
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULERS)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin, 1)
        size_row.addWidget(QLabel("x"), 0)
        size_row.addWidget(self.height_spin, 1)
        settings_box = QGroupBox("Settings")
        settings_form = QFormLayout(settings_box)
        settings_form.addRow("Seed", seed_row)
        settings_form.addRow("Steps", self.steps)
        settings_form.addRow("Guidance", self.guidance)
        settings_form.addRow("Frames", self.frames)
        settings_form.addRow("Size (w x h)", size_row)
        settings_form.addRow("FPS", self.fps)
        settings_form.addRow("Scheduler", self.scheduler)

        self.camera = CameraPanel()
        self.preflight = message_label(WARNING_STYLE)  # check findings no picker owns: camera[i], frames, ...
        self.preflight.hide()

        self.reference = ImageDropZone()
        self.reference.refused.connect(self._show_error)
        self.reference_browse = QPushButton("Choose picture...")
        self.reference_browse.clicked.connect(self.browse_reference)
        self.reference_clear = QPushButton("Clear")
        self.reference_clear.clicked.connect(self.reference.clear_image)
        self.reference_frame = _spin(-1024, 1023, 0)
        self.reference_frame.setToolTip("the frame the picture is; -1 is the last frame")
        self.reference_strength = QSlider(Qt.Orientation.Horizontal)
        self.reference_strength.setRange(0, 100)
        self.reference_strength.setValue(80)
        strength_label = QLabel("0.80")
        self.reference_strength.valueChanged.connect(lambda v: strength_label.setText(f"{v / 100:.2f}"))
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.reference_strength, 1)
        strength_row.addWidget(strength_label)
        ref_buttons = QHBoxLayout()
        ref_buttons.addWidget(self.reference_browse)
        ref_buttons.addWidget(self.reference_clear)
        reference_box = QGroupBox("Reference picture (image to video)")
        ref_form = QFormLayout(reference_box)
        ref_form.addRow(self.reference)
        ref_form.addRow(ref_buttons)
        ref_form.addRow("At frame", self.reference_frame)
        ref_form.addRow("Strength", strength_row)
        ref_form.addRow(QLabel("0 keeps the picture, 1 ignores it"))

        self.error = message_label()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(36)
        self.generate_button.clicked.connect(self.generate)
        self.generate_button.setEnabled(False)

        left = QVBoxLayout()
        for w in (models_box, prompt_box, settings_box):
            left.addWidget(w)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.camera)
        right.addWidget(self.preflight)
        right.addWidget(reference_box)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        body = QWidget()
        body.setLayout(columns)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(scroll.Shape.NoFrame)
        bottom = QHBoxLayout()
        bottom.addWidget(self.error, 1)
        bottom.addWidget(self.generate_button)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll, 1)
        outer.addLayout(bottom)

        # What the pre-flight check looks at: re-check when any of it changes.
        for picker in self.pickers:
            picker.combo.currentTextChanged.connect(self.schedule_check)
            if picker.weight is not None:
                picker.weight.valueChanged.connect(self.schedule_check)
        for box in self.camera.boxes.values():
            box.toggled.connect(self.schedule_check)
        self.frames.valueChanged.connect(self.schedule_check)
        self.scheduler.currentTextChanged.connect(self.schedule_check)

        # Field paths in the service's errors -> the widget to frame.
        self._field_widgets: dict[str, QWidget] = {
            "prompt": self.prompt, "negative_prompt": self.negative_prompt, "base": self.base.combo,
            "motion_module": self.motion_module.combo, "loras": self.lora.combo,
            "domain_adapter": self.domain_adapter.combo, "seed": self.seed, "steps": self.steps,
            "guidance": self.guidance, "frames": self.frames, "width": self.width_spin, "height": self.height_spin,
            "fps": self.fps, "scheduler": self.scheduler, "references": self.reference,
            "reference_strength": self.reference_strength,
        }

    # -- the backend -------------------------------------------------------------------------------------------

    def set_client(self, client: Client | None) -> None:
        self.client = client
        self.generate_button.setEnabled(client is not None and not self._busy)
        # No listing here: the window asks for one after the Models view's listing (one at a time, and each
        # import or removal there refreshes the pickers too).
        self.refresh_models_button.setEnabled(client is not None)

    def refresh_models(self) -> None:
        """List each picker's kind (`?kind=<store folder>`: the service decides what fits) and the camera moves'
        files, in the background; then run the pre-flight check on what is chosen."""
        if self.client is None:
            return
        client = self.client
        kinds = [p.kind for p in self.pickers]
        self.refresh_models_button.setEnabled(False)
        run_task(self, lambda: ({kind: client.models(kind) for kind in kinds}, client.camera_moves()),
                 self.show_models, self._models_failed, name="models")

    def show_models(self, listing: tuple[dict[str, list[ModelFile]], list[CameraMoveStatus]]) -> None:
        """Fill the pickers and the camera moves' warnings."""
        by_kind, moves = listing
        self.refresh_models_button.setEnabled(self.client is not None)
        for picker in self.pickers:
            picker.set_models(by_kind.get(picker.kind, []))
        self.camera.set_files(moves)
        self.schedule_check()

    # -- the pre-flight check ----------------------------------------------------------------------------------

    def schedule_check(self) -> None:
        """Check the chosen models shortly after the last change (typing a path must not send a check per key)."""
        if self.client is not None:
            self._check_timer.start()

    def run_check(self) -> None:
        """`POST /v1/models/check` in the background; only the answer to the latest request is shown."""
        if self.client is None:
            return
        client, request = self.client, self.build_request()
        self._check_seq += 1
        seq = self._check_seq
        run_task(self, lambda: client.check_models(request), lambda check: self._show_check(seq, check),
                 lambda exc: self._show_check_failed(seq, exc), name="check")

    def _show_check(self, seq: int, check: ModelCheck) -> None:
        if seq != self._check_seq:
            return  # the form changed since: a newer check is on its way
        self.last_check = check
        by_field: dict[str, list[tuple[str, bool]]] = {}
        others = []
        for issue, is_error in [(i, True) for i in check.errors] + [(i, False) for i in check.warnings]:
            root = re.split(r"[.\[]", issue.field, maxsplit=1)[0]
            picker = {"base": self.base, "motion_module": self.motion_module, "loras": self.lora,
                      "domain_adapter": self.domain_adapter}.get(root)
            if picker is not None:
                by_field.setdefault(root, []).append((issue.message, is_error))
            else:
                others.append(("Error: " if is_error else "Warning: ") + issue.message)
        for name, picker in (("base", self.base), ("motion_module", self.motion_module), ("loras", self.lora),
                             ("domain_adapter", self.domain_adapter)):
            picker.show_check(by_field.get(name, []))
        self.preflight.setText("\n".join(others))
        self.preflight.setVisible(bool(others))

    def _show_check_failed(self, seq: int, exc: BaseException) -> None:
        if seq == self._check_seq:
            self.preflight.setText(f"The pre-flight check failed: {describe_error(exc)}")
            self.preflight.setVisible(True)

    def _models_failed(self, exc: BaseException) -> None:
        self.refresh_models_button.setEnabled(True)
        self._show_error(f"Could not list the models: {describe_error(exc)}")

    # -- the form ----------------------------------------------------------------------------------------------

    def draw_seed(self) -> None:
        self.random_seed.setChecked(False)
        self.seed.setText(str(random.randint(0, 2**31 - 1)))

    def browse_reference(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference picture", "", "Pictures (*.png *.jpg *.jpeg *.webp)")
        if path:
            problem = self.reference.set_image(Path(path))
            if problem:
                self._show_error(problem)

    def build_request(self) -> dict[str, Any]:
        """The `POST /v1/jobs` body for what the form shows (references are added once uploaded)."""
        request: dict[str, Any] = {
            "prompt": self.prompt.toPlainText().strip(), "negative_prompt": self.negative_prompt.toPlainText().strip(),
            "base": self.base.value(), "motion_module": self.motion_module.value(),
            "width": self.width_spin.value(), "height": self.height_spin.value(), "frames": self.frames.value(),
            "steps": self.steps.value(), "guidance": round(self.guidance.value(), 2), "fps": self.fps.value(),
            "scheduler": self.scheduler.currentText(), "camera": self.camera.camera(),
        }
        if not self.random_seed.isChecked() and self.seed.text():
            request["seed"] = int(self.seed.text())  # beyond MAX_SEED: the service names the range
        if self.lora.value():
            request["loras"] = [{"path": self.lora.value(), "weight": self.lora.weight.value()}]
        if self.domain_adapter.value():
            request["domain_adapter"] = {"path": self.domain_adapter.value(),
                                         "weight": self.domain_adapter.weight.value()}
        if self.reference.path is not None:
            request["reference_strength"] = self.reference_strength.value() / 100
        return request

    def load_request(self, request: dict[str, Any], seed: int | None = None) -> None:
        """Fill the form from a job's request (history: "Edit"); `seed` overrides the request's."""
        self.prompt.setPlainText(request.get("prompt", ""))
        self.negative_prompt.setPlainText(request.get("negative_prompt", ""))
        self.base.select(request.get("base", ""))
        self.motion_module.select(request.get("motion_module", ""))
        loras = request.get("loras") or []
        self.lora.select(loras[0]["path"] if loras else NONE_CHOICE)
        adapter = request.get("domain_adapter")
        self.domain_adapter.select(adapter["path"] if adapter else NONE_CHOICE)
        for spin, name in ((self.width_spin, "width"), (self.height_spin, "height"), (self.frames, "frames"),
                           (self.steps, "steps"), (self.fps, "fps")):
            if name in request:
                spin.setValue(int(request[name]))
        self.guidance.setValue(float(request.get("guidance", 7.5)))
        self.scheduler.setCurrentText(request.get("scheduler", "ddim"))
        self.camera.load(request.get("camera") or [])
        seed = seed if seed is not None else request.get("seed")
        self.random_seed.setChecked(seed is None)
        self.seed.setText("" if seed is None else str(seed))

    # -- submit ------------------------------------------------------------------------------------------------

    def generate(self) -> None:
        """Queue the job; returns at once (the upload and the POST run in the background)."""
        if self.client is None or self._busy:
            return
        self._clear_marks()
        request = self.build_request()
        client, reference, frame = self.client, self.reference.path, self.reference_frame.value()

        def submit() -> tuple[str, dict[str, Any]]:
            if reference is not None:
                upload = client.upload_image(reference)
                request["references"] = [{"image": upload.id, "frame": frame}]
            return client.submit(request), request

        self._set_busy(True)
        self.error.setText("Submitting...")
        self.error.setStyleSheet("")
        run_task(self, submit, self._submitted, self._rejected, name="submit")

    def _submitted(self, result: tuple[str, dict[str, Any]]) -> None:
        self._set_busy(False)
        job_id, request = result
        self.error.setText(f"Queued job {job_id}.")
        self.submitted.emit(job_id, request)

    def _rejected(self, exc: BaseException) -> None:
        self._set_busy(False)
        self._show_error(describe_error(exc))
        self.rejected.emit(describe_error(exc))
        widget = self._widget_for_field(exc.field if isinstance(exc, ApiError) else None)
        if widget is not None:
            mark_invalid(widget, True)
            widget.setFocus()

    def _widget_for_field(self, field: str | None) -> QWidget | None:
        if not field:
            return None
        match = re.match(r"camera\[(\d+)\]", field)
        if match:
            return self.camera.widget_for(int(match.group(1)))
        return self._field_widgets.get(re.split(r"[.\[]", field, maxsplit=1)[0])

    def _clear_marks(self) -> None:
        for widget in [*self._field_widgets.values(), *self.camera.boxes.values()]:
            mark_invalid(widget, False)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.generate_button.setEnabled(not busy and self.client is not None)
        self.generate_button.setText("Submitting..." if busy else "Generate")

    def _show_error(self, text: str) -> None:
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setText(text)


def _spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    return spin

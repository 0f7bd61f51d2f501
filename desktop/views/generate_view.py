"""The Generate view: models, prompt, settings, camera moves and the clip options of issue 7 (reference pictures
at frames, SparseCtrl, video to video, context windows, prompt travel) -> a queued job.

Generate first checks the form (`desktop/form_checks.py`: a bad value is refused before anything is sent,
naming the field, the value and what is accepted); then the uploads (pictures, a video's frames) and
`POST /v1/jobs` run in a background thread, and the job id comes back through `submitted`. A rejection by the
service shows its sentence and frames the field it names.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from backend.client import CameraMoveStatus, Client, ModelCheck, ModelFile
from desktop.form_checks import check_form
from desktop.uploads import upload_inputs
from desktop.views.camera_panel import CameraPanel
from desktop.views.clip_settings import SCHEDULERS, ClipSettings
from desktop.views.common import WARNING_STYLE, mark_invalid, message_label
from desktop.views.long_clip_panel import LongClipPanel
from desktop.views.model_picker import NONE_CHOICE, ModelPicker
from desktop.views.prompt_travel_panel import PromptTravelPanel
from desktop.views.references_panel import ReferencesPanel
from desktop.views.video_panel import VideoPanel
from desktop.workers import describe_error, run_task

__all__ = ["SCHEDULERS", "GenerateView"]
CHECK_DELAY_MS = 400  # pre-flight check this long after the last change of a model field


class GenerateView(QWidget):
    """`submitted(job_id, request)` once the service accepted the job; `rejected(sentence)` if it refused it."""

    submitted = Signal(str, dict)
    rejected = Signal(str)
    _progress = Signal(str)  # emitted by the submit thread ("Uploading video frame 3/16...")

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
        # A MotionLoRA by name (one trained in the Training view, say); the camera moves below pick official ones.
        self.motion_lora = ModelPicker("motion-loras", optional=True, weight=(0.0, 2.0, 1.0))
        self.lora = ModelPicker("loras", optional=True, weight=(-4.0, 4.0, 1.0))
        self.domain_adapter = ModelPicker("domain-adapters", optional=True, weight=(0.0, 1.0, 1.0))
        self.refresh_models_button = QPushButton("Refresh list")
        self.refresh_models_button.clicked.connect(self.refresh_models)
        models_box = QGroupBox("Models")
        models_form = QFormLayout(models_box)
        models_form.addRow("Base checkpoint", self.base)
        models_form.addRow("Motion module", self.motion_module)
        models_form.addRow("MotionLoRA", self.motion_lora)
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

        self.settings = ClipSettings()
        s = self.settings  # its fields stay reachable on the view
        self.seed, self.random_seed, self.dice = s.seed, s.random_seed, s.dice
        self.steps, self.guidance, self.frames = s.steps, s.guidance, s.frames
        self.width_spin, self.height_spin, self.fps, self.scheduler = s.width_spin, s.height_spin, s.fps, s.scheduler
        self.prompt_travel = PromptTravelPanel()
        self.camera = CameraPanel()
        self.preflight = message_label(WARNING_STYLE)  # check findings no picker owns: camera[i], frames, ...
        self.preflight.hide()
        self.references = ReferencesPanel()
        self.video = VideoPanel()
        self.long_clip = LongClipPanel()
        self.panels = (self.references, self.video, self.long_clip, self.prompt_travel)
        self.pickers = (self.base, self.motion_module, self.motion_lora, self.lora, self.domain_adapter,
                        self.references.sparsectrl)

        self.error = message_label()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(36)
        self.generate_button.clicked.connect(self.generate)
        self.generate_button.setEnabled(False)

        left = QVBoxLayout()
        for w in (models_box, prompt_box, self.settings, self.prompt_travel, self.long_clip):
            left.addWidget(w)
        left.addStretch(1)
        right = QVBoxLayout()
        for w in (self.camera, self.preflight, self.references, self.video):
            right.addWidget(w)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        self.body = QWidget()  # the whole form (a screenshot of it shows what the scroll area hides)
        self.body.setLayout(columns)
        scroll = QScrollArea()
        scroll.setWidget(self.body)
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
        self.frames.valueChanged.connect(self._clip_changed)
        self.motion_module.combo.currentTextChanged.connect(self._clip_changed)
        self.long_clip.context_length.valueChanged.connect(self.schedule_check)
        self.scheduler.currentTextChanged.connect(self.schedule_check)
        self.references.refused.connect(self._show_error)
        self.video.refused.connect(self._show_error)
        self.video.counted.connect(self.frames.setValue)
        self._progress.connect(self._show_progress)
        self._clip_changed()

        # Field paths in the service's errors -> the widget to frame (the panels answer for their own fields).
        self._field_widgets: dict[str, QWidget] = {
            "prompt": self.prompt, "negative_prompt": self.negative_prompt, "base": self.base.combo,
            "motion_module": self.motion_module.combo, "motion_loras": self.motion_lora.combo, "loras": self.lora.combo,
            "domain_adapter": self.domain_adapter.combo, **self.settings.widgets,
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
        self._clip_changed()

    def module_frames(self) -> int | None:
        """The chosen motion module's position-encoding length, when the listing says it."""
        chosen = self.motion_module.chosen_file()
        config = (chosen.details.get("config") or {}) if chosen is not None else {}
        length = config.get("motion_max_seq_length")
        return length if isinstance(length, int) else None

    def _clip_changed(self) -> None:
        frames = self.frames.value()
        self.references.set_frames(frames)
        self.prompt_travel.set_frames(frames)
        self.video.set_frames(frames)
        self.long_clip.set_clip(frames, self.module_frames(), self.motion_module.value())
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
        if request.get("context_length"):
            request["frames"] = request["context_length"]  # the module attends over one window at a time
        self._check_seq += 1
        seq = self._check_seq
        run_task(self, lambda: client.check_models(request), lambda check: self._show_check(seq, check),
                 lambda exc: self._show_check_failed(seq, exc), name="check")

    def _show_check(self, seq: int, check: ModelCheck) -> None:
        if seq != self._check_seq:
            return  # the form changed since: a newer check is on its way
        self.last_check = check
        pickers = {"base": self.base, "motion_module": self.motion_module, "motion_loras": self.motion_lora,
                   "loras": self.lora,
                   "domain_adapter": self.domain_adapter, "sparsectrl": self.references.sparsectrl}
        by_field: dict[str, list[tuple[str, bool]]] = {}
        others = []
        for issue, is_error in [(i, True) for i in check.errors] + [(i, False) for i in check.warnings]:
            root = re.split(r"[.\[]", issue.field, maxsplit=1)[0]
            if root in pickers:
                by_field.setdefault(root, []).append((issue.message, is_error))
            else:
                others.append(("Error: " if is_error else "Warning: ") + issue.message)
        for name, picker in pickers.items():
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
        self.settings.draw_seed()

    def build_request(self) -> dict[str, Any]:
        """The `POST /v1/jobs` body for what the form shows; local pictures and a local video stand in by path
        until they are uploaded (`generate`)."""
        request: dict[str, Any] = {
            "prompt": self.prompt.toPlainText().strip(), "negative_prompt": self.negative_prompt.toPlainText().strip(),
            "base": self.base.value(), "motion_module": self.motion_module.value(), "camera": self.camera.camera(),
        }
        self.settings.add_to(request)
        if self.motion_lora.value():
            request["motion_loras"] = [{"path": self.motion_lora.value(), "weight": self.motion_lora.weight.value()}]
        if self.lora.value():
            request["loras"] = [{"path": self.lora.value(), "weight": self.lora.weight.value()}]
        if self.domain_adapter.value():
            request["domain_adapter"] = {"path": self.domain_adapter.value(),
                                         "weight": self.domain_adapter.weight.value()}
        for panel in self.panels:
            panel.add_to(request)
        return request

    def load_request(self, request: dict[str, Any], seed: int | None = None) -> None:
        """Fill the form from a job's request (history: "Edit"); `seed` overrides the request's. Pictures and
        video frames come back by their upload ids (the service keeps them)."""
        self.prompt.setPlainText(request.get("prompt", ""))
        self.negative_prompt.setPlainText(request.get("negative_prompt", ""))
        self.base.select(request.get("base", ""))
        self.motion_module.select(request.get("motion_module", ""))
        motion_loras = request.get("motion_loras") or []
        self.motion_lora.select(motion_loras[0]["path"] if motion_loras else NONE_CHOICE)
        if motion_loras and self.motion_lora.weight is not None:
            self.motion_lora.weight.setValue(float(motion_loras[0].get("weight", 1.0)))
        loras = request.get("loras") or []
        self.lora.select(loras[0]["path"] if loras else NONE_CHOICE)
        adapter = request.get("domain_adapter")
        self.domain_adapter.select(adapter["path"] if adapter else NONE_CHOICE)
        self.settings.load(request, seed if seed is not None else request.get("seed"))
        self.camera.load(request.get("camera") or [])
        for panel in self.panels:
            panel.load(request)

    # -- submit ------------------------------------------------------------------------------------------------

    def generate(self) -> None:
        """Check the form, then queue the job; returns at once (uploads and the POST run in the background)."""
        if self.client is None or self._busy:
            return
        self._clear_marks()
        request = self.build_request()
        problem = check_form(request, self.module_frames(), self.video.count)
        if problem is not None:
            self._refuse(problem.message, problem.field)
            return
        client, pictures = self.client, self.references.local_pictures()
        video: Path | None = self.video.path

        def submit() -> tuple[str, dict[str, Any]]:
            upload_inputs(client, request, pictures, video, self._report)
            return client.submit(request), request

        self._set_busy(True)
        self.error.setText("Submitting...")
        self.error.setStyleSheet("")
        run_task(self, submit, self._submitted, self._rejected, name="submit")

    def _report(self, text: str) -> None:
        """Called on the submit thread: the text reaches the GUI thread through a queued signal."""
        with contextlib.suppress(RuntimeError):  # the view is gone (the window closed meanwhile)
            self._progress.emit(text)

    @Slot(str)
    def _show_progress(self, text: str) -> None:
        if self._busy:
            self.error.setText(text)

    def _submitted(self, result: tuple[str, dict[str, Any]]) -> None:
        self._set_busy(False)
        job_id, request = result
        self.error.setText(f"Queued job {job_id}.")
        self.submitted.emit(job_id, request)

    def _rejected(self, exc: BaseException) -> None:
        self._set_busy(False)
        self._refuse(describe_error(exc), getattr(exc, "field", None))
        self.rejected.emit(describe_error(exc))

    def _refuse(self, sentence: str, field: str | None) -> None:
        self._show_error(sentence)
        widget = self._widget_for_field(field)
        if widget is not None:
            mark_invalid(widget, True)
            widget.setFocus()

    def _widget_for_field(self, field: str | None) -> QWidget | None:
        if not field:
            return None
        match = re.match(r"camera\[(\d+)\]", field)
        if match:
            return self.camera.widget_for(int(match.group(1)))
        for panel in self.panels:
            widget = panel.widget_for(field)
            if widget is not None:
                return widget
        return self._field_widgets.get(re.split(r"[.\[]", field, maxsplit=1)[0])

    def _clear_marks(self) -> None:
        for widget in [*self._field_widgets.values(), *self.camera.boxes.values(),
                       *(w for panel in self.panels for w in panel.marked_widgets())]:
            mark_invalid(widget, False)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.generate_button.setEnabled(not busy and self.client is not None)
        self.generate_button.setText("Submitting..." if busy else "Generate")

    def _show_error(self, text: str) -> None:
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setText(text)

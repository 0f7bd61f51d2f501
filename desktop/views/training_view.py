"""The Training view: train a MotionLoRA (a camera move) from your pictures or clips on the backend, watch its
progress and loss curve, cancel it; the result lands in the model manager.

The training runs in the backend process as a job (`POST /v1/trainings`, queued with the generations: one GPU),
never here: the app does not import torch. Start uploads the pictures and submits in a background thread and
returns at once; the job's events (`progress`: step, total, loss) drive the bar and the curve; when it succeeds
the view emits `trained(name)` and the window refreshes the Models tab, whose listing refreshes the Generate
view's MotionLoRA choices.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QMovie, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backend.client import ApiError, Client, Job, JobEvent, ModelFile
from desktop.backend_link import BackendLink
from desktop.views.common import mark_invalid, message_label
from desktop.views.loss_plot import LossPlot
from desktop.views.model_picker import ModelPicker
from desktop.views.training_data_panel import TrainingDataPanel
from desktop.views.training_settings import TrainingSettings
from desktop.workers import JobFollower, describe_error, run_task

RESULT_SIZE = 160  # px: the sample clip and the service's loss plot once the run ended
# Where a succeeded training's model shows up, by job kind (the history can open any training here).
RESULT_TEXT = {
    "motion-lora-training": "MotionLoRA \u201c{}\u201d is in the model store: the Models tab lists it and Generate "
                            "offers it under MotionLoRA.",
    "domain-adapter-training": "Domain adapter \u201c{}\u201d is in the model store: the Models tab lists it and "
                               "Generate offers it under Domain adapter.",
    "motion-module-training": "Motion module \u201c{}\u201d is in the model store: the Models tab lists it and "
                              "Generate offers it under Motion module.",
}
PHASE_TEXT = {"loading": "Loading the models and the training data...", "training": "Training...",
              "importing": "Adding the trained model to the model store..."}


def suggested_name(move: str) -> str:
    """A store name that is new each minute: `zoom-in-20260101-1200`."""
    return f"{move or 'clips'}-{time.strftime('%Y%m%d-%H%M')}"


class TrainingView(QWidget):
    """`trained(model_name)` once a training succeeded (its MotionLoRA is in the store)."""

    trained = Signal(str)
    _upload_progress = Signal(str)  # from the submit thread

    def __init__(self, link: BackendLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.client: Client | None = None
        self.job_id: str | None = None
        self.job: Job | None = None  # the followed job once it ended
        self.follower: JobFollower | None = None
        self.running = False  # submitting, queued or training
        self.sample_movie: QMovie | None = None
        self._sample_buffer: QBuffer | None = None
        self._name_edited = False

        self.data = TrainingDataPanel()
        self.base = ModelPicker("checkpoints")
        self.motion_module = ModelPicker("motion-modules")
        self.settings = TrainingSettings()
        self.name = QLineEdit(suggested_name(self.data.camera_move()))
        self.name.textEdited.connect(lambda _text: setattr(self, "_name_edited", True))
        self.data.changed.connect(self._suggest_name)
        models_box = QGroupBox("Models and result")
        form = QFormLayout(models_box)
        form.addRow("Base checkpoint", self.base)
        form.addRow("Motion module", self.motion_module)
        form.addRow("Save as", self.name)

        self.start_button = QPushButton("Start training")
        self.start_button.setMinimumHeight(34)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel("Choose pictures or a folder of clips, then Start.")
        self.status.setWordWrap(True)
        self.error = message_label()
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.plot = LossPlot()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setFixedHeight(70)
        self.log.setPlaceholderText("What the trainer reports about the data (files skipped and why) shows here.")
        self.sample_label, self.loss_image = QLabel(), QLabel()
        for label in (self.sample_label, self.loss_image):
            label.setFixedSize(RESULT_SIZE, RESULT_SIZE)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        left = QVBoxLayout()
        for widget in (self.data, models_box, self.settings):
            left.addWidget(widget)
        left.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.cancel_button)
        results = QHBoxLayout()
        results.addWidget(self.sample_label)
        results.addWidget(self.loss_image)
        results.addWidget(self.result, 1)
        right = QVBoxLayout()
        right.addLayout(buttons)
        right.addWidget(self.status)
        right.addWidget(self.error)
        right.addWidget(self.progress)
        right.addWidget(self.plot, 1)
        right.addWidget(self.log)
        right.addLayout(results)
        columns = QHBoxLayout(self)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        self._upload_progress.connect(self._show_upload_progress)
        self._field_widgets: dict[str, QWidget] = {"name": self.name, "base": self.base.combo,
                                                   "motion_module": self.motion_module.combo, **self.settings.widgets}
        self._update_buttons()

    # -- the backend -------------------------------------------------------------------------------------------

    def set_client(self, client: Client | None) -> None:
        self.client = client
        self.data.set_remote(client is not None and not self.link.is_local)
        self._update_buttons()

    def refresh_models(self) -> None:
        """The base and motion module pickers' listings, in the background (the window calls this after each
        listing of the Models view)."""
        client = self.client
        if client is None:
            return
        kinds = (self.base.kind, self.motion_module.kind)
        run_task(self, lambda: {kind: client.models(kind) for kind in kinds}, self._show_models,
                 lambda exc: self._show_error(f"Could not list the models: {describe_error(exc)}"), name="models")

    def _show_models(self, by_kind: dict[str, list[ModelFile]]) -> None:
        for picker in (self.base, self.motion_module):
            picker.set_models(by_kind.get(picker.kind, []))

    # -- start -------------------------------------------------------------------------------------------------

    def build_body(self) -> dict[str, Any]:
        """The `POST /v1/trainings` body the form shows (local pictures stand in by path until uploaded)."""
        body: dict[str, Any] = {"name": self.name.text().strip(), "base": self.base.value(),
                                "motion_module": self.motion_module.value()}
        self.settings.add_to(body)
        self.data.add_to(body)
        return body

    def start(self) -> None:
        """Check the form, then upload and submit in the background; returns at once."""
        if self.client is None or self.running:
            return
        self._clear_marks()
        problem = self.data.problem()
        if problem is None and not self.name.text().strip():
            problem = ("name", "name: empty; give the MotionLoRA a name to keep it under in the model store")
        if problem is not None:
            self._refuse(problem[1], problem[0])
            return
        client, body = self.client, self.build_body()
        pictures = self.data.local_pictures() if "images" in body else []

        def submit() -> str:
            ids = []
            for i, path in enumerate(pictures):
                self._report(f"Uploading picture {i + 1}/{len(pictures)}...")
                try:
                    ids.append(client.upload_image(path).id)
                except ApiError as exc:  # named by the body's field, so the list is framed
                    raise ApiError(exc.status, exc.code, f"images[{i}] ({path.name}): {exc.message}",
                                   f"images[{i}]") from exc
            if pictures:
                body["images"] = ids
            self._report("Submitting...")
            return client.train_motion_lora(**body)

        self._begin()
        self.status.setText("Submitting...")
        run_task(self, submit, self.follow, self._rejected, name="train")

    def _report(self, text: str) -> None:
        with contextlib.suppress(RuntimeError):  # the view is gone (the window closed meanwhile)
            self._upload_progress.emit(text)

    @Slot(str)
    def _show_upload_progress(self, text: str) -> None:
        if self.running and self.job_id is None:
            self.status.setText(text)

    def _rejected(self, exc: BaseException) -> None:
        self.running = False
        self._update_buttons()
        self.status.setText("Not started.")
        self._refuse(describe_error(exc), getattr(exc, "field", None))

    # -- following a job ---------------------------------------------------------------------------------------

    def follow(self, job_id: str) -> None:
        """Show a training job from its first event (a new one, or one picked in the history)."""
        if self.client is None:
            return
        if self.follower is not None:
            self.follower.stop()
        self._begin()
        self.job_id = job_id
        self.status.setText(f"Queued (job {job_id}).")
        self.follower = JobFollower(self.client, job_id, self)
        self.follower.event.connect(self._on_event)
        self.follower.ended.connect(self._on_ended)
        self.follower.lost.connect(self._on_lost)
        self.follower.start()
        self._update_buttons()

    def _begin(self) -> None:
        self.running, self.job_id, self.job = True, None, None
        self.error.setText("")
        self.plot.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.log.clear()
        self.result.setText("")
        self._clear_result_pictures()
        self._update_buttons()

    def _on_event(self, event: JobEvent) -> None:
        data = event.data
        if event.kind == "started":
            self.status.setText("Started.")
        elif event.kind == "phase":
            self.status.setText(PHASE_TEXT.get(str(data.get("phase")), str(data.get("phase"))))
            if data.get("total"):
                self.progress.setRange(0, int(data["total"]))
        elif event.kind == "log":
            self.log.appendPlainText(str(data.get("message", "")))
        elif event.kind == "progress":
            step, total, loss = int(data["step"]), int(data["total"]), float(data["loss"])
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            self.plot.add(step, loss, total)
            seconds = float(data.get("seconds", 0.0))
            left = seconds / step * (total - step) if step else 0.0
            self.status.setText(f"Step {step}/{total}, loss {loss:.4f}, {seconds:.0f} s so far, about {left:.0f} s "
                                "left.")

    def _on_ended(self, job: Job) -> None:
        self.running, self.job = False, job
        self._update_buttons()
        if job.status == "succeeded":
            self.status.setText(f"Done in {len(self.plot.steps)} steps.")
            self.result.setText(RESULT_TEXT.get(job.kind, RESULT_TEXT["motion-lora-training"]).format(job.model))
            self._fetch_result_pictures(job)
            if not self._name_edited or self.name.text().strip() == job.model:
                self._name_edited = False
                self.name.setText(suggested_name(self.data.camera_move()))
            self.trained.emit(job.model or "")
        elif job.status == "cancelled":
            self.status.setText(job.error.message if job.error else "Cancelled.")
            self._fetch_result_pictures(job)
        elif job.status == "interrupted":
            self._show_error("The backend stopped while this training ran; start it again.")
        else:
            message = f"{job.error.message} [{job.error.code}]" if job.error else job.status
            self.status.setText("Failed.")
            self._refuse(message, job.error.field if job.error else None)

    def _on_lost(self, reason: str) -> None:
        self.running = False
        self._update_buttons()
        self._show_error(f"Lost the training's progress: {reason}")

    def cancel(self) -> None:
        """Ask the backend to stop after the current step (it keeps a checkpoint and the loss plot)."""
        client, job_id = self.client, self.job_id
        if client is None or job_id is None or not self.running:
            return
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling: the trainer stops after the current step...")
        run_task(self, lambda: client.cancel(job_id), None,
                 lambda exc: self._show_error(f"Could not cancel: {describe_error(exc)}"), name="cancel")

    # -- results -----------------------------------------------------------------------------------------------

    def _fetch_result_pictures(self, job: Job) -> None:
        client = self.client
        samples = sorted(name for name in job.files if name.startswith("samples/"))
        wanted = [name for name in ("loss.png", *samples[-1:]) if name in job.files]
        if client is None or not wanted:
            return
        run_task(self, lambda: {name: client.file_bytes(job.id, name) for name in wanted},
                 self._show_result_pictures, None, name="training-results")

    def _show_result_pictures(self, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            if name == "loss.png":
                image = QImage.fromData(data, "PNG")
                self.loss_image.setPixmap(QPixmap.fromImage(image).scaled(
                    RESULT_SIZE, RESULT_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation))
                self.loss_image.setToolTip("the service's loss plot (loss.png)")
            elif name.endswith(".gif"):
                self._sample_buffer = QBuffer(self)  # the movie reads from it for as long as it plays
                self._sample_buffer.setData(QByteArray(data))
                self._sample_buffer.open(QBuffer.OpenModeFlag.ReadOnly)
                self.sample_movie = QMovie(self._sample_buffer, QByteArray(b"gif"), self)
                self.sample_movie.setScaledSize(QSize(RESULT_SIZE, RESULT_SIZE))
                self.sample_label.setMovie(self.sample_movie)
                self.sample_label.setToolTip(f"the sample clip rendered at the end ({name})")
                self.sample_movie.start()

    def _clear_result_pictures(self) -> None:
        if self.sample_movie is not None:
            self.sample_movie.stop()
        self.sample_label.clear()
        self.loss_image.clear()
        self.sample_movie = None

    # -- the form ----------------------------------------------------------------------------------------------

    def _suggest_name(self) -> None:
        if not self._name_edited:
            self.name.setText(suggested_name(self.data.camera_move()))

    def _update_buttons(self) -> None:
        connected = self.client is not None
        self.start_button.setEnabled(connected and not self.running)
        self.start_button.setText("Training..." if self.running else "Start training")
        self.cancel_button.setEnabled(connected and self.running and self.job_id is not None)

    def _refuse(self, sentence: str, field: str | None) -> None:
        self._show_error(sentence)
        widget = self.data.widget_for(field) or self._field_widgets.get((field or "").split("[", 1)[0])
        if widget is not None:
            mark_invalid(widget, True)
            widget.setFocus()

    def _clear_marks(self) -> None:
        for widget in (*self._field_widgets.values(), self.data.pictures, self.data.folder, self.data.move,
                       self.data.strength, self.data.caption):
            mark_invalid(widget, False)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)

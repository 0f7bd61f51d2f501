"""One generation, from the request to the imported clip, without blocking Blender.

    main thread (operator)          job thread                          main thread (drain timer)
    build the request, capture  ->  upload the pictures / frames,   ->  progress bar, live preview,
    the pictures, render the        submit, follow the events,           import the clip, report
    frame range                     download

The job thread never touches Blender data: it hands each result to `background.call_on_main`.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy

from . import background
from .connection import ServiceSettings, ServiceUnavailable, describe_error, forget, get_client
from .job_inputs import JobInputs, attach_uploads
from .preferences import ADDON_ID, addon_preferences
from .reports import report, tag_redraw
from .result_import import ImportOptions, import_clip
from .service_client import client_module

if TYPE_CHECKING:
    from .service_client import Client, JobEvent

EVENT_READ_TIMEOUT = 1.0  # seconds; the event stream is reopened after a quiet second, so a stop is seen soon
PREVIEW_IMAGE_NAME = "AnimateDiff Preview"


@dataclass(frozen=True)
class JobPlan:
    """Everything the job needs, taken from Blender on the main thread before the job thread starts."""

    service: ServiceSettings
    request: dict[str, Any]
    output_root: Path  # the frames go to <output_root>/<job id>/frames/
    scene_name: str
    start_frame: int
    options: ImportOptions
    relative_paths: bool = False
    inputs: JobInputs = JobInputs()  # reference pictures or rendered frames, uploaded before the submit


@dataclass
class ActiveJob:
    plan: JobPlan
    job_id: str = ""
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    cancel_sent: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send_cancel_once(self, service: Client) -> None:
        """Ask the service to cancel the job, once. A job that has just ended is left as it is: the service
        answers 409 `not_cancellable` and never removes it, so that answer is not an error here."""
        with self.lock:
            if self.cancel_sent or not self.job_id:
                return
            self.cancel_sent = True
        try:
            service.cancel(self.job_id)
        except client_module().ApiError as exc:
            if exc.code != "not_cancellable":
                raise


_active: ActiveJob | None = None


def plan_for_scene(context: bpy.types.Context, request: dict[str, Any], inputs: JobInputs | None = None,
                   start_frame: int | None = None) -> JobPlan:
    """A plan for `request` in the context's scene, with its import settings and the add-on's preferences.

    The clip is imported from `start_frame` (default: the current frame).
    """
    scene = context.scene
    settings = scene.animatediff
    output_root, relative = output_folder(settings.output_directory)
    return JobPlan(
        service=ServiceSettings.from_preferences(addon_preferences(context), bpy.app.online_access),
        request=request,
        output_root=output_root,
        scene_name=scene.name,
        start_frame=scene.frame_current if start_frame is None else start_frame,
        options=ImportOptions(settings.import_camera_background, settings.import_plane, settings.import_strip,
                              settings.set_scene_fps, settings.set_frame_range),
        relative_paths=relative,
        inputs=inputs or JobInputs(),
    )


def output_folder(setting: str) -> tuple[Path, bool]:
    """Where frames go, and whether to keep the paths relative to the blend file.

    `//` is the blend file's folder; an unsaved file has none, so the extension's own user folder is used
    (the system's temporary folder when running from a source tree, which has no extension folder).
    """
    setting = setting or "//AnimateDiff/"
    if not setting.startswith("//"):
        return Path(bpy.path.abspath(setting)).expanduser(), False
    if bpy.data.filepath:
        return Path(bpy.path.abspath(setting)), True
    try:
        return Path(bpy.utils.extension_path_user(ADDON_ID, path="results", create=True)), False
    except ValueError:  # not installed as an extension
        return Path(tempfile.gettempdir()) / "animatediff-studio" / "results", False


def active_job() -> ActiveJob | None:
    return _active


def start(plan: JobPlan) -> ActiveJob:
    """Start the job thread (the caller checked that no other job of this session runs)."""
    global _active
    job = ActiveJob(plan)
    _active = job
    state = bpy.context.window_manager.animatediff
    state.job_status, state.job_id, state.phase = "SUBMITTING", "", ""
    state.progress, state.step, state.total_steps = 0.0, 0, 0
    state.message, state.message_level = "", "INFO"
    background.start("job", lambda stop: _run(job, stop))
    return job


def request_cancel() -> bool:
    """Cancel the running job: now if it has an id, else as soon as the service gives it one."""
    job = _active
    if job is None or job.cancel_requested.is_set():
        return False
    job.cancel_requested.set()
    bpy.context.window_manager.animatediff.cancel_requested = job.job_id or "(not submitted yet)"
    background.start("cancel", lambda stop: _send_cancel(job))  # does nothing before the job has an id
    return True


# -- the job thread ---------------------------------------------------------------------------------------


def _run(job: ActiveJob, stop: threading.Event) -> None:
    plan, service = job.plan, None
    try:
        service = get_client(plan.service)
        background.call_on_main(lambda: _connected(service))
        request = plan.request
        if plan.inputs.count:
            request = attach_uploads(service, request, plan.inputs,
                                     lambda: stop.is_set() or job.cancel_requested.is_set(),
                                     lambda done, total: background.call_on_main(lambda: _uploaded(done, total)))
            plan.inputs.remove()
            if request is None:  # cancelled (or the add-on disabled) while uploading: nothing was submitted
                if not stop.is_set():
                    background.call_on_main(lambda: _cancelled_before_submit(job))
                return
        job_id = service.submit(request)
        with job.lock:
            job.job_id = job_id
        background.call_on_main(lambda: _submitted(job))
        if job.cancel_requested.is_set():  # Cancel was pressed before the service knew the job
            job.send_cancel_once(service)
        final = _follow_events(service, job.job_id, stop)
        if final is None:  # the add-on is being disabled; the service finishes the job on its own
            return
        if final.kind == "finished":
            background.call_on_main(lambda: _set_status("DOWNLOADING", phase="downloading"))
            folder = plan.output_root / job.job_id
            files = service.download_all(job.job_id, folder)
            frames = sorted(p for p in files if p.parent.name == "frames" and p.suffix == ".png")
            used = {**request, "seed": final.data.get("seed", request.get("seed"))}
            background.call_on_main(lambda: _finished(job, used, frames))
        else:
            background.call_on_main(lambda: _ended(job, final))
    except Exception as exc:  # a thread's boundary: every failure becomes a report, never a lost traceback
        if not isinstance(exc, (client_module().ApiError, ServiceUnavailable, OSError)):
            traceback.print_exc()  # not the service's doing: keep the details in the console
        if isinstance(exc, OSError):
            forget()  # the service went away: connect afresh next time
        message = describe_error(exc, service.base_url if service else None)
        unreachable = isinstance(exc, (ServiceUnavailable, OSError))
        background.call_on_main(lambda: _failed(job, message, unreachable))
    finally:
        plan.inputs.remove()


def _follow_events(service: Client, job_id: str, stop: threading.Event) -> JobEvent | None:
    """Hand each event to the main thread; return the terminal one (None when asked to stop first)."""
    seq = 0
    while not stop.is_set():
        try:
            for event in service.events(job_id, after=seq, timeout=EVENT_READ_TIMEOUT):
                seq = event.seq
                background.call_on_main(lambda event=event: _apply_event(event))
                if event.terminal:
                    return event
                if stop.is_set():
                    return None
        except TimeoutError:
            continue  # a quiet second (loading a model): reopen the stream after the last event seen
        stop.wait(EVENT_READ_TIMEOUT)  # the stream ended without a terminal event: the service restarted
    return None


def _send_cancel(job: ActiveJob) -> None:
    try:
        job.send_cancel_once(get_client(job.plan.service))
    except (client_module().ApiError, ServiceUnavailable, OSError) as exc:
        message = f"Cancel failed: {describe_error(exc)}"
        background.call_on_main(lambda: report("ERROR", message))


# -- on the main thread -----------------------------------------------------------------------------------


def _state():  # noqa: ANN202 - the AnimateDiffState of this session
    return bpy.context.window_manager.animatediff


def _set_status(status: str, **fields: Any) -> None:
    state = _state()
    state.job_status = status
    for name, value in fields.items():
        setattr(state, name, value)
    tag_redraw()


def _connected(service: Client) -> None:
    state = _state()
    if state.connection != "CONNECTED":
        state.connection, state.connection_message = "CONNECTED", f"Connected to {service.base_url}"


def _uploaded(done: int, total: int) -> None:
    _set_status("SUBMITTING", phase="uploading", step=done, total_steps=total, progress=done / max(total, 1))


def _submitted(job: ActiveJob) -> None:
    _set_status("QUEUED", job_id=job.job_id, phase="queued", step=0, total_steps=0, progress=0.0)


def _cancelled_before_submit(job: ActiveJob) -> None:
    _release(job)
    _set_status("CANCELLED", phase="")
    report("INFO", "Generation cancelled before it was submitted")


def _apply_event(event: JobEvent) -> None:
    state = _state()
    data = event.data
    if event.kind == "queued":
        _set_status("QUEUED", phase="queued")
    elif event.kind == "started":
        _set_status("RUNNING", phase="loading")
    elif event.kind == "phase":
        _set_status("RUNNING", phase=str(data.get("phase", "")))
    elif event.kind == "progress":
        total = max(int(data.get("total", 1)), 1)
        step = int(data.get("step", 0))
        _set_status("RUNNING", phase="denoising", step=step, total_steps=total, progress=min(step / total, 1.0))
        if data.get("preview_png_base64"):
            show_preview(base64.b64decode(data["preview_png_base64"]))
    elif event.kind == "decoding":
        _set_status("RUNNING", phase="decoding", progress=1.0)
    state.job_id = event.job_id


def show_preview(png: bytes) -> bpy.types.Image:
    """Show the service's latent preview in the "AnimateDiff Preview" Image (and the sidebar's thumbnail)."""
    folder = Path(tempfile.gettempdir()) / "animatediff-studio"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"preview-{os.getpid()}.png"  # one file per Blender session, overwritten by each preview
    path.write_bytes(png)
    image = bpy.data.images.get(PREVIEW_IMAGE_NAME)
    if image is None:
        image = bpy.data.images.load(str(path), check_existing=False)
        image.name = PREVIEW_IMAGE_NAME
    else:
        image.filepath = str(path)
        image.reload()
    preview = image.preview_ensure()
    if preview is not None:
        preview.reload()
    _state().preview_image = image.name
    return image


def _finished(job: ActiveJob, request: dict[str, Any], frames: list[Path]) -> None:
    plan = job.plan
    scene = bpy.data.scenes.get(plan.scene_name) or bpy.context.scene
    try:
        clip = import_clip(scene, frames, job_id=job.job_id, request=request, start_frame=plan.start_frame,
                           options=plan.options, relative=plan.relative_paths)
    except (ValueError, RuntimeError) as exc:
        _failed(job, f"The frames of job {job.job_id} could not be imported: {exc}")
        return
    scene.animatediff.result_image = clip.image
    _release(job)
    _set_status("SUCCEEDED", phase="", progress=1.0)
    report("INFO", f"Imported {len(frames)} frames as Image {clip.image.name!r} (seed {request.get('seed')})")
    for note in clip.notes:
        report("WARNING", f"AnimateDiff: {note}")


def _ended(job: ActiveJob, event: JobEvent) -> None:
    _release(job)
    if event.kind == "failed":
        _set_status("FAILED", phase="")
        report("ERROR", str(event.data.get("message") or f"The job failed ({event.data.get('code')})"))
    elif event.kind == "cancelled":
        _set_status("CANCELLED", phase="")
        report("INFO", "Generation cancelled")
    else:
        _set_status("INTERRUPTED", phase="")
        report("ERROR", "The service stopped while the job ran; generate again")


def _failed(job: ActiveJob, message: str, unreachable: bool = False) -> None:
    _release(job)
    if unreachable:
        state = _state()
        state.connection, state.connection_message = "FAILED", message
    _set_status("FAILED", phase="")
    report("ERROR", message)


def _release(job: ActiveJob) -> None:
    global _active
    if _active is job:
        _active = None
    _state().cancel_requested = ""


def wait_idle(timeout: float) -> None:
    """Drive the drain loop until the background work is done (for scripts and tests, never the UI)."""
    deadline = time.monotonic() + timeout
    while background.drain() is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"background work still running after {timeout} s")
        time.sleep(0.02)


def forget_active() -> None:
    """Drop the running job's bookkeeping (unregister); the service finishes the job on its own."""
    global _active
    _active = None

"""The `/v1` routes. Each handler is short: validate, ask the store or the worker, answer a schema type."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from backend import __version__
from backend.server import schema
from backend.server.api_error import ERROR_RESPONSES, ApiError
from backend.server.job_store import JobRecord
from backend.server.validation import to_generation_request
from backend.uploads import save_upload
from models.errors import StudioError

if TYPE_CHECKING:
    from backend.server.app import Services

router = APIRouter(prefix="/v1")
_KIND_QUERY = Query(None, description=("only jobs of one kind (generation, motion-lora-training, "
                                       "domain-adapter-training, motion-module-training); all when omitted"))
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and client timeouts from closing the stream


def _services(request: Request) -> Services:
    return request.app.state.services


def _job_schema(job: JobRecord) -> schema.Job:
    error = schema.JobError(code=job.error_code, message=job.error_message or "", field=job.error_field) \
        if job.error_code else None
    return schema.Job(id=job.id, status=job.status, kind=job.kind, created_at=job.created_at,
                      started_at=job.started_at, finished_at=job.finished_at, request=job.request, error=error,
                      files=job.files, seed=job.seed, model=job.model)


def _get_job(services: Services, job_id: str) -> JobRecord:
    job = services.store.get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"id: no job {job_id!r}; GET /v1/jobs lists the jobs there are", "id", job_id)
    return job


@router.get("/health", response_model=schema.Health)
def health(request: Request) -> schema.Health:
    services = _services(request)
    return schema.Health(version=__version__, device=services.worker.device_label,
                         free_memory_bytes=_free_memory_bytes(), queue_length=services.worker.queue_length(),
                         pid=os.getpid())


def _free_memory_bytes() -> int | None:
    """Only if the worker already imported torch: health must answer instantly, before any job."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)


_IMAGE_BODY = {"requestBody": {"required": True, "content": {
    t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg", "image/webp")}}}


@router.post("/uploads", response_model=schema.Upload, status_code=201, responses=ERROR_RESPONSES,
             openapi_extra=_IMAGE_BODY)
async def upload_image(request: Request) -> schema.Upload:
    """A reference picture as the raw body (PNG, JPEG or WebP, at most 32 MiB); its id goes in `references`."""
    data = await request.body()
    try:
        info = await run_in_threadpool(save_upload, data)  # decoding a large image must not stall the event loop
    except StudioError as exc:
        raise ApiError(422, exc.code, exc.message, exc.field) from exc
    return schema.Upload(id=info.id, width=info.width, height=info.height, format=info.format,
                         size_bytes=info.size_bytes)


@router.post("/jobs", response_model=schema.JobCreated, status_code=202, responses=ERROR_RESPONSES)
def submit_job(body: schema.GenerationRequestBody, request: Request) -> schema.JobCreated:
    """Validated now (types, ranges, model files); returns at once with the job id."""
    services = _services(request)
    try:
        req = to_generation_request(body, services.jobs_dir)
    except StudioError as exc:
        raise ApiError(422, exc.code, exc.message, exc.field, _value_at(body.model_dump(), exc.field)) from exc
    job = services.store.create(req.to_dict())
    services.worker.enqueue(job.id)
    return schema.JobCreated(id=job.id, status="queued")


@router.post("/trainings", response_model=schema.JobCreated, status_code=202, responses=ERROR_RESPONSES)
def submit_training(body: schema.TrainingBody, request: Request) -> schema.JobCreated:
    """Queue a training of a MotionLoRA, a domain adapter or a motion module (validated now: models, data,
    ranges); it runs on the same worker as the generations, one job at a time. Follow it with
    GET /v1/jobs/{id}/events; the trained model joins the store."""
    from backend.server.training_validation import to_training_request  # the trainer's config checks, no torch

    services = _services(request)
    job_kind = schema.TRAINING_JOB_KINDS[body.kind]
    pending = [j.request.get("name", "") for j in services.store.list_jobs(job_kind)
               if j.status in ("queued", "running")]
    try:
        stored = to_training_request(body, pending)
    except StudioError as exc:
        raise ApiError(422, exc.code, exc.message, exc.field, _value_at(body.model_dump(), exc.field)) from exc
    job = services.store.create(stored, kind=job_kind)
    services.worker.enqueue(job.id)
    return schema.JobCreated(id=job.id, status="queued")


def _value_at(data: Any, field: str | None) -> Any:
    """The value a field path such as `camera[0].strength` names in the body, or None."""
    for part in re.findall(r"[^.\[\]]+", field or ""):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data if field else None


@router.get("/jobs", response_model=schema.JobList, responses=ERROR_RESPONSES)
def list_jobs(request: Request, kind: schema.JobKind | None = _KIND_QUERY) -> schema.JobList:
    return schema.JobList(jobs=[_job_schema(j) for j in _services(request).store.list_jobs(kind)])


@router.get("/jobs/{job_id}", response_model=schema.Job, responses=ERROR_RESPONSES)
def get_job(job_id: str, request: Request) -> schema.Job:
    return _job_schema(_get_job(_services(request), job_id))


@router.delete("/jobs/{job_id}", response_model=schema.JobDeleted, responses=ERROR_RESPONSES)
def delete_job(job_id: str, request: Request) -> schema.JobDeleted:
    """Cancel a queued or running job; remove a finished one with its outputs."""
    services = _services(request)
    job = _get_job(services, job_id)
    if job.status in ("queued", "running"):
        return cancel_job(job_id, request)
    shutil.rmtree(services.jobs_dir / job_id, ignore_errors=True)
    services.store.delete(job_id)
    return schema.JobDeleted(id=job_id, outcome="deleted")


@router.post("/jobs/{job_id}/cancel", response_model=schema.JobDeleted, responses=ERROR_RESPONSES)
def cancel_job(job_id: str, request: Request) -> schema.JobDeleted:
    """Cancel a queued or running job, and nothing else: a late click never removes a finished clip."""
    services = _services(request)
    job = _get_job(services, job_id)
    if job.status not in ("queued", "running"):
        raise ApiError(409, "not_cancellable", f"id: job {job_id} is {job.status}, so there is nothing to cancel; "
                                               "DELETE /v1/jobs/{id} removes a finished job", "id", job_id)
    services.worker.cancel(job_id)
    after = _get_job(services, job_id)
    return schema.JobDeleted(id=job_id, outcome="cancelled" if after.status == "cancelled" else "cancelling")


@router.get("/jobs/{job_id}/files/{name:path}", responses={**ERROR_RESPONSES, 200: {"content": {"image/png": {}}}})
def get_job_file(job_id: str, name: str, request: Request) -> FileResponse:
    """`frames/0000.png` ..., `animation.mp4`, `animation.gif`, `metadata.json` (see the job's `files`)."""
    services = _services(request)
    job = _get_job(services, job_id)
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or "\\" in name or any(p in ("..", ".") for p in parts):
        raise ApiError(400, "invalid_input", f"name: {name!r} is not accepted; expected one of the job's files "
                                             "such as animation.mp4 or frames/0000.png", "name", name)
    if name not in job.files:
        raise ApiError(404, "not_found", f"name: job {job_id} has no file {name!r} (status {job.status}); "
                                         f"its files: {', '.join(job.files[:5]) or 'none'}", "name", name)
    root = (services.jobs_dir / job_id).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, "not_found", f"name: {name!r} is missing on disk for job {job_id}", "name", name)
    return FileResponse(path)


@router.get("/jobs/{job_id}/events", responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}}})
async def job_events(job_id: str, request: Request, after: int = Query(0, ge=0, description="last seq seen"),
                     last_event_id: str | None = Header(None)) -> StreamingResponse:
    """Server-Sent Events: every stored event of the job after `after`, then live ones; ends after the last."""
    services = _services(request)
    _get_job(services, job_id)
    start = after
    if last_event_id and last_event_id.isdigit():  # a reconnecting EventSource resumes where it stopped
        start = max(start, int(last_event_id))
    return StreamingResponse(_event_stream(services, job_id, start, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _event_stream(services: Services, job_id: str, seq: int, request: Request) -> AsyncIterator[str]:
    store, bus = services.store, services.bus
    token = bus.subscribe(job_id)  # before reading, so nothing stored in between is missed
    try:
        while True:
            events = store.events_after(job_id, seq)
            if not events:
                job = store.get(job_id)
                if job is None:
                    return
                if job.status in schema.TERMINAL_STATUSES:
                    events = store.events_after(job_id, seq)  # its last event may have landed just now
                    if not events:
                        return
            for event in events:
                seq = event.seq
                body = schema.JobEvent(job_id=job_id, seq=event.seq, kind=event.kind, time=event.time,
                                       data=event.data)
                yield f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(body.model_dump())}\n\n"
            if events and events[-1].kind in schema.TERMINAL_EVENTS:
                return
            if await request.is_disconnected():
                return
            if not await bus.wait_on(token, KEEPALIVE_S):
                yield ": keep-alive\n\n"
    finally:
        bus.unsubscribe(job_id, token)


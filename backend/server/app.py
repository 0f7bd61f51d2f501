"""The FastAPI application: `create_app(settings)` wires the store, the worker, the guard and the routes.

Errors of every kind leave as one `ErrorBody` shape (`{"error": {code, message, field, value}}`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend import __version__
from backend.server.api_error import ApiError
from backend.server.event_bus import EventBus
from backend.server.job_store import JobStore
from backend.server.model_routes import manager_for
from backend.server.model_routes import router as model_router
from backend.server.routes import router
from backend.server.security import AccessGuard
from backend.server.training_runner import import_into_store
from backend.server.worker import Worker
from models.errors import StudioError


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    token: str
    allow_remote: bool = False
    device: str | None = None  # None: the engine picks (CUDA, MPS, else CPU)


@dataclass
class Services:
    """What the routes reach through `request.app.state.services`."""

    settings: Settings
    store: JobStore
    worker: Worker
    bus: EventBus

    @property
    def jobs_dir(self) -> Path:
        return self.settings.data_dir / "jobs"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = JobStore(settings.data_dir)
        bus = EventBus()
        store.add_listener(bus.notify)
        worker = Worker(store, settings.data_dir / "jobs", device=settings.device,
                        import_model=lambda path, name, folder: import_into_store(manager_for(app.state), path, name,
                                                                                  folder))
        # 1. Recover: a job that was running when the process died is not trusted; queued ones still run.
        store.interrupt_running()
        for job_id in store.ids_with_status("queued"):
            worker.enqueue(job_id)
        worker.start()
        app.state.services = Services(settings, store, worker, bus)
        try:
            yield
        finally:
            worker.stop()
            store.close()
            manager = getattr(app.state, "model_manager", None)  # created by the first /v1/models request
            if manager is not None:
                manager.close()

    app = FastAPI(
        title="AnimateDiff Studio service", version=__version__, lifespan=lifespan,
        openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None,  # docs pages would need a CDN
        description="Local generation service: submit jobs, follow them as Server-Sent Events, fetch outputs. "
                    "Every route except /v1/health and /v1/openapi.json needs `Authorization: Bearer <token>`.",
    )
    app.include_router(router)
    app.include_router(model_router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StudioError, _studio_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(AccessGuard, token=settings.token, allow_remote=settings.allow_remote)
    return app


def _error(status: int, code: str, message: str, field: str | None = None, value: Any = None) -> JSONResponse:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)
    return JSONResponse({"error": {"code": code, "message": message, "field": field, "value": value}}, status)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    err = exc.errors()[0]
    loc = [p for p in err.get("loc", ()) if p != "body"]
    if err.get("type") == "json_invalid":
        ctx = err.get("ctx", {})
        return _error(400, "invalid_json", f"body: not valid JSON ({ctx.get('error', err.get('msg'))}); "
                                           "send a JSON object with Content-Type: application/json", "body")
    field = _field_path(loc)
    value = err.get("input")
    if err.get("type") == "extra_forbidden":
        body = "TrainingBody" if request.url.path.endswith("/trainings") else "GenerationRequestBody"
        message = f"{field}: unknown field; see the {body} schema in /v1/openapi.json"
    elif err.get("type") == "missing":
        message = f"{field}: missing; this field is required"
        value = None
    else:
        message = f"{field}: {value!r} is not accepted; {err.get('msg', 'invalid value')}"
    return _error(422, "invalid_input", message, field, value)


def _field_path(loc: list[str | int]) -> str:
    """pydantic's `("camera", 0, "strength")` -> `camera[0].strength`, the way the engine names fields."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


async def _studio_error(_request: Request, exc: StudioError) -> JSONResponse:
    return _error(422, exc.code, exc.message, exc.field)


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return _error(exc.status, exc.code, exc.message, exc.field, exc.value)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _error(exc.status_code, code, str(exc.detail))


"""The `/v1/models` routes: the model manager over HTTP.

Every handler is a plain `def`, so FastAPI runs it in its thread pool: walking roots, reading headers or
copying a multi-GB import never blocks the event loop. A scan (which may hash hundreds of GB) runs in its own
background thread; `POST /v1/models/scan` starts it and `GET /v1/models/scan` reports its progress.

The manager is created on first use and kept on `app.state` (it only opens the SQLite index; no torch).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request

from backend.server import schema
from backend.server.api_error import ERROR_RESPONSES, ApiError
from models.errors import InvalidInputError, ModelNotFoundError, StudioError
from models.index import ModelRecord
from models.kinds import DETECTED_KINDS, LIST_ALIASES, kinds_for_filter
from models.manager import ModelManager
from models.roots import ModelRoot
from models.scan import BackgroundScan

router = APIRouter(prefix="/v1")
_CREATE_LOCK = threading.Lock()
_KIND_HELP = f"a model kind ({', '.join(DETECTED_KINDS)}) or a store folder ({', '.join(LIST_ALIASES)})"


def _manager(request: Request) -> ModelManager:
    return manager_for(request.app.state)


def manager_for(state: Any) -> ModelManager:
    """The app's one manager (`app.state`); the worker imports trained models through it too."""
    if getattr(state, "model_manager", None) is None:
        with _CREATE_LOCK:
            if getattr(state, "model_manager", None) is None:
                manager = ModelManager()
                state.model_scan = BackgroundScan(manager.scan)
                state.model_manager = manager
    return state.model_manager


def _file(record: ModelRecord) -> schema.ModelFile:
    return schema.ModelFile(**record.to_dict())


def _root(root: ModelRoot) -> schema.ModelRoot:
    return schema.ModelRoot(**root.to_dict())


def _rejected(exc: StudioError, status: int, value: object) -> ApiError:
    return ApiError(status, exc.code, exc.message, exc.field, value)


@router.get("/models", response_model=schema.ModelList, responses=ERROR_RESPONSES)
def list_models(request: Request, kind: str | None = Query(None, description=_KIND_HELP),
                include_shadowed: bool = Query(False, alias="all", description=(
                    "also files whose name an earlier root uses (their notes name the file that wins)"))
                ) -> schema.ModelList:
    """Models in the store and the roots, one per name (the file it loads); new files are detected on the way."""
    try:
        kinds_for_filter(kind) if kind else None
    except InvalidInputError as exc:
        raise _rejected(exc, 422, kind) from exc
    records = _manager(request).list(kind, shadowed=include_shadowed)
    return schema.ModelList(models=[_file(r) for r in records])


@router.get("/models/info", response_model=schema.ModelFile, responses=ERROR_RESPONSES)
def model_info(request: Request, model: str = Query(description="a model name or an absolute path"),
               hash_file: bool = Query(False, alias="hash", description="compute the SHA-256 now (reads the file)")
               ) -> schema.ModelFile:
    """What one file is: kind, base family, version, size, format, notes (and its hash on request)."""
    try:
        return _file(_manager(request).info(model, hash_file=hash_file))
    except ModelNotFoundError as exc:
        raise ApiError(404, exc.code, exc.message.replace("name:", "model:", 1), "model", model) from exc


@router.post("/models/scan", response_model=schema.ModelScanStatus, status_code=202, responses=ERROR_RESPONSES)
def start_scan(request: Request, body: schema.ModelScanBody | None = None) -> schema.ModelScanStatus:
    """Start indexing every root in the background (or join the scan that is running); poll GET for progress."""
    _manager(request)
    request.app.state.model_scan.start(hash_files=(body or schema.ModelScanBody()).hash)
    return _scan_status(request)


@router.get("/models/scan", response_model=schema.ModelScanStatus, responses=ERROR_RESPONSES)
def scan_status(request: Request) -> schema.ModelScanStatus:
    """The running or last scan: phase, file, bytes hashed of bytes to hash, and its result once done."""
    _manager(request)
    return _scan_status(request)


def _scan_status(request: Request) -> schema.ModelScanStatus:
    job: BackgroundScan = request.app.state.model_scan
    p = job.progress
    result = schema.ModelScanResult(**job.report.to_dict()) if job.report else None
    return schema.ModelScanStatus(state=job.state, phase=p.phase, path=p.path, files_done=p.files_done,
                                  files_total=p.files_total, bytes_done=p.bytes_done, bytes_total=p.bytes_total,
                                  started_at=job.started_at, finished_at=job.finished_at, result=result,
                                  error=job.error)


@router.post("/models/import", response_model=schema.ModelImported, status_code=201, responses=ERROR_RESPONSES)
def import_model(request: Request, body: schema.ModelImportBody) -> schema.ModelImported:
    """Copy (or link) a file into the store folder of its detected kind; unknown/unsafe/corrupt files are refused."""
    if not Path(body.path).is_absolute():
        raise ApiError(422, "invalid_input", f"path: {body.path!r} is not accepted; expected an absolute path on the "
                                             "service's machine", "path", body.path)
    try:
        result = _manager(request).import_file(Path(body.path), link=body.link, name=body.name)
    except StudioError as exc:
        raise _rejected(exc, 404 if isinstance(exc, ModelNotFoundError) else 422, body.path) from exc
    return schema.ModelImported(**result.record.to_dict(), outcome=result.outcome)


@router.get("/models/roots", response_model=schema.ModelRootList, responses=ERROR_RESPONSES)
def list_roots(request: Request) -> schema.ModelRootList:
    """Where models are searched, in order: the store, ANIMATEDIFF_STUDIO_MODEL_DIRS, then added roots."""
    return schema.ModelRootList(roots=[_root(r) for r in _manager(request).roots()])


@router.post("/models/roots", response_model=schema.ModelRoot, status_code=201, responses=ERROR_RESPONSES)
def add_root(request: Request, body: schema.ModelRootBody) -> schema.ModelRoot:
    """Add a folder to search (a ComfyUI or A1111 install is recognised) and index it (no hashing)."""
    if not Path(body.path).is_absolute():
        raise ApiError(422, "invalid_input", f"path: {body.path!r} is not accepted; expected an absolute folder path",
                       "path", body.path)
    try:
        return _root(_manager(request).add_root(Path(body.path)))
    except StudioError as exc:
        raise _rejected(exc, 422, body.path) from exc


@router.delete("/models/roots", response_model=schema.ModelRootList, responses=ERROR_RESPONSES)
def remove_root(request: Request, path: str = Query(description="a root added with POST /v1/models/roots")
                ) -> schema.ModelRootList:
    """Stop searching an added root (its files are not touched)."""
    manager = _manager(request)
    try:
        manager.remove_root(Path(path))
    except StudioError as exc:
        raise _rejected(exc, 404, path) from exc
    return schema.ModelRootList(roots=[_root(r) for r in manager.roots()])


@router.post("/models/check", response_model=schema.ModelCheckResult, responses=ERROR_RESPONSES)
def check_models(request: Request, body: schema.ModelCheckBody) -> schema.ModelCheckResult:
    """Pre-flight: would these models load and work together? Reads headers only; answers 200 with the findings."""
    report = _manager(request).check(
        base=body.base, motion_module=body.motion_module,
        motion_loras=[(m.path, m.weight) for m in body.motion_loras],
        camera=[(c.move, c.strength) for c in body.camera],
        loras=[(lo.path, lo.weight) for lo in body.loras],
        domain_adapter=(body.domain_adapter.path, body.domain_adapter.weight) if body.domain_adapter else None,
        sparsectrl=(body.sparsectrl.path, body.sparsectrl.weight) if body.sparsectrl else None,
        frames=body.frames, scheduler=body.scheduler)
    models = {f: schema.ModelChecked(path=str(m.path), kind=m.info.kind, version=m.info.version,
                                     base_family=m.info.base_family, notes=list(m.info.notes))
              for f, m in report.models.items()}
    return schema.ModelCheckResult(ok=report.ok, errors=[e.to_dict() for e in report.errors],
                                   warnings=[w.to_dict() for w in report.warnings], models=models)


@router.get("/models/camera-moves", response_model=schema.CameraMoveList, responses=ERROR_RESPONSES)
def camera_moves(request: Request) -> schema.CameraMoveList:
    """Each camera move, the official MotionLoRA it needs, whether it is here, and where to get it if not."""
    return schema.CameraMoveList(moves=_manager(request).camera_moves())


@router.get("/models/catalog", response_model=schema.ModelCatalog, responses=ERROR_RESPONSES)
def catalog(request: Request) -> schema.ModelCatalog:
    """The official AnimateDiff files (modules, MotionLoRAs, adapter, SparseCtrl) and which are here."""
    files = [schema.OfficialModelFile(**entry.to_dict(), present=path is not None, path=path)
             for entry, path in _manager(request).catalog()]
    return schema.ModelCatalog(files=files)


@router.delete("/models/{name}", response_model=schema.ModelRemoved, responses=ERROR_RESPONSES)
def remove_model(request: Request, name: str, kind: str | None = Query(None, description=_KIND_HELP)
                 ) -> schema.ModelRemoved:
    """Delete a model from the tool's store (a linked file keeps its target). Files in other roots are refused."""
    try:
        record = _manager(request).remove(name, kind)
    except ModelNotFoundError as exc:
        raise _rejected(exc, 404, name) from exc
    except StudioError as exc:
        raise _rejected(exc, 409, name) from exc
    return schema.ModelRemoved(name=record.name, kind=record.kind, path=record.path)

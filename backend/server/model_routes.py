"""The `/v1/models` routes: what model files the service can use (the model manager extends these)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from backend.server import schema
from backend.server.api_error import ERROR_RESPONSES, ApiError
from models.paths import STORE_KINDS, store_dir

router = APIRouter(prefix="/v1")


@router.get("/models", response_model=schema.ModelList, responses=ERROR_RESPONSES)
def list_models(kind: str | None = Query(None, description=f"one of {', '.join(STORE_KINDS)}")) -> schema.ModelList:
    """Files in the tool's own store (the model manager extends this with scanned folders and checks)."""
    if kind is not None and kind not in STORE_KINDS:
        raise ApiError(422, "invalid_input", f"kind: {kind!r} is not accepted; expected one of "
                                             f"{', '.join(STORE_KINDS)}", "kind", kind)
    found = []
    for k in [kind] if kind else STORE_KINDS:
        folder = store_dir(k)
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*")
                                                                   if p.is_file())
            found.append(schema.ModelFile(name=path.stem if path.is_file() else path.name, kind=k, path=str(path),
                                          size_bytes=size))
    return schema.ModelList(models=found)

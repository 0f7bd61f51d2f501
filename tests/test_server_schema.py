"""The wire schema and the engine's request dataclasses must not drift apart: same fields, same defaults."""

from __future__ import annotations

import dataclasses

import pytest

from backend.engine.request import GenerationRequest, ReferenceFrame, WeightedFile
from backend.server import schema
from models.camera import CameraMove

REQUIRED = object()


def _dataclass_defaults(cls: type) -> dict[str, object]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = REQUIRED
    return out


def _body_defaults(model: type) -> dict[str, object]:
    return {name: REQUIRED if f.is_required() else f.get_default(call_default_factory=True)
            for name, f in model.model_fields.items()}


def _same(a: object, b: object) -> bool:
    # The dataclasses hold tuples (hashable, frozen), the wire holds lists: the same empty default.
    return _as_list(a) == _as_list(b)


def _as_list(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(("body", "dataclass"), [
    (schema.GenerationRequestBody, GenerationRequest),
    (schema.WeightedFileBody, WeightedFile),
    (schema.CameraMoveBody, CameraMove),
    (schema.ReferenceFrameBody, ReferenceFrame),
])
def test_wire_body_matches_the_engine_dataclass(body: type, dataclass: type) -> None:
    wire, engine = _body_defaults(body), _dataclass_defaults(dataclass)
    assert set(wire) == set(engine)
    mismatched = {name: (wire[name], engine[name]) for name in wire if not _same(wire[name], engine[name])}
    assert mismatched == {}


def test_the_service_handles_requests_without_importing_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; import backend.server.app, backend.server.validation, backend.cli; "
            "print([m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", ["Health", "JobError", "Job", "JobEvent", "ModelFile", "ModelImported", "ModelRemoved",
                                  "ModelScanStatus", "ModelRoot", "ModelCheckIssue", "CameraMoveStatus",
                                  "OfficialModelFile", "Upload", "JobDeleted"])
def test_the_stdlib_client_mirrors_every_response_field(name: str) -> None:
    """backend/client.py cannot import the schema (it is vendored alone into the Blender add-on), so its
    dataclasses restate the responses; this keeps the two from drifting apart."""
    from backend import client

    assert {f.name for f in dataclasses.fields(getattr(client, name))} == set(getattr(schema, name).model_fields)

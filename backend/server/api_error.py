"""`ApiError`: a rejection with an HTTP status, rendered by the app as the one `ErrorBody` shape."""

from __future__ import annotations

from typing import Any

from backend.server import schema

# The error statuses every route may answer, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": schema.ErrorBody} for code in (400, 401, 404, 409, 413, 421, 422)
}


class ApiError(Exception):
    """`code` is machine-readable; `message` names the field, the value and what would be accepted."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.value = status, code, message, field, value

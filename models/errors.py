"""Errors about model files, each with a machine-readable code and a sentence a user can act on."""

from __future__ import annotations


class StudioError(Exception):
    """Base error: `code` is machine-readable, the message tells the user what to do."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class ModelNotFoundError(StudioError):
    code = "model_not_found"


class UnsafeCheckpointError(StudioError):
    """A pickle that needs more than tensors to load: refused, never executed."""

    code = "unsafe_checkpoint"


class CorruptCheckpointError(StudioError):
    code = "corrupt_checkpoint"


class WrongModelKindError(StudioError):
    """The file is readable but is not the kind of model the caller asked for."""

    code = "wrong_model_kind"


class IncompatibleModelsError(StudioError):
    code = "incompatible_models"


class InvalidInputError(StudioError):
    code = "invalid_input"


class DownloadUnavailableError(StudioError):
    """A download was asked for while offline (or without huggingface_hub); the message says what to fetch."""

    code = "offline"

"""Read tensors from checkpoint files without ever executing code.

Formats: safetensors, and torch `.ckpt`/`.pt`/`.pth`/`.bin` pickles (zip or legacy). Pickles go through
`torch.load(weights_only=True)`, whose unpickler only rebuilds tensors and plain containers; a file that
needs any other Python object is refused with the object it asked for. The format is told from the
file's first bytes, not its extension, so a mislabelled file is read correctly or refused clearly.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file as load_safetensors

from models.errors import CorruptCheckpointError, ModelNotFoundError, UnsafeCheckpointError
from models.tensor_index import read_checkpoint_index, sniff_format, top_level_tensors, unwrap_checkpoint

__all__ = ["load_state_dict", "read_safetensors_metadata", "sniff_format"]


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` block of a safetensors header (empty for other formats)."""
    if sniff_format(path) != "safetensors":
        return {}
    return read_checkpoint_index(path).metadata


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a flat `{name: tensor}` dict from any supported checkpoint file, safely.

    Wrappers (`{"state_dict": {...}}`) are unwrapped; non-tensor entries such as `global_step` or
    `animatediff_config` are dropped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist", field="path")
    fmt = sniff_format(path)
    if fmt == "safetensors":
        try:
            return load_safetensors(str(path))
        except Exception as exc:  # safetensors raises its own error types for bad headers/sizes
            raise CorruptCheckpointError(f"{path} is a damaged safetensors file: {exc}", field="path") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=fmt == "zip-pickle")
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path} was refused: loading it would require running Python code from the file "
            f"({_first_line(exc)}). Only tensors are ever loaded from a .ckpt; convert the file to "
            "safetensors with a tool you trust, or use a safetensors download of the same model",
            field="path",
        ) from exc
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CorruptCheckpointError(f"{path} could not be read as a torch checkpoint: {exc}", field="path") from exc
    return _flatten(obj, path)


def _flatten(obj: object, path: Path) -> dict[str, torch.Tensor]:
    obj = unwrap_checkpoint(obj)  # the same unwrapping the detector applies to the file's index
    if not isinstance(obj, dict):
        raise CorruptCheckpointError(f"{path} holds a {type(obj).__name__}, not a dict of tensors", field="path")
    tensors = top_level_tensors(obj, lambda v: isinstance(v, torch.Tensor))
    if not tensors:
        raise CorruptCheckpointError(f"{path} contains no tensors", field="path")
    return tensors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "GLOBAL" in line or "Unsupported" in line:
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__

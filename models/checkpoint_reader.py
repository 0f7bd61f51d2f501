"""Read tensors from checkpoint files without ever executing code.

Formats: safetensors, and torch `.ckpt`/`.pt`/`.pth`/`.bin` pickles (zip or legacy). Pickles go through
`torch.load(weights_only=True)`, whose unpickler only rebuilds tensors and plain containers; a file that
needs any other Python object is refused with the object it asked for. The format is told from the
file's first bytes, not its extension, so a mislabelled file is read correctly or refused clearly.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file as load_safetensors

from models.errors import CorruptCheckpointError, ModelNotFoundError, UnsafeCheckpointError

# Wrappers that trainers put around the real state dict.
_WRAPPER_KEYS = ("state_dict", "module", "model_state_dict")
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


def sniff_format(path: Path) -> str:
    """Return "safetensors", "zip-pickle" or "legacy-pickle" from the file's first bytes."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) < 8:
        raise CorruptCheckpointError(f"{path} is empty or truncated ({len(head)} bytes)", field="path")
    if head[:4] == b"PK\x03\x04":
        return "zip-pickle"
    # Checked before the pickle opcode: a header length's low byte can be 0x80 too.
    (header_len,) = struct.unpack("<Q", head[:8])
    if 0 < header_len <= _MAX_SAFETENSORS_HEADER and head[8:9] == b"{":
        return "safetensors"
    if head[:1] == b"\x80":  # pickle protocol opcode
        return "legacy-pickle"
    raise CorruptCheckpointError(
        f"{path} is not a safetensors file or a torch checkpoint (first bytes {head[:8]!r}); "
        "expected a .safetensors, .ckpt, .pt or .bin model file",
        field="path",
    )


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` block of a safetensors header (empty for other formats)."""
    if sniff_format(path) != "safetensors":
        return {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return dict(header.get("__metadata__") or {})


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
    for _ in range(3):  # wrappers nest at most a couple of levels in practice
        if isinstance(obj, dict):
            inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict):
        raise CorruptCheckpointError(f"{path} holds a {type(obj).__name__}, not a dict of tensors", field="path")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise CorruptCheckpointError(f"{path} contains no tensors", field="path")
    return tensors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "GLOBAL" in line or "Unsupported" in line:
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""The names, shapes and dtypes of a checkpoint's tensors, read without loading a single tensor.

safetensors: the JSON header (bounded, validated against the file size the way the safetensors loader
validates it). Torch pickles: `models.safe_pickle`. The format comes from the first bytes, never from the
extension, so a mislabelled file is read for what it is. Problems raise `CorruptCheckpointError` /
`UnsafeCheckpointError` with a reason; the detector turns them into a report.

Standard library only, so listing and scanning never import torch.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import CorruptCheckpointError
from models.safe_pickle import TensorRef, read_legacy_pickle, read_zip_pickle

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
# Wrappers that trainers put around the real state dict (`{"state_dict": {...}, "global_step": ...}`).
WRAPPER_KEYS = ("state_dict", "module", "model_state_dict")
SAFETENSORS_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "C64": 8, "F64": 8, "I64": 8, "U64": 8,
}

TensorInfo = TensorRef  # (shape, dtype): one name for both formats


@dataclass
class CheckpointIndex:
    """What a checkpoint holds, by name: the same tensors `load_state_dict` would return, without their data."""

    format: str  # "safetensors", "zip-pickle" or "legacy-pickle"
    tensors: dict[str, TensorInfo]
    nested: dict[str, TensorInfo] = field(default_factory=dict)  # tensors below the top level, dotted names
    metadata: dict[str, str] = field(default_factory=dict)  # safetensors `__metadata__`
    top_keys: list[str] = field(default_factory=list)  # top-level keys after unwrapping, tensors or not

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: v.shape for k, v in self.tensors.items()}

    @property
    def precision(self) -> str | None:
        """The floating-point dtype most of the parameters are stored in ("F16", "F32", ...)."""
        sizes: dict[str, int] = {}
        for t in self.tensors.values():
            if t.dtype.startswith(("F", "BF")):
                sizes[t.dtype] = sizes.get(t.dtype, 0) + math.prod(t.shape)
        return max(sizes, key=sizes.__getitem__) if sizes else None


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
    if head[8:9] == b"{":
        if header_len > MAX_SAFETENSORS_HEADER:
            raise CorruptCheckpointError(
                f"{path}: its safetensors header claims {header_len} bytes, over the {MAX_SAFETENSORS_HEADER} bytes "
                "a safetensors file may have (a damaged or hostile file)", field="path")
        if header_len > 0:
            return "safetensors"
    if head[:1] == b"\x80":  # pickle protocol opcode
        return "legacy-pickle"
    raise CorruptCheckpointError(
        f"{path} is not a safetensors file or a torch checkpoint (first bytes {head[:8]!r}); "
        "expected a .safetensors, .ckpt, .pt or .bin model file",
        field="path",
    )


def unwrap_checkpoint(obj: Any) -> Any:
    """Follow trainer wrappers (`state_dict`, `module`, ...) down to the state dict; shared with the loader."""
    for _ in range(3):  # wrappers nest at most a couple of levels in practice
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    return obj


def top_level_tensors(obj: Any, is_tensor: Callable[[Any], bool]) -> dict[str, Any]:
    """The string-keyed tensors of an unwrapped checkpoint; what every loader of this project reads."""
    return {k: v for k, v in obj.items() if isinstance(k, str) and is_tensor(v)} if isinstance(obj, Mapping) else {}


def read_checkpoint_index(path: str | Path) -> CheckpointIndex:
    """Tensor names, shapes and dtypes of a safetensors file or torch pickle; raises on damaged/unsafe files."""
    path = Path(path)
    fmt = sniff_format(path)
    if fmt == "safetensors":
        tensors, metadata = _safetensors_header(path)
        return CheckpointIndex(fmt, tensors, metadata=metadata, top_keys=list(tensors))
    contents = read_zip_pickle(path) if fmt == "zip-pickle" else read_legacy_pickle(path)
    obj = unwrap_checkpoint(contents.obj)
    return CheckpointIndex(
        fmt,
        top_level_tensors(obj, lambda v: isinstance(v, TensorRef)),
        nested=_nested_tensors(obj),
        top_keys=[str(k) for k in obj] if isinstance(obj, Mapping) else [],
    )


def _nested_tensors(obj: Any, prefix: str = "", depth: int = 0) -> dict[str, TensorInfo]:
    """Tensors inside sub-dicts (A1111 embeddings keep theirs in `string_to_param`), a few levels deep."""
    found: dict[str, TensorInfo] = {}
    if depth > 3 or not isinstance(obj, Mapping):
        return found
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if depth and isinstance(value, TensorRef):
            found[name] = value
        elif isinstance(value, Mapping):
            found.update(_nested_tensors(value, name + ".", depth + 1))
    return found


def _safetensors_header(path: Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if 8 + n > size:
            raise CorruptCheckpointError(f"{path} is truncated: its header says {n} bytes, the file has {size - 8} "
                                         "after the length field", field="path")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptCheckpointError(f"{path}: the safetensors header is not valid JSON ({exc})", field="path") from exc
    if not isinstance(header, dict):
        raise CorruptCheckpointError(f"{path}: the safetensors header is not a JSON object", field="path")
    metadata = header.pop("__metadata__", None) or {}
    data_len, spans, tensors = size - 8 - n, [], {}
    for name, entry in header.items():
        tensors[name] = _tensor_entry(path, name, entry)
        spans.append((int(entry["data_offsets"][0]), int(entry["data_offsets"][1]), name))
    # The data section must be exactly the tensors, back to back, as the safetensors loader requires.
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise CorruptCheckpointError(f"{path}: tensor {name!r} starts at byte {begin} of the data, expected {end} "
                                         "(overlapping or missing data)", field="path")
        end = stop
    if end != data_len:
        problem = "is truncated" if end > data_len else "has trailing bytes"
        raise CorruptCheckpointError(f"{path} {problem}: its header describes {end} bytes of tensor data, the file "
                                     f"holds {data_len}", field="path")
    return tensors, {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}


def _tensor_entry(path: Path, name: str, entry: Any) -> TensorInfo:
    try:
        dtype, shape, (begin, stop) = str(entry["dtype"]), entry["shape"], entry["data_offsets"]
        shape, begin, stop = tuple(int(s) for s in shape), int(begin), int(stop)
    except (TypeError, KeyError, ValueError) as exc:
        raise CorruptCheckpointError(f"{path}: header entry {name!r} is malformed ({str(entry)[:120]})",
                                     field="path") from exc
    # Sub-byte and future dtypes have no fixed item size here: their byte range is only checked for order.
    itemsize = SAFETENSORS_DTYPE_SIZES.get(dtype)
    wrong_size = itemsize is not None and stop - begin != math.prod(shape) * itemsize
    if any(s < 0 for s in shape) or not (0 <= begin <= stop) or wrong_size:
        raise CorruptCheckpointError(f"{path}: tensor {name!r} ({dtype} {list(shape)}) does not match its byte range "
                                     f"{begin}..{stop}", field="path")
    return TensorInfo(shape, dtype)

"""Read the tensor table of a torch checkpoint without loading its tensors and without running its code.

A torch `.ckpt`/`.pt`/`.bin` is a pickle of containers whose tensors point at storages kept elsewhere: zip
members (`archive/data/<key>`, the format since torch 1.6) or records after the pickle (the legacy format).
Only the small object tree is unpickled here, by an unpickler whose `find_class` hands out inert stand-ins
for the globals `torch.load(weights_only=True)` accepts and a recorded refusal for every other one. Nothing
the file names is ever imported or called: a malicious `__reduce__` asks for `builtins.exec` (or `os.system`)
through `find_class` and gets a stand-in that does nothing, and the file is reported unsafe, naming what it
asked for. Storage sizes are checked against the zip members / records, so a truncated file is reported.

Standard library only: detection must not pay for importing torch.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import CorruptCheckpointError, UnsafeCheckpointError

MAX_PICKLE_BYTES = 256 * 1024 * 1024  # the object tree of a multi-GB checkpoint is well under 10 MB
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch storage class -> (safetensors-style dtype name, bytes per element)
_STORAGE_DTYPES: dict[str, tuple[str, int]] = {
    "FloatStorage": ("F32", 4), "HalfStorage": ("F16", 2), "BFloat16Storage": ("BF16", 2),
    "DoubleStorage": ("F64", 8), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4), "ShortStorage": ("I16", 2),
    "CharStorage": ("I8", 1), "ByteStorage": ("U8", 1), "BoolStorage": ("BOOL", 1),
    "ComplexFloatStorage": ("C64", 8), "ComplexDoubleStorage": ("C128", 16), "QInt8Storage": ("Q8", 1),
    "QUInt8Storage": ("QU8", 1), "QInt32Storage": ("Q32", 4), "QUInt4x2Storage": ("QU4x2", 1),
    "QUInt2x4Storage": ("QU2x4", 1), "UntypedStorage": ("U8", 1),
}
# torch dtype globals (`torch.float16`, used by `_rebuild_tensor_v3`) -> dtype name
_TORCH_DTYPES: dict[str, str] = {
    "float32": "F32", "float": "F32", "float16": "F16", "half": "F16", "bfloat16": "BF16", "float64": "F64",
    "double": "F64", "int64": "I64", "long": "I64", "int32": "I32", "int": "I32", "int16": "I16", "short": "I16",
    "int8": "I8", "uint8": "U8", "bool": "BOOL", "complex64": "C64", "complex128": "C128", "complex32": "C32",
    "uint16": "U16", "uint32": "U32", "uint64": "U64", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ", "float8_e8m0fnu": "F8_E8M0",
    "float4_e2m1fn_x2": "F4x2", "qint8": "Q8", "qint32": "Q32", "quint8": "QU8", "quint4x2": "QU4x2",
    "quint2x4": "QU2x4", "bits1x8": "B1x8", "bits2x4": "B2x4", "bits4x2": "B4x2", "bits8": "B8", "bits16": "B16",
    **{f"uint{n}": f"U{n}" for n in range(1, 8)}, **{f"int{n}": f"I{n}" for n in range(1, 8)},
}
_TENSOR_TYPES = ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool")
# Everything else `weights_only=True` accepts, as "module.name"; each gets an inert stand-in here.
_OTHER_ALLOWED = frozenset(
    {"torch.Size", "torch.Tensor", "torch.device", "torch.serialization._get_layout", "builtins.bytearray",
     "builtins.complex", "torch.per_tensor_affine", "torch.per_tensor_symmetric", "torch.per_channel_affine",
     "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams", "torch.storage.TypedStorage",
     "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
     "torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_nested_tensor",
     "torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_device_tensor_from_numpy",
     "torch._utils._rebuild_device_tensor_from_cpu_tensor"}
    | {f"{mod}.{t}Tensor" for t in _TENSOR_TYPES
       for mod in ("torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse")}
)


@dataclass(frozen=True)
class TensorRef:
    """A tensor as the pickle describes it: enough to classify a model, nothing of its data."""

    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class PickleContents:
    """The unpickled object tree (tensors as `TensorRef`) and how many storages were checked."""

    obj: Any
    storages: int


class _Inert:
    """Stands in for an accepted non-tensor global (`torch.device`, a quantization scheme, ...): does nothing."""

    def __new__(cls, *_args: Any, **_kwargs: Any) -> _Inert:
        return super().__new__(cls)

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def __call__(self, *_args: Any, **_kwargs: Any) -> _Inert:
        return _Inert()

    def __setstate__(self, _state: Any) -> None:
        pass


@dataclass(frozen=True)
class _StorageType:
    dtype: str
    itemsize: int


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    itemsize: int
    numel: int


class _Refused(_Inert):
    """What a refused global turns into: unpickling goes on (to name every refused global), nothing runs."""


def _rebuild_tensor(storage: Any, _offset: Any, size: Any, *_rest: Any) -> Any:
    if not isinstance(storage, _StorageRef):
        return _Inert()
    return TensorRef(tuple(int(s) for s in size), storage.dtype)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       hooks: Any = None, dtype: Any = None, *_rest: Any) -> Any:
    tensor = _rebuild_tensor(storage, offset, size)
    if isinstance(tensor, TensorRef) and isinstance(dtype, str):
        return TensorRef(tensor.shape, dtype)
    return tensor


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


def _rebuild_from_type_v2(func: Any, _new_type: Any, args: Any, _state: Any) -> Any:
    # `func` is one of our stand-ins (find_class gave it), never something from the file.
    return func(*args) if callable(func) else _Inert()


_REBUILDERS = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch.nn.parameter.Parameter": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
}


class _MetadataUnpickler(pickle.Unpickler):
    """Builds the object tree with stand-ins; every global outside torch's weights-only list is recorded."""

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.refused: list[str] = []
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle protocol
        # torch.save writes protocol 2, where builtins are named as in Python 2 (`__builtin__.set`).
        module, name = NAME_MAPPING.get((module, name), (IMPORT_MAPPING.get(module, module), name))
        full = f"{module}.{name}"
        if full in _REBUILDERS:
            return _REBUILDERS[full]
        if module in ("torch", "torch.cuda", "torch.storage") and name in _STORAGE_DTYPES:
            return _StorageType(*_STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        if full in ("collections.OrderedDict", "collections.Counter", "builtins.set", "_codecs.encode"):
            # Plain containers and bytes decoding: calling these cannot do anything but build data.
            return {"collections.OrderedDict": OrderedDict, "collections.Counter": Counter, "builtins.set": set,
                    "_codecs.encode": _latin1_bytes}[full]
        if full in _OTHER_ALLOWED:
            return _Inert
        if full not in self.refused:
            self.refused.append(full)
        return _Refused

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102 - pickle protocol
        # zip: ("storage", type, key, location, numel); legacy: the same plus view metadata.
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"unknown persistent id {str(pid)[:80]}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int):
            raise pickle.UnpicklingError(f"storage {key} has no known storage type")
        ref = _StorageRef(key, storage_type.dtype, storage_type.itemsize, numel)
        self.storages.setdefault(key, ref)
        return ref


def _latin1_bytes(text: Any, encoding: str = "latin1") -> bytes:
    return str(text).encode(encoding if encoding in ("latin1", "latin-1", "utf-8", "ascii") else "latin1")


class _Bounded(io.RawIOBase):
    """A read-only view of an open file that refuses to hand out more than `limit` bytes."""

    def __init__(self, f: Any, limit: int, path: Path) -> None:
        self._f, self._left, self._path = f, limit, path

    def readable(self) -> bool:
        return True

    def _take(self, n: int) -> int:
        if n > self._left:
            raise CorruptCheckpointError(
                f"{self._path}: the pickle index is larger than {MAX_PICKLE_BYTES // (1024 * 1024)} MiB; a model "
                "checkpoint's index is a few MB (a damaged or hostile file)", field="path")
        self._left -= n
        return n

    def readinto(self, buffer: Any) -> int:
        data = self._f.read(len(buffer))
        self._take(len(data))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        line = self._f.readline(size if size is not None else -1)
        self._take(len(line))
        return line

    def tell(self) -> int:
        return self._f.tell()


_READ_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                struct.error, RecursionError, UnicodeDecodeError, MemoryError)


def _unpickle(file: Any, path: Path, what: str) -> tuple[Any, _MetadataUnpickler]:
    unpickler = _MetadataUnpickler(file)
    try:
        obj = unpickler.load()
    except CorruptCheckpointError:
        raise
    except _READ_ERRORS as exc:
        raise CorruptCheckpointError(f"{path}: {what} could not be read ({type(exc).__name__}: {exc})",
                                     field="path") from exc
    if unpickler.refused:
        raise UnsafeCheckpointError(
            f"{path} was refused: loading it would require running Python code from the file (it asks for "
            f"{', '.join(unpickler.refused[:5])}). Only tensors are ever loaded from a .ckpt; convert the file to "
            "safetensors with a tool you trust, or use a safetensors download of the same model",
            field="path",
        )
    return obj, unpickler


def read_zip_pickle(path: Path) -> PickleContents:
    """The object tree of a zip-format torch checkpoint, with every storage's zip member checked for size."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            pkl = next((n for n in names if n == "data.pkl" or n.endswith("/data.pkl")), None)
            if pkl is None:
                raise CorruptCheckpointError(f"{path} is a zip archive without data.pkl, not a torch checkpoint",
                                             field="path")
            if zf.getinfo(pkl).file_size > MAX_PICKLE_BYTES:
                raise CorruptCheckpointError(f"{path}: data.pkl is {zf.getinfo(pkl).file_size} bytes, over the "
                                             f"{MAX_PICKLE_BYTES} bytes a checkpoint index can be", field="path")
            obj, unpickler = _unpickle(io.BytesIO(zf.read(pkl)), path, "the pickle index (data.pkl)")
            prefix = pkl[: -len("data.pkl")]
            sizes = {info.filename: info.file_size for info in zf.infolist()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise CorruptCheckpointError(
            f"{path} is a damaged or truncated torch checkpoint (its zip directory cannot be read: {exc})",
            field="path") from exc
    for ref in unpickler.storages.values():
        member = f"{prefix}data/{ref.key}"
        need = ref.numel * ref.itemsize
        if member not in sizes:
            raise CorruptCheckpointError(f"{path}: tensor data {member} is missing from the archive", field="path")
        if sizes[member] < need:
            raise CorruptCheckpointError(f"{path}: tensor data {member} holds {sizes[member]} bytes, {need} expected "
                                         "(a truncated file)", field="path")
    return PickleContents(obj, len(unpickler.storages))


def read_legacy_pickle(path: Path) -> PickleContents:
    """The object tree of a legacy (pre-1.6, non-zip) torch checkpoint, with its storage records checked.

    Layout: five pickles (magic number, protocol, system info, the object tree, the storage keys), then per
    key an int64 element count and the raw data.
    """
    size = path.stat().st_size
    with open(path, "rb") as raw:
        # Buffered on top of the bound: the unpickler peeks ahead and gives back what it did not use, so
        # `tell()` is exact after each pickle (what torch's own legacy loader relies on too).
        f = io.BufferedReader(_Bounded(raw, MAX_PICKLE_BYTES, path))
        for what, expected in (("magic number", _LEGACY_MAGIC), ("protocol version", _LEGACY_PROTOCOL)):
            if _unpickle(f, path, f"the {what}")[0] != expected:
                raise CorruptCheckpointError(f"{path} is a pickle but not a torch checkpoint (wrong {what})",
                                             field="path")
        _unpickle(f, path, "the system info")
        obj, unpickler = _unpickle(f, path, "the pickle index")
        keys = _unpickle(f, path, "the storage list")[0]
        offset = f.tell()
    if not isinstance(keys, list):
        raise CorruptCheckpointError(f"{path}: the storage list is not a list", field="path")
    with open(path, "rb") as raw:
        for key in keys:
            ref = unpickler.storages.get(str(key))
            raw.seek(offset)
            head = raw.read(8)
            if len(head) < 8 or ref is None:
                raise CorruptCheckpointError(f"{path}: storage record {key} is missing (a truncated file)",
                                             field="path")
            (numel,) = struct.unpack("<q", head)
            offset += 8 + numel * ref.itemsize
            if numel < 0 or offset > size:
                raise CorruptCheckpointError(f"{path}: storage record {key} runs past the end of the file "
                                             "(a truncated file)", field="path")
    return PickleContents(obj, len(unpickler.storages))

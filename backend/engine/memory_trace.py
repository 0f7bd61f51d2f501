"""Predict a model call's peak activation memory without running it: a dry run on the `meta` device.

The model is rebuilt from its config with parameters on `meta` (no memory, no compute), called once with
`meta` inputs of the real shapes, and a dispatch mode adds up the bytes of every tensor an op returns and
subtracts them when Python frees it. The peak of that sum is what the caching allocator must hold for
activations on a real device, for this exact graph (diffusers' own code: skips, GEGLU, reshapes), at any
size, in about a second for a full-size SD1.5 UNet on a CPU.

Attention is counted as the memory-efficient kernels behave (SDPA flash / efficient on CUDA, the flash
kernel on CPU): the output only, never the (tokens x tokens) score matrix. What it leaves out, on purpose:
allocator rounding and fragmentation, kernel workspaces, LoRA branches (rank-sized, small) and the CUDA
context; the planner adds a margin for them, and `bench` prints prediction vs measurement side by side.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode


class _LiveBytes(TorchDispatchMode):
    """Live and peak bytes of the tensors created inside the mode (views share their base's storage)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._holders: dict[int, int] = {}  # storage -> how many tracked tensors hold it

    def _track(self, t: torch.Tensor) -> None:
        # Keyed by the C++ storage, not the tensor: ops such as linear's `_unsafe_view` return a new tensor
        # (not flagged as a view) on the same storage. Its bytes are freed when its last holder is.
        storage = t.untyped_storage()
        key = storage._cdata
        holders = self._holders.get(key, 0)
        self._holders[key] = holders + 1
        nbytes = storage.nbytes()
        if not holders:
            self.live += nbytes
            self.peak = max(self.peak, self.live)

        def release(nbytes: int = nbytes, key: int = key) -> None:
            left = self._holders.pop(key) - 1
            if left:
                self._holders[key] = left
            else:
                self.live -= nbytes

        weakref.finalize(t, release)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and not t._is_view():
                self._track(t)
        return out


class _EfficientAttention(TorchFunctionMode):
    """`F.scaled_dot_product_attention` as a memory-efficient kernel allocates it: the output tensor only."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if func is F.scaled_dot_product_attention:
            query, value = args[0], args[2] if len(args) > 2 else kwargs["value"]
            return query.new_empty((*query.shape[:-1], value.shape[-1]))
        return func(*args, **(kwargs or {}))


def peak_activation_bytes(call: Callable[[], Any]) -> int:
    """Peak bytes of the tensors `call` creates and holds at once (its return value included), on any device.

    On `meta` inputs this costs no memory; on real inputs it measures the same quantity for real, which is how
    the tests check the dry run against an actual run.
    """
    with torch.inference_mode(), _EfficientAttention(), _LiveBytes() as tracker:
        result = call()
        peak = tracker.peak
        del result
    return peak


def meta_copy(model: torch.nn.Module) -> torch.nn.Module:
    """`model`'s architecture with every parameter and buffer on `meta` (its dtype), built from its config.

    Works for diffusers `ModelMixin`s (UNetMotionModel, AutoencoderKL, ...): their config rebuilds them.
    """
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=True):
        copy = type(model).from_config(model.config)
    dtype = next(model.parameters()).dtype
    # nn.Module.to: ModelMixin.to warns about fp32-kept modules, which means nothing for a shape-only copy
    return torch.nn.Module.to(copy, device="meta", dtype=dtype).eval()

"""Pick the device and precision: CUDA fp16 (bf16 on request), Apple MPS fp16, else CPU fp32."""

from __future__ import annotations

from dataclasses import dataclass

import torch

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    dtype: torch.dtype

    @property
    def label(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type
        return f"{name} {str(self.dtype).removeprefix('torch.')}"


def choose_device(precision: str = "auto", device: str | None = None) -> DeviceChoice:
    if device:
        dev = torch.device(device)
    elif torch.cuda.is_available():
        dev = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        dev = torch.device("mps")
    else:
        dev = torch.device("cpu")
    if precision == "auto":
        dtype = torch.float32 if dev.type == "cpu" else torch.float16
    else:
        dtype = _DTYPES[precision]
    return DeviceChoice(dev, dtype)


def reset_peak_memory(choice: DeviceChoice) -> None:
    if choice.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(choice.device)


def peak_memory_bytes(choice: DeviceChoice) -> int | None:
    """Peak accelerator memory since the last reset; None on CPU (use RSS there)."""
    if choice.device.type == "cuda":
        return torch.cuda.max_memory_allocated(choice.device)
    return None

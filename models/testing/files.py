"""Save a state dict the way model files come: safetensors or a torch `.ckpt`, optionally fp16 or wrapped."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file


def save_state(state: dict[str, torch.Tensor], path: Path, *, fp16: bool = False, wrap: bool = False) -> Path:
    """`.safetensors` -> safetensors; anything else -> `torch.save` (a zip pickle, like official `.ckpt`s)."""
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous() for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state, "global_step": 1} if wrap else state, path)
    return path


class _RunsCode:
    """Unpickling this calls `exec` with a payload: what a malicious `.ckpt` does."""

    def __init__(self, payload: str) -> None:
        self.payload = payload

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (exec, (self.payload,))


def write_malicious_ckpt(path: Path, marker: Path) -> Path:
    """A `.ckpt` whose unpickling would create `marker`; a safe loader must refuse it and never run it."""
    payload = f"open({str(marker)!r}, 'w').write('pwned')"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "evil": _RunsCode(payload)}, path)
    return path

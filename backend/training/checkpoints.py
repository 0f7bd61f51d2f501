"""Training checkpoints that a run resumes from: `checkpoints/step-000100/` in the output folder.

A checkpoint holds only what training changes: the trained weights (safetensors), the optimizer and LR
schedule state (a tensors-and-numbers pickle, read back with `weights_only=True`: nothing in a checkpoint can
run code), and `state.json` with the step. Noise and data depend only on (seed, step), so nothing else is
needed for a resumed run to continue exactly as the uninterrupted one would.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from models.errors import CorruptCheckpointError

_NAME = re.compile(r"step-(\d+)$")


@dataclass
class Checkpoint:
    step: int
    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    lr_scheduler: dict[str, Any]


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / "checkpoints" / f"step-{step:06d}"


def save_checkpoint(output_dir: Path, ckpt: Checkpoint, keep: int = 2) -> Path:
    """Write atomically (a temp folder renamed into place) and keep only the newest `keep` checkpoints."""
    final = checkpoint_dir(output_dir, ckpt.step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in ckpt.weights.items()}, str(tmp / "trainable.safetensors"))
    torch.save({"optimizer": ckpt.optimizer, "lr_scheduler": ckpt.lr_scheduler}, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": ckpt.step}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in list_checkpoints(output_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = output_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _NAME.match(p.name)) and (p / "state.json").is_file()]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: Path) -> Checkpoint:
    try:
        state = json.loads((path / "state.json").read_text())
        extra = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        weights = load_file(str(path / "trainable.safetensors"))
    except (OSError, ValueError, RuntimeError) as exc:
        raise CorruptCheckpointError(f"resume: checkpoint {path} cannot be read ({exc})", field="resume") from exc
    return Checkpoint(int(state["step"]), weights, extra["optimizer"], extra["lr_scheduler"])

"""What the two LoRA trainers share: a peft LoRA on chosen layers of a frozen model, its checkpoint state and
its export in both file layouts.

peft initialises `lora_B` to zero, so at step 0 the adapted model is exactly the frozen one. `lora_alpha`
equals the rank (scale 1), the original AnimateDiff convention; `lora_files` folds any other scale in anyway.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig
from torch import nn

from backend.training.loop import TrainingTask
from backend.training.lora_files import lora_pairs_from_peft, save_lora_files


class LoraTask(TrainingTask):
    """Subclasses set `objective` and `name`; `self.model` carries the LoRA (a diffusers model)."""

    def __init__(self, model: nn.Module, target_modules: str, rank: int) -> None:
        self.model, self.rank = model, rank
        model.requires_grad_(False)
        model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=target_modules,
                                     init_lora_weights=True))
        self.lora_layers = sum(1 for _, m in model.named_modules() if "default" in getattr(m, "lora_A", {}))
        if self.lora_layers == 0:
            raise ValueError(f"{self.name}: no layer of the model matches {target_modules!r}")

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach() for k, v in self.model.named_parameters() if "lora_" in k}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.model.named_parameters())
        wrong = sorted(set(state) ^ {k for k in params if "lora_" in k})
        if wrong:
            raise ValueError(f"resume: checkpoint does not fit this LoRA (e.g. {wrong[0]})")
        with torch.no_grad():
            for key, value in state.items():
                params[key].copy_(value)

    def export_lora(self, folder: Path, stem: str, metadata: dict[str, str]) -> dict[str, Path]:
        pairs = lora_pairs_from_peft(self.model)
        return save_lora_files(pairs, folder / f"{stem}.safetensors", folder / f"{stem}_diffusers.safetensors",
                               {"rank": str(self.rank), **metadata})

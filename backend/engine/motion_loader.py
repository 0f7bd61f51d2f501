"""Load a motion module as a diffusers `MotionAdapter` from any of its on-disk forms.

Forms: a diffusers `MotionAdapter` folder; a single file in the original AnimateDiff layout (v1/v2/v3
`.ckpt`, fp16 `.safetensors` repacks); a single file in diffusers' layout. The adapter config is derived
from the tensors, and the keys must match it exactly: a mismatch is an error, never a random weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import MotionAdapter, UNet2DConditionModel

from backend.engine.exact_load import load_exactly
from backend.engine.motion_variants import read_variant
from models.checkpoint_reader import load_state_dict
from models.errors import IncompatibleModelsError, WrongModelKindError
from models.motion_config import (
    MotionModuleInfo,
    fit_problems,
    is_motion_module,
    motion_module_info,
    original_to_diffusers,
)


@dataclass
class LoadedMotionModule:
    adapter: MotionAdapter
    info: MotionModuleInfo
    variant: str = "transformer"  # hybrid: switch the inflated UNet with apply_motion_variant


def load_motion_module(path: Path, dtype: torch.dtype, field: str = "motion_module") -> LoadedMotionModule:
    variant = read_variant(path)
    if variant == "conv1d":
        raise WrongModelKindError(
            f"{field}: {path} is the 1D-convolution ablation of a motion module (trained with --motion-variant "
            "conv1d): it is measured by scripts/paper_benchmark.py, not used for generation or MotionLoRAs (it has "
            "no attention); use a transformer or hybrid motion module", field=field)
    if path.is_dir():
        adapter = MotionAdapter.from_pretrained(path, local_files_only=True, torch_dtype=dtype)
        state = adapter.state_dict()
        info = motion_module_info({k: tuple(v.shape) for k, v in state.items()})
        return LoadedMotionModule(adapter.eval(), info, variant)
    state = load_state_dict(path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if not is_motion_module(state):
        raise WrongModelKindError(
            f"{field}: {path} is not a motion module (no motion_modules.*.proj_in weights"
            f"{'; it looks like a LoRA' if any('lora' in k for k in state) else ''})",
            field=field,
        )
    info = motion_module_info({k: tuple(v.shape) for k, v in state.items()})
    if info.layout == "original":
        state = original_to_diffusers(state)
    # Parameters start on `meta` (no random init of a 400M-param module); buffers stay real so that the
    # sinusoidal tables, which diffusers recomputes and files may omit, are valid.
    with init_empty_weights(include_buffers=False):
        adapter = MotionAdapter(**info.config)
    load_exactly(adapter, state, path=path, field=field, what="the motion-module layout derived from its tensors")
    return LoadedMotionModule(adapter.to(dtype).eval(), info, variant)


def check_adapter_fits_base(info: MotionModuleInfo, unet: UNet2DConditionModel, field: str = "motion_module") -> None:
    """The motion module must sit on the same levels, widths and block depth as the base UNet."""
    problems = fit_problems(info, unet.config.block_out_channels, unet.config.layers_per_block)
    if problems:
        raise IncompatibleModelsError(f"{field}: {problems[0]}", field=field)

"""Tiny motion modules (v1/v2/v3-like) and LoRA files (MotionLoRA, domain adapter, kohya) in all layouts."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import MotionAdapter, UNet2DConditionModel

from models.motion_config import diffusers_to_original
from models.testing.files import save_state

_PROJ = ("to_q", "to_k", "to_v", "to_out.0")


def build_tiny_motion_adapter(seed: int = 0, *, mid_block: bool = True, max_seq_length: int = 32) -> MotionAdapter:
    """Matches the tiny base (widths 32/64, two modules per level). v2-like by default."""
    torch.manual_seed(seed)
    return MotionAdapter(
        block_out_channels=(32, 64), motion_layers_per_block=2, motion_num_attention_heads=8,
        motion_norm_num_groups=32, motion_max_seq_length=max_seq_length, use_motion_mid_block=mid_block,
    ).eval()


def save_motion_module(adapter: MotionAdapter, path: Path, layout: str = "original", fp16: bool = False) -> Path:
    """`layout="original"`: AnimateDiff's own file; "diffusers": one file of diffusers keys; "folder"."""
    if layout == "folder":
        adapter.save_pretrained(path)
        return path
    state = adapter.state_dict()
    if layout == "original":
        state = diffusers_to_original(state, adapter.config.motion_max_seq_length)
    return save_state(state, path, fp16=fp16)


def _lora_pair(out_f: int, in_f: int, rank: int, gen: torch.Generator, scale: float) -> tuple[torch.Tensor, ...]:
    down = torch.randn(rank, in_f, generator=gen) * scale
    up = torch.randn(out_f, rank, generator=gen) * scale
    return down, up


def _original_lora_key(diffusers_module: str, proj: str, motion: bool) -> str:
    """`...transformer_blocks.0.attn1` + `to_q` -> the original `processor.to_q_lora` prefix."""
    name = diffusers_module
    if motion:
        name = name.replace(".transformer_blocks.", ".temporal_transformer.transformer_blocks.", 1)
        name = name.replace(".attn1", ".attention_blocks.0").replace(".attn2", ".attention_blocks.1")
    return f"{name}.processor.{proj.removesuffix('.0')}_lora"


def motion_lora_state(adapter: MotionAdapter, *, seed: int = 0, rank: int = 4, layout: str = "original",
                      scale: float = 0.1) -> dict[str, torch.Tensor]:
    """A MotionLoRA on every motion-module attention projection, in AnimateDiff's or diffusers' layout."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, weight in adapter.state_dict().items():
        for proj in _PROJ:
            if key.endswith(f".{proj}.weight") and ".attn" in key:
                module = key.removesuffix(f".{proj}.weight")
                down, up = _lora_pair(weight.shape[0], weight.shape[1], rank, gen, scale)
                if layout == "original":
                    prefix = _original_lora_key(module, proj, motion=True)
                    state[f"{prefix}.down.weight"], state[f"{prefix}.up.weight"] = down, up
                else:
                    state[f"unet.{module}.{proj}.lora_A.weight"] = down
                    state[f"unet.{module}.{proj}.lora_B.weight"] = up
    return state


def domain_adapter_state(unet: UNet2DConditionModel, *, seed: int = 0, rank: int = 4,
                         scale: float = 0.1) -> dict[str, torch.Tensor]:
    """A v3-style domain adapter: LoRA on the base's spatial attention, original AnimateDiff layout."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, weight in unet.state_dict().items():
        for proj in _PROJ:
            if key.endswith(f".{proj}.weight") and ".attentions." in key:
                module = key.removesuffix(f".{proj}.weight")
                prefix = _original_lora_key(module, proj, motion=False)
                state[f"{prefix}.down.weight"], state[f"{prefix}.up.weight"] = _lora_pair(
                    weight.shape[0], weight.shape[1], rank, gen, scale
                )
    return state


def kohya_lora_state(unet: UNet2DConditionModel, *, seed: int = 0, rank: int = 4,
                     scale: float = 0.1) -> dict[str, torch.Tensor]:
    """A kohya/CivitAI image LoRA (`lora_unet_..._to_q.lora_down.weight` + `.alpha`) on the UNet attention."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, weight in unet.state_dict().items():
        for proj in _PROJ:
            if key.endswith(f".{proj}.weight") and ".attentions." in key:
                name = "lora_unet_" + key.removesuffix(".weight").replace(".", "_")
                down, up = _lora_pair(weight.shape[0], weight.shape[1], rank, gen, scale)
                state[f"{name}.lora_down.weight"], state[f"{name}.lora_up.weight"] = down, up
                state[f"{name}.alpha"] = torch.tensor(float(rank))
    return state


def save_lora(state: dict[str, torch.Tensor], path: Path) -> Path:
    return save_state(state, path)

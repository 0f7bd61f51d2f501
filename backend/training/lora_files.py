"""Trained LoRA weights to files in both layouts, and LoRA files back to (down, up) pairs.

Layouts written (what the engine's `adapters.py` reads, and what the two ecosystems load):
- diffusers/peft: `unet.<module>.lora_A.weight` / `lora_B.weight` (`pipe.load_lora_weights(file)`);
- original AnimateDiff: `<module>.processor.<proj>_lora.down.weight` / `up.weight`, where motion-module
  names take the original spelling (`temporal_transformer`, `attention_blocks.0/1`) as in
  `v2_lora_ZoomIn.ckpt` and `v3_sd15_adapter.ckpt` (ComfyUI, A1111).
The original layout has no alpha: LoRA scale is 1. peft's `lora_alpha / r` scaling is folded into the up
weights, so both files apply the same delta.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from models.checkpoint_reader import load_state_dict
from models.errors import WrongModelKindError
from models.lora_layout import lora_layout
from models.motion_config import original_to_diffusers

_PEFT_KEY = re.compile(r"^(?:unet\.)?(.+)\.lora_([AB])(?:\.default)?\.weight$")
_PROCESSOR_KEY = re.compile(r"^(?:unet\.)?(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$")


LoraPairs = dict[str, tuple[torch.Tensor, torch.Tensor]]  # module path -> (down (r, in), up (out, r))


def lora_pairs_from_peft(model: nn.Module, adapter_name: str = "default") -> LoraPairs:
    """{module path: (down (r, in), up (out, r) with the peft scaling folded in)} of every LoRA-wrapped layer."""
    pairs = {}
    for name, module in model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if lora_a is None or adapter_name not in lora_a:
            continue
        down = module.lora_A[adapter_name].weight.detach()
        up = module.lora_B[adapter_name].weight.detach() * module.scaling[adapter_name]
        pairs[name] = (down.float().cpu().contiguous(), up.float().cpu().contiguous())
    return pairs


def _original_module(name: str) -> str:
    if ".motion_modules." in name:
        name = re.sub(r"(motion_modules\.\d+\.)transformer_blocks\.", r"\1temporal_transformer.transformer_blocks.",
                      name)
        name = name.replace(".attn1", ".attention_blocks.0").replace(".attn2", ".attention_blocks.1")
    return name


def to_diffusers_layout(pairs: LoraPairs) -> dict[str, torch.Tensor]:
    out = {}
    for name, (down, up) in pairs.items():
        out[f"unet.{name}.lora_A.weight"], out[f"unet.{name}.lora_B.weight"] = down, up
    return out


def to_original_layout(pairs: LoraPairs) -> dict[str, torch.Tensor]:
    out = {}
    for name, (down, up) in pairs.items():
        module, _, proj = name.rpartition(".")
        if proj == "0" and module.endswith(".to_out"):  # `to_out.0` is the projection; `to_out_lora` its LoRA
            module, proj = module.removesuffix(".to_out"), "to_out"
        prefix = f"{_original_module(module)}.processor.{proj}_lora"
        out[f"{prefix}.down.weight"], out[f"{prefix}.up.weight"] = down, up
    return out


def save_lora_files(pairs: LoraPairs, original: Path, diffusers: Path,
                    metadata: dict[str, str] | None = None, fp16: bool = False) -> dict[str, Path]:
    """Write both layouts as safetensors; returns {"original": path, "diffusers": path}."""
    meta = {k: str(v) for k, v in (metadata or {}).items()}
    for path, state in ((original, to_original_layout(pairs)), (diffusers, to_diffusers_layout(pairs))):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: (v.half() if fp16 else v).contiguous() for k, v in state.items()}, str(path), metadata=meta)
    return {"original": original, "diffusers": diffusers}


def read_lora_pairs(path: Path, field: str = "lora") -> LoraPairs:
    """Any LoRA file of ours or AnimateDiff's (either layout) -> {module path: (down, up)}."""
    state = load_state_dict(path)
    if lora_layout(list(state)).startswith("original"):
        state = original_to_diffusers(state)
    halves: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if m := _PROCESSOR_KEY.match(key):
            module, proj, side = m.groups()
            name = f"{module}.{'to_out.0' if proj == 'to_out' else proj}"
            halves.setdefault(name, {})[side] = value
        elif m := _PEFT_KEY.match(key):
            halves.setdefault(m.group(1), {})["down" if m.group(2) == "A" else "up"] = value
    pairs = {name: (h["down"], h["up"]) for name, h in halves.items() if "down" in h and "up" in h}
    if not pairs:
        raise WrongModelKindError(f"{field}: {path} holds no LoRA pairs this trainer can read", field=field)
    return pairs


@torch.no_grad()
def merge_lora(model: nn.Module, pairs: LoraPairs, scale: float = 1.0,
               field: str = "lora") -> int:
    """Add scale * up @ down into each named Linear of `model`; returns the number of layers changed.
    A module the model lacks is an error (the file was made for another architecture)."""
    modules = dict(model.named_modules())
    missing = [name for name in pairs if name not in modules]
    if missing:
        raise WrongModelKindError(f"{field}: {len(missing)} LoRA layers do not exist in this model "
                                  f"(e.g. {missing[0]}); it was made for another base", field=field)
    for name, (down, up) in pairs.items():
        weight = modules[name].weight
        weight += scale * (up.to(weight) @ down.to(weight))
    return len(pairs)

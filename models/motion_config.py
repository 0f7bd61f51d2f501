"""Motion modules: tell the layout and version of a file, and derive its `MotionAdapter` config.

Two layouts exist: the original AnimateDiff one (`down_blocks.0.motion_modules.0.temporal_transformer.
transformer_blocks.0.attention_blocks.0.to_q.weight`, with the sinusoidal table stored as
`...attention_blocks.0.pos_encoder.pe`) and diffusers' (`...motion_modules.0.transformer_blocks.0.
attn1.to_q.weight`). Versions, as the official files differ:
v1 (`mm_sd_v14/v15`): PE length 24, no mid block; v2 (`mm_sd_v15_v2`): PE 32 and a mid block;
v3 (`v3_sd15_mm`): PE 32, no mid block; sdxl (`mm_sdxl_v10_beta`): three levels starting at 320 channels.
Two more families share the architecture: AnimateLCM (original layout stored without any position table,
the rule ComfyUI-AnimateDiff-Evolved uses too) and HotshotXL (SDXL; `temporal_attentions.N.` instead of
`motion_modules.N.temporal_transformer.`, `pos_encoder.positional_encoding` instead of `pos_encoder.pe`).

Names and shapes are all this module needs, so the detector uses it without importing torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# The temporal layer a motion module is built from (backend/engine/motion_variants.py): the paper's
# transformer, EasyAnimate's hybrid (global attention on odd modules), a 1D convolution (the ablation).
MOTION_VARIANTS: tuple[str, ...] = ("transformer", "hybrid", "conv1d")

if TYPE_CHECKING:
    import torch

ORIGINAL_MARKER = ".temporal_transformer."
HOTSHOT_PE_SUFFIX = "pos_encoder.positional_encoding"
SD15_WIDTHS = (320, 640, 1280, 1280)
SDXL_WIDTHS = (320, 640, 1280)
_DEFAULT_HEADS = 8  # every official module; not recoverable from square projections
_DEFAULT_GROUPS = 32


@dataclass(frozen=True)
class MotionModuleInfo:
    layout: str  # "original" or "diffusers"
    version: str  # "v1", "v2", "v3", "sdxl", "animatelcm", "hotshotxl", or "custom"
    config: dict[str, Any]  # MotionAdapter(**config)
    has_position_table: bool = True  # False: the file stores no sinusoidal table (AnimateLCM; diffusers recomputes it)

    @property
    def base_family(self) -> str | None:
        """"sd15"/"sdxl" for the official widths, None for custom widths (they fit only a base of the same widths)."""
        return motion_family(self.config["block_out_channels"])

    def evidence(self) -> str:
        """Why this version: the facts read from the tensors, for a person checking the verdict."""
        c = self.config
        table = f"position table of {c['motion_max_seq_length']} frames" if self.has_position_table else \
            "no position table in the file"
        return (f"{self.layout} layout, {len(c['block_out_channels'])} levels of widths "
                f"{tuple(c['block_out_channels'])}, {c['motion_layers_per_block']} modules per block, {table}, "
                f"{'a' if c['use_motion_mid_block'] else 'no'} mid-block module")


def motion_family(widths: Sequence[int]) -> str | None:
    return {SD15_WIDTHS: "sd15", SDXL_WIDTHS: "sdxl"}.get(tuple(widths))


def diffusers_key(key: str) -> str:
    """An original-layout motion-module name in diffusers' naming (the rename diffusers' converter applies)."""
    for original, new in ((".norms.0", ".norm1"), (".norms.1", ".norm2"), (".ff_norm", ".norm3"),
                          (".attention_blocks.0", ".attn1"), (".attention_blocks.1", ".attn2"),
                          (".temporal_transformer", "")):
        key = key.replace(original, new)
    return key


def is_hotshot_layout(keys: Mapping[str, Any]) -> bool:
    return any(k.endswith(HOTSHOT_PE_SUFFIX) for k in keys)


def hotshot_to_original(shapes: Mapping[str, Any]) -> dict[str, Any]:
    """HotshotXL names -> AnimateDiff's original names (its architecture is AnimateDiff's, renamed)."""
    out = {}
    for key, value in shapes.items():
        key = re.sub(r"temporal_attentions\.(\d+)\.", r"motion_modules.\1.temporal_transformer.", key, count=1)
        out[key.replace(HOTSHOT_PE_SUFFIX, "pos_encoder.pe")] = value
    return out

def is_motion_module(keys: Mapping[str, Any]) -> bool:
    return any(".motion_modules." in k and k.endswith("proj_in.weight") for k in keys) and not any(
        "lora" in k for k in keys
    )


def _indices(keys: Mapping[str, Any], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in keys if (m := rx.match(k))})


def motion_module_info(shapes: Mapping[str, tuple[int, ...]]) -> MotionModuleInfo:
    """Derive layout, version and a `MotionAdapter` config from tensor names and shapes."""
    layout = "original" if any(ORIGINAL_MARKER in k for k in shapes) else "diffusers"
    tt = "temporal_transformer." if layout == "original" else ""
    levels = _indices(shapes, r"down_blocks\.(\d+)\.motion_modules\.")
    if not levels:
        raise ValueError("no down_blocks.N.motion_modules tensors: not a motion module")
    channels = [shapes[f"down_blocks.{i}.motion_modules.0.{tt}proj_in.weight"][0] for i in levels]
    per_block = len(_indices(shapes, r"down_blocks\.0\.motion_modules\.(\d+)\."))
    depth = len(_indices(shapes, rf"down_blocks\.0\.motion_modules\.0\.{tt}transformer_blocks\.(\d+)\."))
    has_mid = any(k.startswith("mid_block.motion_modules.") for k in shapes)
    mid_layers = len(_indices(shapes, r"mid_block\.motion_modules\.(\d+)\.")) if has_mid else 1
    pe_key = next((k for k in shapes if k.endswith("pos_encoder.pe") or k.endswith("pos_embed.pe")), None)
    # Files without the table (diffusers drops it as a buffer) get the official length.
    max_len = shapes[pe_key][1] if pe_key else 32
    groups = _DEFAULT_GROUPS if all(c % _DEFAULT_GROUPS == 0 for c in channels) else math.gcd(*channels)
    config = {
        "block_out_channels": tuple(channels),
        "motion_layers_per_block": per_block,
        "motion_transformer_layers_per_block": depth,
        "motion_mid_block_layers_per_block": mid_layers,
        "motion_num_attention_heads": _DEFAULT_HEADS,
        "motion_norm_num_groups": groups,
        "motion_max_seq_length": max_len,
        "use_motion_mid_block": has_mid,
    }
    # AnimateLCM's files carry no table at all; diffusers-layout files always do (as `pos_embed.pe`).
    has_table = pe_key is not None
    version = "animatelcm" if layout == "original" and not has_table else motion_version(channels, max_len, has_mid)
    return MotionModuleInfo(layout=layout, version=version, config=config, has_position_table=has_table)


def motion_version(channels: Sequence[int], max_len: int, has_mid: bool) -> str:
    """v1/v2/v3 by the facts that tell the official SD1.5 modules apart; sdxl by its three levels."""
    family = motion_family(channels)
    if family == "sd15":
        if has_mid:
            return "v2"
        return "v1" if max_len == 24 else "v3"
    return "sdxl" if family == "sdxl" else "custom"


def fit_problems(info: MotionModuleInfo, base_widths: Sequence[int], base_layers_per_block: int) -> list[str]:
    """Why a motion module cannot sit in a base UNet (empty if it fits); the loader and pre-flight share it."""
    problems = []
    widths = tuple(info.config["block_out_channels"])
    if widths != tuple(base_widths):
        problems.append(f"the motion module ({info.version}) has level widths {widths} but the base UNet has "
                        f"{tuple(base_widths)}; use a motion module made for this base family")
    if info.config["motion_layers_per_block"] != base_layers_per_block:
        problems.append(f"the motion module has {info.config['motion_layers_per_block']} modules per block, the base "
                        f"UNet {base_layers_per_block} resnets per block; they must match")
    return problems


def original_to_diffusers(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an original-layout module (or MotionLoRA) to diffusers' names; drops the PE tables."""
    from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers

    return convert_animatediff_checkpoint_to_diffusers(dict(state))


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """The `pos_encoder.pe` buffer of the original layout: shape (1, length, dim)."""
    import torch

    position = torch.arange(length).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    pe = torch.zeros(1, length, dim)
    pe[0, :, 0::2] = torch.sin(position * div_term)
    pe[0, :, 1::2] = torch.cos(position * div_term)
    return pe


_TO_ORIGINAL = ((".attn1", ".attention_blocks.0"), (".attn2", ".attention_blocks.1"), (".norm1", ".norms.0"),
                (".norm2", ".norms.1"), (".norm3", ".ff_norm"))


def diffusers_to_original(state: Mapping[str, torch.Tensor], max_seq_length: int) -> dict[str, torch.Tensor]:
    """Write a diffusers-layout module in the original AnimateDiff layout (what ComfyUI/A1111 load)."""
    out: dict[str, torch.Tensor] = {}
    tables: dict[str, int] = {}
    for key, value in state.items():
        if key.endswith("pos_embed.pe"):
            continue
        new = re.sub(r"(motion_modules\.\d+\.)", r"\1temporal_transformer.", key, count=1)
        if ".transformer_blocks." in new:
            head, tail = new.split(".transformer_blocks.", 1)
            for src, dst in _TO_ORIGINAL:
                tail = tail.replace(src, dst)
            new = f"{head}.transformer_blocks.{tail}"
        out[new] = value
        if m := re.match(r"(.*\.attention_blocks\.\d+\.)to_q\.weight$", new):
            tables[m.group(1) + "pos_encoder.pe"] = value.shape[1]
    for key, dim in tables.items():
        out[key] = sinusoidal_table(max_seq_length, dim)
    return out

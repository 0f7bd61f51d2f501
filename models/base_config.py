"""Infer diffusers configs for a single-file SD base (original LDM key layout) from its tensors.

Channels per level, layers per block, attention levels, transformer depth, cross-attention and
text-encoder widths are read from tensor names and shapes, so community files of odd shapes and tiny
test checkpoints load through one path. What tensors cannot tell (head counts, norm epsilons, the VAE
scaling factor) comes from the shipped SD1.5 config folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import IncompatibleModelsError, StudioError, WrongModelKindError

SD15_CONFIG_DIR = Path(__file__).parent / "configs" / "sd15"

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer.text_model."
SDXL_MARKER = "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"
SD2_MARKER = "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"


@dataclass(frozen=True)
class BaseArchitecture:
    """What a single-file base model is, as read from its tensors."""

    family: str  # "sd15", "sd2", "sdxl"
    unet: dict[str, Any]
    vae: dict[str, Any] | None
    text_encoder: dict[str, Any] | None


def load_sd15_config(component: str) -> dict[str, Any]:
    return json.loads((SD15_CONFIG_DIR / component / "config.json").read_text())


def base_family(shapes: Mapping[str, tuple[int, ...]]) -> str | None:
    """"sd15", "sd2", "sdxl" for an LDM-layout base, None if the keys are not a base model."""
    if SDXL_MARKER in shapes or any(k.startswith("conditioner.embedders") for k in shapes):
        return "sdxl"
    if UNET_PREFIX + "input_blocks.0.0.weight" not in shapes:
        return None
    if SD2_MARKER in shapes or any(k.startswith("cond_stage_model.model.") for k in shapes):
        return "sd2"
    return "sd15"


def _indices(shapes: Mapping[str, Any], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in shapes if (m := rx.match(k))})


def unet_config_from_ldm(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """diffusers `UNet2DConditionModel` config for the LDM UNet under `model.diffusion_model.`."""
    p = UNET_PREFIX
    model_channels, in_channels = shapes[p + "input_blocks.0.0.weight"][:2]
    out_channels = shapes[p + "out.2.weight"][0]
    blocks = [i for i in _indices(shapes, re.escape(p) + r"input_blocks\.(\d+)\.") if i > 0]
    # Each level is `layers` resnets (+ attention), then one downsampler except on the last level.
    levels: list[list[int]] = [[]]
    for i in blocks:
        if p + f"input_blocks.{i}.0.op.weight" in shapes:
            levels.append([])
        else:
            levels[-1].append(i)
    layers = {len(level) for level in levels}
    if len(layers) != 1:
        raise ValueError(f"UNet levels have different numbers of resnets: {[len(lv) for lv in levels]}")
    channels, attention, depth = [], [], set()
    for level in levels:
        channels.append(shapes[p + f"input_blocks.{level[0]}.0.out_layers.3.weight"][0])
        has_attn = p + f"input_blocks.{level[0]}.1.proj_in.weight" in shapes
        attention.append(has_attn)
        if has_attn:
            blocks_prefix = re.escape(p + f"input_blocks.{level[0]}.1.transformer_blocks.")
            depth.add(len(_indices(shapes, blocks_prefix + r"(\d+)\.")))
    attn_key = next(k for k in shapes if k.startswith(p) and k.endswith("attn2.to_k.weight"))
    proj_in = next(k for k in shapes if k.startswith(p) and k.endswith(".1.proj_in.weight"))
    config = load_sd15_config("unet")
    config.update(
        in_channels=in_channels,
        out_channels=out_channels,
        block_out_channels=channels,
        layers_per_block=layers.pop(),
        cross_attention_dim=shapes[attn_key][1],
        use_linear_projection=len(shapes[proj_in]) == 2,
        transformer_layers_per_block=depth.pop() if len(depth) == 1 else 1,
        down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)],
    )
    if model_channels != channels[0]:
        raise ValueError(f"conv_in width {model_channels} differs from the first level's {channels[0]}")
    return config


def vae_config_from_ldm(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | None:
    """diffusers `AutoencoderKL` config for the VAE under `first_stage_model.`, None if absent."""
    p = VAE_PREFIX + "encoder."
    if p + "conv_in.weight" not in shapes:
        return None
    levels = _indices(shapes, re.escape(p) + r"down\.(\d+)\.")
    layers = len(_indices(shapes, re.escape(p) + r"down\.0\.block\.(\d+)\."))
    channels = [shapes[p + f"down.{i}.block.0.conv2.weight"][0] for i in levels]
    config = load_sd15_config("vae")
    config.update(
        in_channels=shapes[p + "conv_in.weight"][1],
        out_channels=shapes[VAE_PREFIX + "decoder.conv_out.weight"][0],
        block_out_channels=channels,
        layers_per_block=layers,
        latent_channels=shapes[p + "conv_out.weight"][0] // 2,
        down_block_types=["DownEncoderBlock2D"] * len(channels),
        up_block_types=["UpDecoderBlock2D"] * len(channels),
        mid_block_add_attention=p + "mid.attn_1.q.weight" in shapes,
    )
    return config


def text_config_from_ldm(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | None:
    """transformers `CLIPTextConfig` kwargs for the CLIP text model, None if absent."""
    p = CLIP_PREFIX
    if p + "embeddings.token_embedding.weight" not in shapes:
        return None
    vocab, hidden = shapes[p + "embeddings.token_embedding.weight"]
    config = load_sd15_config("text_encoder")
    config.update(
        vocab_size=vocab,
        hidden_size=hidden,
        # CLIP uses 64-wide heads; narrower test encoders get one head.
        num_attention_heads=max(1, hidden // 64),
        num_hidden_layers=len(_indices(shapes, re.escape(p) + r"encoder\.layers\.(\d+)\.")),
        intermediate_size=shapes[p + "encoder.layers.0.mlp.fc1.weight"][0],
        max_position_embeddings=shapes[p + "embeddings.position_embedding.weight"][0],
    )
    return config


def infer_base_architecture(shapes: Mapping[str, tuple[int, ...]]) -> BaseArchitecture:
    family = base_family(shapes)
    if family is None:
        raise ValueError("no UNet tensors under model.diffusion_model.: not a Stable Diffusion base checkpoint")
    return BaseArchitecture(
        family=family,
        unet=unet_config_from_ldm(shapes),
        vae=vae_config_from_ldm(shapes),
        text_encoder=text_config_from_ldm(shapes) if family == "sd15" else None,
    )


def base_problems(arch: BaseArchitecture) -> list[tuple[type[StudioError], str]]:
    """Why a single-file base cannot be animated here, as (error class, reason); empty if it can."""
    problems: list[tuple[type[StudioError], str]] = []
    if arch.family != "sd15":
        problems.append((IncompatibleModelsError, f"is an {arch.family.upper()} base; AnimateDiff SD1.5 motion modules "
                                                  "need an SD1.5-family base model"))
        return problems
    missing = [name for name, cfg in (("VAE", arch.vae), ("text encoder", arch.text_encoder)) if cfg is None]
    if missing:
        problems.append((WrongModelKindError, f"has no {' and no '.join(missing)} weights (a UNet-only file); use a "
                                              "full checkpoint"))
    if arch.unet["in_channels"] != 4:
        problems.append((IncompatibleModelsError, f"takes {arch.unet['in_channels']} input channels (an inpainting or "
                                                  "instruct model); AnimateDiff needs a text-to-image base with 4 "
                                                  "latent channels"))
    return problems


def check_usable_base(arch: BaseArchitecture, path: Path, field: str = "base") -> None:
    """Raise the first reason a single-file base cannot be animated (the loader and the pre-flight check share it)."""
    for error, reason in base_problems(arch):
        raise error(f"{field}: {path} {reason}", field=field)

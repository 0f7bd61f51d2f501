"""Convert diffusers Stable Diffusion 1.x state dicts to the original LDM / CompVis single-file layout.

This is the inverse of diffusers' `convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint` and
`convert_ldm_clip_checkpoint` (in `diffusers/loaders/single_file_utils.py`): the result is one flat state
dict keyed like a CivitAI `.safetensors` checkpoint:

- UNet under ``model.diffusion_model.`` (``time_embed``, ``input_blocks``, ``middle_block``,
  ``output_blocks``, ``out``),
- VAE under ``first_stage_model.`` (``encoder.down``/``decoder.up``/``mid``, ``quant_conv``,
  ``post_quant_conv``),
- CLIP text encoder under ``cond_stage_model.transformer.text_model.``.

The block structure (number of levels, layers per block, which levels have attention) is taken from the
diffusers config dicts, so any SD-shaped architecture converts, not only SD 1.5. Tensors are passed through
as they are (same objects, same dtype); the only change is that the VAE mid-block attention projections,
``Linear`` weights ``[C, C]`` in diffusers, become 1x1 conv weights ``[C, C, 1, 1]`` (a view of
the same storage).

Every input key must be accounted for: a key this module does not know raises `ValueError` rather than
being dropped or written under a guessed name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from torch import Tensor

__all__ = [
    "CLIP_PREFIX",
    "UNET_PREFIX",
    "VAE_PREFIX",
    "clip_to_ldm",
    "diffusers_to_ldm_state_dict",
    "unet_to_ldm",
    "vae_to_ldm",
]

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."

# ---------------------------------------------------------------------------------------------- UNet

_UNET_DOWN_TYPES = {"CrossAttnDownBlock2D", "DownBlock2D"}
_UNET_UP_TYPES = {"CrossAttnUpBlock2D", "UpBlock2D"}
_UNET_MID_TYPES = {"UNetMidBlock2DCrossAttn", None}

# Modules outside the down/mid/up blocks: diffusers module path -> LDM module path.
_UNET_TOP_LEVEL = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    # class-conditioned variants (class_embed_type "timestep"/"projection", SDXL's add_embedding)
    "class_embedding.linear_1": "label_emb.0.0",
    "class_embedding.linear_2": "label_emb.0.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}
# `num_class_embeds` makes `class_embedding` a plain nn.Embedding.
_UNET_TOP_LEVEL_PARAMS = {"class_embedding.weight": "label_emb.weight"}

# diffusers ResnetBlock2D child -> LDM ResBlock child.
_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}

_BLOCK_RE = re.compile(
    r"(down_blocks|up_blocks)\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)\.(.+)"
)
_MID_RE = re.compile(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)")


def _layers_per_level(value: int | Sequence[int], n_levels: int) -> list[int]:
    """`layers_per_block` as one count per down level (diffusers accepts an int or a per-level list)."""
    if isinstance(value, int):
        return [value] * n_levels
    counts = [int(v) for v in value]
    if len(counts) != n_levels:
        raise ValueError(f"layers_per_block has {len(counts)} entries for {n_levels} levels")
    return counts


def _child(rest: str, mapping: Mapping[str, str], where: str) -> str:
    """Rename the first component of `rest` ("norm1.weight" -> "in_layers.0.weight") through `mapping`."""
    name, _, param = rest.partition(".")
    if name not in mapping:
        raise ValueError(f"unexpected module {name!r} in {where}")
    return f"{mapping[name]}.{param}"


class _UNetLayout:
    """Index arithmetic between diffusers UNet2DConditionModel blocks and LDM input/output blocks."""

    def __init__(self, config: Mapping) -> None:
        down_types = list(_require(config, "down_block_types", "UNet"))
        up_types = list(_require(config, "up_block_types", "UNet"))
        mid_type = config.get("mid_block_type", "UNetMidBlock2DCrossAttn")
        if len(down_types) != len(up_types):
            raise ValueError(f"UNet has {len(down_types)} down blocks but {len(up_types)} up blocks")
        for kind, types, allowed in (
            ("down", down_types, _UNET_DOWN_TYPES),
            ("up", up_types, _UNET_UP_TYPES),
        ):
            unknown = [t for t in types if t not in allowed]
            if unknown:
                raise ValueError(
                    f"UNet {kind} block types {unknown} have no LDM layout (expected {sorted(allowed)})"
                )
        if mid_type not in _UNET_MID_TYPES:
            # LDM's middle block is always resnet/attention/resnet; an attention-free mid block would be read
            # back by diffusers with its second resnet as an attention.
            raise ValueError(f"UNet mid block type {mid_type!r} has no LDM layout")

        n = len(down_types)
        self.down_layers = _layers_per_level(config.get("layers_per_block", 2), n)
        # Up block b mirrors down level n-1-b with one more resnet (for the downsampler's / conv_in's skip).
        self.up_layers = [count + 1 for count in reversed(self.down_layers)]
        self.up_has_attention = [t.startswith("CrossAttn") for t in up_types]

        # LDM input_blocks: 0 is conv_in, then per level its layers, then (except the last level) a
        # downsampler; output_blocks: per up block its layers, the upsampler riding on the last one.
        self.down_start: list[int] = []
        index = 1
        for level, count in enumerate(self.down_layers):
            self.down_start.append(index)
            index += count + (1 if level < n - 1 else 0)
        self.up_start: list[int] = []
        index = 0
        for count in self.up_layers:
            self.up_start.append(index)
            index += count

    def block_key(self, side: str, block: int, part: str, layer: int, rest: str) -> str:
        """LDM key (without prefix) for a key under `down_blocks.*` / `up_blocks.*`."""
        where = f"{side}.{block}.{part}.{layer}"
        if side == "down_blocks":
            if block >= len(self.down_start):
                raise ValueError(f"{where} is beyond the {len(self.down_start)} levels in the config")
            start, count = self.down_start[block], self.down_layers[block]
            if part == "resnets" and layer < count:
                return f"input_blocks.{start + layer}.0.{_child(rest, _UNET_RESNET, where)}"
            if part == "attentions" and layer < count:
                return f"input_blocks.{start + layer}.1.{rest}"
            if part == "downsamplers" and layer == 0 and rest.startswith("conv."):
                return f"input_blocks.{start + count}.0.op.{rest.removeprefix('conv.')}"
        else:
            if block >= len(self.up_start):
                raise ValueError(f"{where} is beyond the {len(self.up_start)} levels in the config")
            start, count = self.up_start[block], self.up_layers[block]
            if part == "resnets" and layer < count:
                return f"output_blocks.{start + layer}.0.{_child(rest, _UNET_RESNET, where)}"
            if part == "attentions" and layer < count:
                return f"output_blocks.{start + layer}.1.{rest}"
            if part == "upsamplers" and layer == 0 and rest.startswith("conv."):
                slot = 2 if self.up_has_attention[block] else 1
                return f"output_blocks.{start + count - 1}.{slot}.{rest}"
        raise ValueError(f"unexpected UNet key under {where}.{rest} for layers_per_block={self.down_layers}")


def unet_to_ldm(unet: Mapping[str, Tensor], config: Mapping) -> dict[str, Tensor]:
    """Rename a diffusers `UNet2DConditionModel` state dict to LDM keys under ``model.diffusion_model.``.

    `config` is the model's diffusers config (``dict(unet.config)`` or its ``config.json``); it supplies
    ``down_block_types``, ``up_block_types``, ``layers_per_block`` and ``mid_block_type``.
    """
    layout = _UNetLayout(config)
    out: dict[str, Tensor] = {}
    for key, tensor in unet.items():
        if key in _UNET_TOP_LEVEL_PARAMS:
            ldm_key = _UNET_TOP_LEVEL_PARAMS[key]
        elif match := _BLOCK_RE.fullmatch(key):
            side, block, part, layer, rest = match.groups()
            ldm_key = layout.block_key(side, int(block), part, int(layer), rest)
        elif match := _MID_RE.fullmatch(key):
            part, layer, rest = match.groups()
            # LDM middle_block: resnet 0, attention 0, resnet 1, ...
            if part == "resnets":
                ldm_key = f"middle_block.{2 * int(layer)}.{_child(rest, _UNET_RESNET, 'mid_block')}"
            else:
                ldm_key = f"middle_block.{2 * int(layer) + 1}.{rest}"
        else:
            module, _, param = key.rpartition(".")
            if module not in _UNET_TOP_LEVEL:
                raise ValueError(f"UNet key {key!r} has no LDM equivalent")
            ldm_key = f"{_UNET_TOP_LEVEL[module]}.{param}"
        _put(out, UNET_PREFIX + ldm_key, tensor, key)
    return out


# ----------------------------------------------------------------------------------------------- VAE

_VAE_DOWN_TYPES = {"DownEncoderBlock2D"}
_VAE_UP_TYPES = {"UpDecoderBlock2D"}

_VAE_TOP_LEVEL = {
    "encoder.conv_in": "encoder.conv_in",
    "encoder.conv_out": "encoder.conv_out",
    "encoder.conv_norm_out": "encoder.norm_out",
    "decoder.conv_in": "decoder.conv_in",
    "decoder.conv_out": "decoder.conv_out",
    "decoder.conv_norm_out": "decoder.norm_out",
    "quant_conv": "quant_conv",
    "post_quant_conv": "post_quant_conv",
}
_VAE_RESNET = {
    "norm1": "norm1",
    "conv1": "conv1",
    "norm2": "norm2",
    "conv2": "conv2",
    "conv_shortcut": "nin_shortcut",
}
# diffusers Attention child -> LDM AttnBlock child (the legacy diffusers names are accepted too).
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out": "proj_out",
    "query": "q",
    "key": "k",
    "value": "v",
    "proj_attn": "proj_out",
}
# LDM AttnBlock projections are 1x1 convs.
_VAE_CONV_PROJECTIONS = {"q", "k", "v", "proj_out"}

_VAE_BLOCK_RE = re.compile(
    r"(encoder)\.(down_blocks)\.(\d+)\.(resnets|downsamplers)\.(\d+)\.(.+)"
    r"|(decoder)\.(up_blocks)\.(\d+)\.(resnets|upsamplers)\.(\d+)\.(.+)"
)
_VAE_MID_RE = re.compile(r"(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.+)")


def _vae_attention(rest: str, tensor: Tensor, where: str) -> tuple[str, Tensor]:
    name, _, param = rest.partition(".")
    if name not in _VAE_ATTENTION:
        raise ValueError(f"unexpected module {name!r} in {where}")
    ldm_name = _VAE_ATTENTION[name]
    if name == "to_out":  # to_out is a ModuleList: [Linear, Dropout]
        index, _, param = param.partition(".")
        if index != "0":
            raise ValueError(f"unexpected module to_out.{index} in {where}")
    if ldm_name in _VAE_CONV_PROJECTIONS and param == "weight" and tensor.ndim == 2:
        tensor = tensor.reshape(*tensor.shape, 1, 1)  # a view unless `tensor` is strided
    return f"{ldm_name}.{param}", tensor


def vae_to_ldm(vae: Mapping[str, Tensor], config: Mapping) -> dict[str, Tensor]:
    """Rename a diffusers `AutoencoderKL` state dict to LDM keys under ``first_stage_model.``.

    `config` is the model's diffusers config; ``up_block_types`` gives the number of decoder levels (LDM
    numbers decoder levels like encoder levels, 0 at full resolution; diffusers numbers ``up_blocks`` in
    execution order, 0 at the lowest resolution). The mid-block attention q/k/v/proj_out weights are
    reshaped from ``[C, C]`` to ``[C, C, 1, 1]``.
    """
    down_types = list(_require(config, "down_block_types", "VAE"))
    up_types = list(_require(config, "up_block_types", "VAE"))
    for kind, types, allowed in (("down", down_types, _VAE_DOWN_TYPES), ("up", up_types, _VAE_UP_TYPES)):
        unknown = [t for t in types if t not in allowed]
        if unknown:
            raise ValueError(
                f"VAE {kind} block types {unknown} have no LDM layout (expected {sorted(allowed)})"
            )
    n_down, n_up = len(down_types), len(up_types)

    out: dict[str, Tensor] = {}
    for key, tensor in vae.items():
        if match := _VAE_BLOCK_RE.fullmatch(key):
            groups = [g for g in match.groups() if g is not None]
            coder, side, block_s, part, layer_s, rest = groups
            block, layer = int(block_s), int(layer_s)
            where = f"{coder}.{side}.{block}.{part}.{layer}"
            if block >= (n_down if coder == "encoder" else n_up):
                raise ValueError(f"VAE key {key!r} is beyond the levels in the config")
            level = block if coder == "encoder" else n_up - 1 - block
            stage = "down" if coder == "encoder" else "up"
            if part == "resnets":
                ldm_key = f"{coder}.{stage}.{level}.block.{layer}.{_child(rest, _VAE_RESNET, where)}"
            elif layer == 0 and rest.startswith("conv."):
                sampler = "downsample" if coder == "encoder" else "upsample"
                ldm_key = f"{coder}.{stage}.{level}.{sampler}.{rest}"
            else:
                raise ValueError(f"VAE key {key!r} has no LDM equivalent")
        elif match := _VAE_MID_RE.fullmatch(key):
            coder, part, layer_s, rest = match.groups()
            layer = int(layer_s)
            where = f"{coder}.mid_block.{part}.{layer}"
            if part == "resnets":
                ldm_key = f"{coder}.mid.block_{layer + 1}.{_child(rest, _VAE_RESNET, where)}"
            elif layer == 0:
                ldm_rest, tensor = _vae_attention(rest, tensor, where)
                ldm_key = f"{coder}.mid.attn_1.{ldm_rest}"
            else:
                raise ValueError(f"VAE key {key!r} has no LDM equivalent (LDM has one mid attention)")
        else:
            module, _, param = key.rpartition(".")
            if module not in _VAE_TOP_LEVEL:
                raise ValueError(f"VAE key {key!r} has no LDM equivalent")
            ldm_key = f"{_VAE_TOP_LEVEL[module]}.{param}"
        _put(out, VAE_PREFIX + ldm_key, tensor, key)
    return out


# ---------------------------------------------------------------------------------------------- CLIP

_CLIP_TEXT_MODEL_CHILDREN = ("embeddings.", "encoder.", "final_layer_norm.")


def clip_to_ldm(text_encoder: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Prefix a transformers `CLIPTextModel` state dict with ``cond_stage_model.transformer.text_model.``.

    Keys may come with or without the ``text_model.`` prefix (transformers 5 drops it); the
    ``position_ids`` buffer, if present, is skipped.
    """
    out: dict[str, Tensor] = {}
    for key, tensor in text_encoder.items():
        body = key.removeprefix("text_model.")
        if body == "embeddings.position_ids":
            continue
        if not body.startswith(_CLIP_TEXT_MODEL_CHILDREN):
            raise ValueError(f"text encoder key {key!r} is not part of a CLIP text model")
        _put(out, f"{CLIP_PREFIX}text_model.{body}", tensor, key)
    return out


# ------------------------------------------------------------------------------------------ Pipeline


def diffusers_to_ldm_state_dict(
    unet: dict[str, Tensor],
    unet_config: Mapping,
    vae: dict[str, Tensor],
    vae_config: Mapping,
    text_encoder: dict[str, Tensor],
) -> dict[str, Tensor]:
    """Merge a diffusers SD 1.x pipeline's UNet, VAE and CLIP text encoder into one LDM-layout state dict.

    The result loads with diffusers' single-file loaders (`convert_ldm_unet_checkpoint`,
    `convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint`) and with CompVis/A1111-style tools.
    """
    merged: dict[str, Tensor] = {}
    for part in (unet_to_ldm(unet, unet_config), vae_to_ldm(vae, vae_config), clip_to_ldm(text_encoder)):
        merged.update(part)  # the three prefixes are disjoint
    return merged


# ------------------------------------------------------------------------------------------- Helpers


def _require(config: Mapping, name: str, what: str) -> Sequence[str]:
    if name not in config:
        raise ValueError(f"{what} config has no {name!r}")
    return config[name]


def _put(out: dict[str, Tensor], ldm_key: str, tensor: Tensor, source: str) -> None:
    if ldm_key in out:
        raise ValueError(f"{source!r} maps to {ldm_key!r}, which another key already produced")
    out[ldm_key] = tensor

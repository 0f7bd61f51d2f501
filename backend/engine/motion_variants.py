"""Variants of the motion module's temporal layer, applied to an inflated `UNetMotionModel`.

- `transformer`: the paper's (diffusers' `AnimateDiffTransformer3D`): each pixel attends over its own frames.
- `hybrid` (EasyAnimate): the same weights and keys, but every odd motion module (index 1, 3, 5 ... in the
  UNet's order: down blocks, then the mid block, then the up blocks) attends *globally*, over all frames x all
  pixels of a sample; the sinusoidal frame position is added per frame, tiled over the pixels.
- `conv1d` (the paper's ablation): each motion module is a residual 1D convolution over frames per pixel
  (GroupNorm, Conv1d k=3, SiLU, Conv1d k=3), the last convolution zero-initialised like the paper's output
  projection, so the untrained module is the identity. Its tensors are its own (`conv_in`, `conv_out`); the
  original AnimateDiff layout has no such form, so it is saved in diffusers' names only.

The variant is written into the safetensors metadata (`motion_module_variant`) and read back by the engine's
motion loader: a hybrid module loads like any module and is switched after inflation.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import UNetMotionModel
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn

from models.motion_config import MOTION_VARIANTS

VARIANTS = MOTION_VARIANTS
METADATA_KEY = "motion_module_variant"


class FramePositions(nn.Module):
    """A block's sinusoidal table (same buffer name, `pe`) added per frame to frame-major tokens."""

    def __init__(self, pe: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("pe", pe)
        self.frames = 1  # set by the owning transformer before each call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, tokens, c = x.shape
        x = x.view(b, self.frames, tokens // self.frames, c) + self.pe[:, :self.frames, None, :].to(x.dtype)
        return x.view(b, tokens, c)


class GlobalTemporalTransformer(AnimateDiffTransformer3D):
    """EasyAnimate's global layer: a temporal transformer whose tokens are every (frame, pixel) of a sample."""

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                timestep: torch.LongTensor | None = None, class_labels: torch.LongTensor | None = None,
                num_frames: int = 1, cross_attention_kwargs: dict | None = None) -> torch.Tensor:
        batch_frames, channels, height, width = hidden_states.shape
        batch = batch_frames // num_frames
        residual = hidden_states
        x = hidden_states.reshape(batch, num_frames, channels, height, width).permute(0, 2, 1, 3, 4)
        x = self.norm(x)
        x = x.permute(0, 2, 3, 4, 1).reshape(batch, num_frames * height * width, channels)  # frame-major
        x = self.proj_in(x)
        for block in self.transformer_blocks:
            if isinstance(block.pos_embed, FramePositions):
                block.pos_embed.frames = num_frames
            x = block(x, encoder_hidden_states=encoder_hidden_states, timestep=timestep,
                      cross_attention_kwargs=cross_attention_kwargs, class_labels=class_labels)
        x = self.proj_out(x)
        x = x.reshape(batch, num_frames, height, width, channels).permute(0, 1, 4, 2, 3)
        return x.reshape(batch_frames, channels, height, width) + residual


class TemporalConv1D(nn.Module):
    """The ablation's motion module: a residual temporal convolution, zero at the start."""

    def __init__(self, channels: int, norm_groups: int, kernel: int = 3) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(norm_groups, channels, eps=1e-6)
        self.conv_in = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.act = nn.SiLU()
        self.conv_out = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                timestep: torch.LongTensor | None = None, class_labels: torch.LongTensor | None = None,
                num_frames: int = 1, cross_attention_kwargs: dict | None = None) -> torch.Tensor:
        batch_frames, channels, height, width = hidden_states.shape
        batch = batch_frames // num_frames
        x = hidden_states.reshape(batch, num_frames, channels, height, width).permute(0, 2, 1, 3, 4)
        x = self.norm(x).permute(0, 3, 4, 1, 2).reshape(batch * height * width, channels, num_frames)
        x = self.conv_out(self.act(self.conv_in(x)))
        x = x.reshape(batch, height, width, channels, num_frames).permute(0, 4, 3, 1, 2)
        return x.reshape(batch_frames, channels, height, width) + hidden_states


def motion_module_lists(unet: UNetMotionModel) -> list[nn.ModuleList]:
    """The UNet's `motion_modules` lists in order: down blocks, mid block (if any), up blocks."""
    blocks = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    return [b.motion_modules for b in blocks if b is not None and hasattr(b, "motion_modules")]


def apply_motion_variant(unet: UNetMotionModel, variant: str) -> int:
    """Switch `unet`'s motion modules to `variant` in place; returns how many modules changed."""
    if variant not in VARIANTS:
        raise ValueError(f"motion_variant: {variant!r} is not accepted; expected one of {', '.join(VARIANTS)}")
    changed = 0
    index = 0
    for modules in motion_module_lists(unet):
        for i, module in enumerate(modules):
            if variant == "hybrid" and index % 2 == 1 and type(module) is AnimateDiffTransformer3D:
                # Same parameters, other token grouping: switching the class keeps every weight and key.
                module.__class__ = GlobalTemporalTransformer
                for block in module.transformer_blocks:
                    if block.pos_embed is not None:  # a module without positions has none to tile
                        block.pos_embed = FramePositions(block.pos_embed.pe)
                changed += 1
            elif variant == "conv1d" and not isinstance(module, TemporalConv1D):
                ref = next(module.parameters())
                modules[i] = TemporalConv1D(module.proj_in.in_features, module.norm.num_groups).to(
                    ref.device, ref.dtype)
                changed += 1
            index += 1
    return changed


def variant_of(unet: UNetMotionModel) -> str:
    modules = [m for ml in motion_module_lists(unet) for m in ml]
    if any(isinstance(m, TemporalConv1D) for m in modules):
        return "conv1d"
    return "hybrid" if any(isinstance(m, GlobalTemporalTransformer) for m in modules) else "transformer"


def file_metadata(variant: str, adapter_config: dict) -> dict[str, str]:
    """safetensors metadata naming the variant and the adapter config (conv1d files are rebuilt from it)."""
    return {METADATA_KEY: variant, "motion_adapter_config": json.dumps(adapter_config, default=list)}


def read_variant(path: Path) -> str:
    """The variant a motion-module file declares ("transformer" when it says nothing: every official file)."""
    if path.is_dir():
        marker = path / "variant.json"
        return json.loads(marker.read_text())[METADATA_KEY] if marker.is_file() else "transformer"
    if path.suffix.lower() != ".safetensors":
        return "transformer"
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError):
        return "transformer"  # the loader reads the file next and reports what is wrong with it, as it names it
    variant = metadata.get(METADATA_KEY, "transformer")
    return variant if variant in VARIANTS else "transformer"


def load_conv1d_unet(unet2d: torch.nn.Module, path: Path) -> UNetMotionModel:
    """`unet2d` inflated with the conv1d ablation module saved at `path` (its tensors loaded exactly)."""
    from diffusers import MotionAdapter
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        metadata = f.metadata() or {}
    if metadata.get(METADATA_KEY) != "conv1d":
        raise ValueError(f"{path} is not a conv1d motion module (metadata {METADATA_KEY}: "
                         f"{metadata.get(METADATA_KEY)!r})")
    adapter = MotionAdapter.from_config(json.loads(metadata["motion_adapter_config"]))
    unet = UNetMotionModel.from_unet2d(unet2d, adapter, load_weights=True)
    apply_motion_variant(unet, "conv1d")
    state = load_file(str(path))
    expected = {k for k in unet.state_dict() if ".motion_modules." in k}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ValueError(f"{path}: conv1d tensors do not fit this base (missing {missing[:2]}, extra {extra[:2]})")
    unet.load_state_dict(state, strict=False)
    return unet.eval()

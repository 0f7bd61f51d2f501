"""SparseCtrl (Guo et al. 2023): keyframe conditioning through a motion-aware ControlNet, loaded offline.

The official v3 files (`v3_sd15_sparsectrl_rgb.ckpt`, `..._scribble.ckpt`) are diffusers-named
ControlNets whose motion modules use the original AnimateDiff names. The config is derived from the
tensors (conditioning input, embedding widths, position-encoding length) and the base UNet it must
match (levels, widths, attention), and the keys must match exactly: a mismatch is an error, never a
random weight. RGB files condition on the keyframes' VAE latents, scribble files on their pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import AnimateDiffPipeline, SparseControlNetModel, UNet2DConditionModel

from backend.engine.exact_load import load_exactly
from backend.engine.reference_latents import encode_images, load_reference_image
from models.checkpoint_reader import load_state_dict
from models.detect import SPARSECTRL_EMBEDDING, sparsectrl_variant
from models.errors import WrongModelKindError
from models.motion_config import original_to_diffusers


@dataclass(frozen=True)
class SparseCtrlInfo:
    kind: str  # "rgb" (conditions on latents) or "scribble" (on pixels)
    config: dict


def sparsectrl_config(shapes: dict[str, tuple[int, ...]], unet_config: dict, field: str = "sparsectrl"
                      ) -> SparseCtrlInfo:
    """The `SparseControlNetModel` config a state dict (diffusers names) implies on top of its base UNet's."""
    kind = sparsectrl_variant(shapes)
    if kind is None:
        raise WrongModelKindError(f"{field}: not a SparseCtrl model (no controlnet_cond_embedding weights)",
                                  field=field)
    conditioning_in = shapes[SPARSECTRL_EMBEDDING[kind]][1]
    embedding_widths = None
    if kind == "scribble":
        blocks = sorted(int(m.group(1)) for k in shapes
                        if (m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.weight$", k)))
        embedding_widths = (shapes[SPARSECTRL_EMBEDDING[kind]][0],
                            *(shapes[f"controlnet_cond_embedding.blocks.{i}.weight"][0] for i in blocks if i % 2 == 1))
    temporal_layers = len({m.group(1) for k in shapes
                           if (m := re.match(r"down_blocks\.0\.motion_modules\.0\.transformer_blocks\.(\d+)\.", k))})
    down_types = tuple("CrossAttnDownBlockMotion" if "CrossAttn" in t else "DownBlockMotion"
                       for t in unet_config["down_block_types"])
    config = {
        "in_channels": unet_config["in_channels"],
        "conditioning_channels": conditioning_in - 1,  # the official files concatenate a mask channel
        "concat_conditioning_mask": True,
        "use_simplified_condition_embedding": kind == "rgb",
        "conditioning_embedding_out_channels": embedding_widths,
        "down_block_types": down_types,
        "block_out_channels": tuple(unet_config["block_out_channels"]),
        "layers_per_block": unet_config["layers_per_block"],
        "norm_num_groups": unet_config["norm_num_groups"],
        "cross_attention_dim": unet_config["cross_attention_dim"],
        # The inflated UNet stores SD's (misnamed) `attention_head_dim` as its real head count.
        "attention_head_dim": unet_config.get("num_attention_heads") or unet_config.get("attention_head_dim"),
        "num_attention_heads": unet_config.get("num_attention_heads") or unet_config.get("attention_head_dim"),
        "use_linear_projection": unet_config.get("use_linear_projection", False),
        "temporal_transformer_layers_per_block": max(1, temporal_layers),
    }
    return SparseCtrlInfo(kind, config)


def load_sparsectrl(path: Path, unet: UNet2DConditionModel, dtype: torch.dtype, field: str = "sparsectrl"
                    ) -> tuple[SparseControlNetModel, str]:
    """The model and its kind ("rgb" or "scribble"), from an original-layout or diffusers-layout file."""
    state = load_state_dict(path)
    pe_lengths = {v.shape[1] for k, v in state.items() if k.endswith("pos_encoder.pe")}
    if any(".temporal_transformer." in k for k in state):
        state = original_to_diffusers(state)
    info = sparsectrl_config({k: tuple(v.shape) for k, v in state.items()}, dict(unet.config), field)
    config = {**info.config, "motion_max_seq_length": max(pe_lengths, default=32)}
    with init_empty_weights(include_buffers=False):
        model = SparseControlNetModel(**config)
    load_exactly(model, state, path=path, field=field, what="this base model (SparseCtrl files are made for SD1.5)")
    return model.to(dtype).eval(), info.kind


@dataclass
class SparseCondition:
    """What the ControlNet sees for every frame: the keyframes' encoding (zeros elsewhere) and a 0/1 mask."""

    cond: torch.Tensor  # (1, C, F, h, w)
    mask: torch.Tensor  # (1, 1, F, h, w)


def sparse_condition(pipe: AnimateDiffPipeline, kind: str, frames_and_files: list[tuple[int, Path]], width: int,
                     height: int, frames: int, device: torch.device, dtype: torch.dtype) -> SparseCondition:
    images = [load_reference_image(path, width, height) for _, path in frames_and_files]
    if kind == "rgb":
        encoded = encode_images(pipe, images)  # (n, 4, h, w) latents
    else:
        encoded = pipe.video_processor.preprocess(images, height=height, width=width).add(1).div(2)  # [0, 1] pixels
    n, channels, h, w = encoded.shape
    cond = torch.zeros(1, channels, frames, h, w, device=device, dtype=dtype)
    mask = torch.zeros(1, 1, frames, h, w, device=device, dtype=dtype)
    for i, (index, _) in enumerate(frames_and_files):
        cond[0, :, index] = encoded[i].to(device, dtype)
        mask[0, :, index] = 1
    return SparseCondition(cond, mask)


def control_hook(model: SparseControlNetModel, condition: SparseCondition, scale: float):
    """The sampler's per-window hook: the ControlNet's residuals for exactly the window's frames."""

    def hook(window: torch.Tensor, model_input: torch.Tensor, t: torch.Tensor, text: torch.Tensor) -> dict:
        down, mid = model(model_input, t, encoder_hidden_states=text, controlnet_cond=condition.cond[:, :, window],
                          conditioning_mask=condition.mask[:, :, window], conditioning_scale=scale,
                          return_dict=False)
        return {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}

    return hook

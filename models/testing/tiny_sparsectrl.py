"""Tiny SparseCtrl models (RGB and scribble) matching the tiny base, in the official and diffusers layouts."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import SparseControlNetModel

from models.motion_config import diffusers_to_original
from models.testing.files import save_state
from models.testing.tiny_base import TINY_UNET


def build_tiny_sparsectrl(kind: str = "rgb", seed: int = 0, widths: tuple[int, int] = (32, 64)
                          ) -> SparseControlNetModel:
    """`kind` "rgb" conditions on latents (one conv), "scribble" on pixels (a conv tower down to latent size).

    The zero-initialised outputs of a fresh ControlNet are filled with small random values, so that the
    model has a measurable effect (a trained one does).
    """
    torch.manual_seed(seed)
    rgb = kind == "rgb"
    model = SparseControlNetModel(
        in_channels=4, conditioning_channels=4 if rgb else 3, block_out_channels=widths,
        down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
        layers_per_block=TINY_UNET["layers_per_block"],
        norm_num_groups=32, cross_attention_dim=TINY_UNET["cross_attention_dim"],
        attention_head_dim=TINY_UNET["attention_head_dim"], use_simplified_condition_embedding=rgb,
        conditioning_embedding_out_channels=None if rgb else (16, 16, 32, 32), motion_max_seq_length=32,
    )
    with torch.no_grad():
        for param in model.parameters():
            if not param.any():
                param.normal_(0.0, 0.05)
    return model.eval()


def save_sparsectrl(model: SparseControlNetModel, path: Path, layout: str = "original") -> Path:
    """`original`: as the official v3 files (diffusers names, motion modules in AnimateDiff's); `diffusers`."""
    state = model.state_dict()
    if layout == "original":
        motion = {k: v for k, v in state.items() if ".motion_modules." in k}
        state = {**{k: v for k, v in state.items() if k not in motion},
                 **diffusers_to_original(motion, model.config.motion_max_seq_length)}
    return save_state(state, path)

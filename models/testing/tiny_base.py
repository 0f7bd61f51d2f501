"""A tiny SD1.5-shaped base (UNet, VAE, CLIP text encoder with the real CLIP tokenizer), in all formats."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from models.base_config import SD15_CONFIG_DIR
from models.ldm_layout import diffusers_to_ldm_state_dict
from models.testing.files import save_state

# SD1.5's structure (two resnets per level, attention heads 8, cross-attention into CLIP) at toy widths.
TINY_UNET = dict(
    block_out_channels=(32, 64), layers_per_block=2, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32, attention_head_dim=8,
    norm_num_groups=32, sample_size=8,
)
# Four levels: the 8x down-sampling of SD's VAE, so latents have SD's proportions.
TINY_VAE = dict(
    block_out_channels=(32, 32, 64, 64), down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=1, norm_num_groups=32,
    sample_size=64, scaling_factor=0.18215,
)
# One head: the head count a single-file loader infers for encoders narrower than 64.
TINY_CLIP = dict(hidden_size=32, intermediate_size=37, num_attention_heads=1, num_hidden_layers=2,
                 vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu")


@dataclass
class TinyBase:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer


def build_tiny_base(seed: int = 0) -> TinyBase:
    torch.manual_seed(seed)
    return TinyBase(
        unet=UNet2DConditionModel(**TINY_UNET).eval(),
        vae=AutoencoderKL(**TINY_VAE).eval(),
        text_encoder=CLIPTextModel(CLIPTextConfig(**TINY_CLIP)).eval(),
        tokenizer=CLIPTokenizer.from_pretrained(SD15_CONFIG_DIR / "tokenizer"),
    )


def save_diffusers_folder(base: TinyBase, folder: Path) -> Path:
    """A diffusers pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)."""
    folder.mkdir(parents=True, exist_ok=True)
    base.unet.save_pretrained(folder / "unet")
    base.vae.save_pretrained(folder / "vae")
    base.text_encoder.save_pretrained(folder / "text_encoder")
    base.tokenizer.save_pretrained(folder / "tokenizer")
    shutil.copytree(SD15_CONFIG_DIR / "scheduler", folder / "scheduler", dirs_exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps(json.loads((SD15_CONFIG_DIR / "model_index.json").read_text())))
    return folder


def ldm_state_dict(base: TinyBase) -> dict[str, torch.Tensor]:
    return diffusers_to_ldm_state_dict(
        base.unet.state_dict(), base.unet.config, base.vae.state_dict(), base.vae.config, base.text_encoder.state_dict()
    )


def save_single_file(base: TinyBase, path: Path, *, fp16: bool = False, wrap: bool = False) -> Path:
    """A CivitAI-style single file in the LDM layout (`.safetensors` or `.ckpt`)."""
    return save_state(ldm_state_dict(base), path, fp16=fp16, wrap=wrap)

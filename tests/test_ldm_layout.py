"""Round trip: diffusers -> LDM layout (models.ldm_layout) -> diffusers (via diffusers' own converters)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from typing import Any

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
)
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel

from models.ldm_layout import (
    CLIP_PREFIX,
    UNET_PREFIX,
    VAE_PREFIX,
    clip_to_ldm,
    diffusers_to_ldm_state_dict,
    unet_to_ldm,
    vae_to_ldm,
)

UNET_BASE: dict[str, Any] = {
    "in_channels": 4,
    "out_channels": 4,
    "cross_attention_dim": 32,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
    "sample_size": 8,
}

UNET_ARCHS: dict[str, dict[str, Any]] = {
    "attn-first-level-lpb1": {
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    },
    "attn-first-level-lpb2": {
        "block_out_channels": (32, 64),
        "layers_per_block": 2,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    },
    "attn-everywhere-lpb2": {
        "block_out_channels": (32, 64),
        "layers_per_block": 2,
        "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    },
    "three-levels-attn-deep-lpb1": {
        "block_out_channels": (32, 32, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    },
    "single-level": {
        "block_out_channels": (32,),
        "layers_per_block": 2,
        "down_block_types": ("CrossAttnDownBlock2D",),
        "up_block_types": ("CrossAttnUpBlock2D",),
    },
    # SD 1.5's exact block layout (12 input / 12 output blocks) with tiny channels.
    "sd15-shape": {
        "block_out_channels": (32, 64, 96, 96),
        "layers_per_block": 2,
        "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    },
    # SD 2.x-style linear projections, deeper transformers, and a class embedding (SD upscaler style).
    "linear-proj-2-transformers-class-emb": {
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
        "use_linear_projection": True,
        "transformer_layers_per_block": 2,
        "num_class_embeds": 10,
    },
}

VAE_ARCHS: dict[str, dict[str, Any]] = {
    "one-level-lpb1": {"block_out_channels": (32,), "layers_per_block": 1},
    "two-levels-lpb1": {"block_out_channels": (32, 64), "layers_per_block": 1},
    "two-levels-lpb2": {"block_out_channels": (32, 64), "layers_per_block": 2},
    "three-levels-lpb2": {"block_out_channels": (32, 32, 64), "layers_per_block": 2},
}


def make_unet(arch: str) -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(**UNET_BASE, **UNET_ARCHS[arch]).eval()


def make_vae(arch: str) -> AutoencoderKL:
    torch.manual_seed(1)
    config = VAE_ARCHS[arch]
    levels = len(config["block_out_channels"])
    return AutoencoderKL(
        **config,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=16,
    ).eval()


@pytest.fixture(scope="module")
def clip() -> CLIPTextModel:
    torch.manual_seed(2)
    config = CLIPTextConfig(
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=1000,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
    )
    return CLIPTextModel(config).eval()


def assert_same_tensors(restored: dict[str, torch.Tensor], original: dict[str, torch.Tensor]) -> None:
    assert set(restored) == set(original)
    for key, tensor in original.items():
        assert restored[key].dtype == tensor.dtype, key
        assert torch.equal(restored[key], tensor), key


def clip_module_keys(
    model: CLIPTextModel, text_model_keys: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """diffusers returns ``text_model.*`` keys; transformers 5's CLIPTextModel may have no such prefix."""
    if any(k.startswith("text_model.") for k in model.state_dict()):
        return text_model_keys
    return {k.removeprefix("text_model."): v for k, v in text_model_keys.items()}


@pytest.mark.parametrize("unet_arch", list(UNET_ARCHS))
def test_unet_round_trip(unet_arch: str) -> None:
    unet = make_unet(unet_arch)
    original = unet.state_dict()
    ldm = unet_to_ldm(original, dict(unet.config))

    assert len(ldm) == len(original)
    assert all(k.startswith(UNET_PREFIX) for k in ldm)
    assert ldm[UNET_PREFIX + "input_blocks.0.0.weight"] is original["conv_in.weight"]
    for key in ("time_embed.0.weight", "time_embed.2.bias", "out.0.weight", "out.2.weight"):
        assert UNET_PREFIX + key in ldm
    assert UNET_PREFIX + "middle_block.1.transformer_blocks.0.attn2.to_k.weight" in ldm
    assert UNET_PREFIX + "middle_block.2.out_layers.3.weight" in ldm
    for marker in ("down_blocks", "up_blocks", "mid_block.", "resnets", "time_embedding", "conv_shortcut"):
        assert not any(marker in k for k in ldm), marker

    restored = convert_ldm_unet_checkpoint(ldm, dict(unet.config))
    assert_same_tensors(restored, original)
    fresh = UNet2DConditionModel.from_config(unet.config)
    fresh.load_state_dict(restored, strict=True)
    assert_same_tensors(fresh.state_dict(), original)


def test_unet_sd15_shape_keys() -> None:
    """Spot-check the keys that real SD 1.5 single-file checkpoints have."""
    unet = make_unet("sd15-shape")
    ldm = unet_to_ldm(unet.state_dict(), dict(unet.config))
    expected = [
        "input_blocks.1.0.in_layers.0.weight",
        "input_blocks.1.0.emb_layers.1.weight",
        "input_blocks.1.1.proj_in.weight",
        "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
        "input_blocks.2.1.transformer_blocks.0.ff.net.0.proj.weight",
        "input_blocks.3.0.op.weight",
        "input_blocks.4.0.skip_connection.weight",
        "input_blocks.6.0.op.bias",
        "input_blocks.9.0.op.weight",
        "input_blocks.10.0.out_layers.3.weight",
        "input_blocks.11.0.in_layers.2.weight",
        "middle_block.0.in_layers.0.weight",
        "middle_block.1.proj_out.weight",
        "middle_block.2.emb_layers.1.bias",
        "output_blocks.0.0.skip_connection.weight",
        "output_blocks.2.1.conv.weight",
        "output_blocks.3.1.transformer_blocks.0.norm3.weight",
        "output_blocks.5.2.conv.weight",
        "output_blocks.8.2.conv.bias",
        "output_blocks.11.1.proj_out.bias",
    ]
    missing = [k for k in expected if UNET_PREFIX + k not in ldm]
    assert not missing
    assert not any(".input_blocks.12." in k or ".output_blocks.12." in k for k in ldm)
    assert UNET_PREFIX + "output_blocks.11.2.conv.weight" not in ldm  # no upsampler at full resolution


@pytest.mark.parametrize("vae_arch", list(VAE_ARCHS))
def test_vae_round_trip(vae_arch: str) -> None:
    vae = make_vae(vae_arch)
    original = vae.state_dict()
    ldm = vae_to_ldm(original, dict(vae.config))

    assert len(ldm) == len(original)
    assert all(k.startswith(VAE_PREFIX) for k in ldm)
    for proj in ("q", "k", "v", "proj_out"):
        for coder in ("encoder", "decoder"):
            weight = ldm[f"{VAE_PREFIX}{coder}.mid.attn_1.{proj}.weight"]
            assert weight.ndim == 4
            assert weight.shape[2:] == (1, 1)
            assert ldm[f"{VAE_PREFIX}{coder}.mid.attn_1.{proj}.bias"].ndim == 1
    for key in (
        "encoder.down.0.block.0.conv1.weight",
        "encoder.mid.block_1.norm1.weight",
        "encoder.mid.block_2.conv2.bias",
        "encoder.mid.attn_1.norm.weight",
        "encoder.norm_out.weight",
        "decoder.up.0.block.0.conv1.weight",
        "decoder.norm_out.bias",
        "quant_conv.weight",
        "post_quant_conv.weight",
    ):
        assert VAE_PREFIX + key in ldm, key
    levels = len(vae.config.block_out_channels)
    if levels > 1:
        assert VAE_PREFIX + "encoder.down.0.downsample.conv.weight" in ldm
        assert VAE_PREFIX + f"decoder.up.{levels - 1}.upsample.conv.weight" in ldm
        assert VAE_PREFIX + "decoder.up.0.upsample.conv.weight" not in ldm
        # LDM numbers decoder levels like encoder levels (0 = full resolution, narrowest); diffusers numbers
        # up_blocks in execution order (0 = lowest resolution, widest).
        channels = vae.config.block_out_channels
        assert ldm[VAE_PREFIX + "decoder.up.0.block.0.conv1.weight"].shape[0] == channels[0]
        assert ldm[VAE_PREFIX + f"decoder.up.{levels - 1}.block.0.conv1.weight"].shape[0] == channels[-1]
    if vae.config.block_out_channels[0] != vae.config.block_out_channels[-1]:
        assert any(".nin_shortcut." in k for k in ldm)
    assert not any("down_blocks" in k or "up_blocks" in k or "to_q" in k for k in ldm)

    restored = convert_ldm_vae_checkpoint(ldm, dict(vae.config))
    assert_same_tensors(restored, original)
    fresh = AutoencoderKL.from_config(vae.config)
    fresh.load_state_dict(restored, strict=True)
    assert_same_tensors(fresh.state_dict(), original)


def test_clip_round_trip(clip: CLIPTextModel) -> None:
    original = clip.state_dict()
    ldm = clip_to_ldm(original)
    assert len(ldm) == len(original)
    assert CLIP_PREFIX + "text_model.embeddings.token_embedding.weight" in ldm
    assert CLIP_PREFIX + "text_model.encoder.layers.1.self_attn.q_proj.weight" in ldm
    assert CLIP_PREFIX + "text_model.final_layer_norm.bias" in ldm

    # Both key styles (with and without `text_model.`) and a stray position_ids buffer give the same result.
    prefixed = {f"text_model.{k.removeprefix('text_model.')}": v for k, v in original.items()}
    prefixed["text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)
    bare = {k.removeprefix("text_model."): v for k, v in original.items()}
    assert clip_to_ldm(prefixed) == ldm
    assert clip_to_ldm(bare) == ldm

    restored = clip_module_keys(clip, convert_ldm_clip_checkpoint(ldm))
    assert_same_tensors(restored, original)
    fresh = CLIPTextModel(clip.config)
    fresh.load_state_dict(restored, strict=True)
    assert_same_tensors(fresh.state_dict(), original)


@pytest.mark.parametrize(
    ("unet_arch", "vae_arch"),
    [
        ("attn-first-level-lpb1", "two-levels-lpb1"),
        ("attn-everywhere-lpb2", "three-levels-lpb2"),
        ("sd15-shape", "two-levels-lpb2"),
    ],
)
def test_pipeline_round_trip(unet_arch: str, vae_arch: str, clip: CLIPTextModel, tmp_path) -> None:
    unet, vae = make_unet(unet_arch), make_vae(vae_arch)
    unet_sd, vae_sd, clip_sd = unet.state_dict(), vae.state_dict(), clip.state_dict()
    ldm = diffusers_to_ldm_state_dict(unet_sd, unet.config, vae_sd, vae.config, clip_sd)

    assert len(ldm) == len(unet_sd) + len(vae_sd) + len(clip_sd)
    assert "model.diffusion_model.input_blocks.0.0.weight" in ldm
    assert ldm["first_stage_model.encoder.mid.attn_1.q.weight"].ndim == 4
    assert "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" in ldm
    assert not any(k.endswith("position_ids") for k in ldm)

    # It is a valid single-file checkpoint: safetensors accepts it and it reads back unchanged.
    path = tmp_path / "model.safetensors"
    save_file(ldm, str(path))
    ldm = load_file(str(path))

    assert_same_tensors(convert_ldm_unet_checkpoint(ldm, dict(unet.config)), unet_sd)
    assert_same_tensors(convert_ldm_vae_checkpoint(ldm, dict(vae.config)), vae_sd)
    assert_same_tensors(clip_module_keys(clip, convert_ldm_clip_checkpoint(ldm)), clip_sd)


def test_dtype_preserved() -> None:
    unet, vae = make_unet("attn-first-level-lpb1"), make_vae("one-level-lpb1")
    unet_sd = {k: v.half() for k, v in unet.state_dict().items()}
    vae_sd = {k: v.to(torch.bfloat16) for k, v in vae.state_dict().items()}
    assert {v.dtype for v in unet_to_ldm(unet_sd, unet.config).values()} == {torch.float16}
    assert {v.dtype for v in vae_to_ldm(vae_sd, vae.config).values()} == {torch.bfloat16}


def test_unknown_keys_and_layouts_are_refused() -> None:
    unet, vae = make_unet("attn-first-level-lpb1"), make_vae("one-level-lpb1")
    unet_sd, vae_sd = unet.state_dict(), vae.state_dict()
    config = dict(unet.config)

    with pytest.raises(ValueError, match="no LDM equivalent"):
        unet_to_ldm({**unet_sd, "encoder_hid_proj.weight": torch.zeros(1)}, config)
    with pytest.raises(ValueError, match="unexpected module"):
        unet_to_ldm({"down_blocks.0.resnets.0.nonsense.weight": torch.zeros(1)}, config)
    with pytest.raises(ValueError, match="layers_per_block"):
        unet_to_ldm({"down_blocks.0.resnets.1.conv1.weight": torch.zeros(1)}, config)
    with pytest.raises(ValueError, match="no LDM layout"):
        unet_to_ldm(unet_sd, {**config, "mid_block_type": "UNetMidBlock2D"})
    with pytest.raises(ValueError, match="no LDM layout"):
        unet_to_ldm(unet_sd, {**config, "down_block_types": ("CrossAttnDownBlockMotion", "DownBlock2D")})
    with pytest.raises(ValueError, match="no LDM equivalent"):
        vae_to_ldm({**vae_sd, "encoder.extra.weight": torch.zeros(1)}, dict(vae.config))
    with pytest.raises(ValueError, match="not part of a CLIP text model"):
        clip_to_ldm({"text_projection.weight": torch.zeros(1)})

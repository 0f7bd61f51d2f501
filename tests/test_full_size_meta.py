"""Full-size SD1.5 and the official v1/v2/v3 module layouts, built on `meta` (no memory, no weights)."""

from __future__ import annotations

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from models.base_config import infer_base_architecture, load_sd15_config
from models.ldm_layout import diffusers_to_ldm_state_dict
from models.motion_config import diffusers_to_original, motion_module_info


def test_full_size_sd15_single_file_architecture_is_inferred():
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(load_sd15_config("unet"))
        vae = AutoencoderKL.from_config(load_sd15_config("vae"))
        text = CLIPTextModel(CLIPTextConfig(**load_sd15_config("text_encoder")))
    ldm = diffusers_to_ldm_state_dict(unet.state_dict(), unet.config, vae.state_dict(), vae.config,
                                      text.state_dict())
    assert sum(v.numel() for k, v in ldm.items() if k.startswith("model.diffusion_model.")) == 859_520_964
    arch = infer_base_architecture({k: tuple(v.shape) for k, v in ldm.items()})
    assert arch.family == "sd15"
    for key in ("block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
                "cross_attention_dim"):
        want, got = unet.config[key], arch.unet[key]
        assert (list(got) == list(want)) if isinstance(want, (list, tuple)) else got == want, key
    assert arch.unet["block_out_channels"] == [320, 640, 1280, 1280]
    assert arch.unet["cross_attention_dim"] == 768 and arch.unet["layers_per_block"] == 2
    assert arch.vae["block_out_channels"] == [128, 256, 512, 512]
    assert arch.text_encoder["hidden_size"] == 768 and arch.text_encoder["num_attention_heads"] == 12
    assert arch.text_encoder["num_hidden_layers"] == 12


@pytest.mark.parametrize(
    "version,max_len,mid",
    [("v1", 24, False), ("v2", 32, True), ("v3", 32, False)],
)
def test_official_module_versions_are_detected(version, max_len, mid):
    with init_empty_weights():
        adapter = MotionAdapter(motion_max_seq_length=max_len, use_motion_mid_block=mid)
    original = diffusers_to_original(adapter.state_dict(), max_len)
    # Real key names of mm_sd_v15_v2.ckpt
    assert "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight" \
        in original
    assert "up_blocks.3.motion_modules.2.temporal_transformer.proj_out.weight" in original
    info = motion_module_info({k: tuple(v.shape) for k, v in original.items()})
    assert info.layout == "original" and info.version == version
    assert info.config["block_out_channels"] == (320, 640, 1280, 1280)
    assert info.config["motion_layers_per_block"] == 2
    assert info.config["motion_max_seq_length"] == max_len
    assert info.config["use_motion_mid_block"] is mid
    with init_empty_weights():
        rebuilt = MotionAdapter(**info.config)
    assert {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == {
        k: tuple(v.shape) for k, v in adapter.state_dict().items()
    }


def test_meta_tensors_stay_on_meta():
    with init_empty_weights():
        adapter = MotionAdapter()
    assert next(adapter.parameters()).device == torch.device("meta")

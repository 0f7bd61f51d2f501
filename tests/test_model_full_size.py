"""Full-size layouts of the official files, built on `meta` and written as real safetensors headers over sparse
data (GBs apparent, nothing on disk): version detection and the pre-flight check on what users really have."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, MotionAdapter, SparseControlNetModel, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from models.base_config import load_sd15_config
from models.detect import detect
from models.ldm_layout import diffusers_to_ldm_state_dict, unet_to_ldm, vae_to_ldm
from models.motion_config import diffusers_to_original
from models.preflight import AdapterRef, check_files
from models.testing.model_zoo import animatelcm_state, hotshot_state, write_header_only_safetensors
from models.testing.tiny_motion import domain_adapter_state, motion_lora_state

SDXL_UNET = dict(block_out_channels=(320, 640, 1280), layers_per_block=2,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048, attention_head_dim=(5, 10, 20),
                 use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
SD2_UNET = dict(cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True)


def _shapes(state: dict) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def _module(max_len: int, mid: bool, widths: tuple[int, ...] = (320, 640, 1280, 1280)) -> dict:
    with init_empty_weights():
        adapter = MotionAdapter(block_out_channels=widths, motion_max_seq_length=max_len, use_motion_mid_block=mid)
    return adapter, diffusers_to_original(adapter.state_dict(), max_len)


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("full")
    files: dict[str, Path] = {}

    def write(name: str, state: dict) -> None:
        files[name] = write_header_only_safetensors(_shapes(state), d / f"{name}.safetensors")

    v2_adapter, v2 = _module(32, True)
    _, v1 = _module(24, False)
    _, v3 = _module(32, False)
    _, sdxl = _module(32, False, (320, 640, 1280))
    for name, state in (("mm_sd_v15", v1), ("mm_sd_v15_v2", v2), ("v3_sd15_mm", v3), ("mm_sdxl_v10_beta", sdxl),
                        ("AnimateLCM_sd15_t2v", animatelcm_state(v3)), ("hsxl_temporal_layers", hotshot_state(sdxl))):
        write(name, state)
    write("v2_lora_ZoomIn", motion_lora_state(v2_adapter, rank=64))
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(load_sd15_config("unet"))
        vae = AutoencoderKL.from_config(load_sd15_config("vae"))
        text = CLIPTextModel(CLIPTextConfig(**load_sd15_config("text_encoder")))
        sd2_unet = UNet2DConditionModel.from_config({**load_sd15_config("unet"), **SD2_UNET})
        sdxl_unet = UNet2DConditionModel(**SDXL_UNET)
        rgb = SparseControlNetModel(conditioning_channels=4, use_simplified_condition_embedding=True)
        scribble = SparseControlNetModel(conditioning_channels=3, use_simplified_condition_embedding=False)
    write("v1-5-pruned-emaonly", diffusers_to_ldm_state_dict(unet.state_dict(), unet.config, vae.state_dict(),
                                                             vae.config, text.state_dict()))
    vae_ldm = vae_to_ldm(vae.state_dict(), vae.config)
    openclip_h = {f"cond_stage_model.model.transformer.resblocks.{i}.attn.in_proj_weight": torch.empty(3072, 1024)
                  for i in range(24)}
    write("v2-1_768-ema-pruned", {**unet_to_ldm(sd2_unet.state_dict(), sd2_unet.config), **vae_ldm, **openclip_h})
    conditioner = {"conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight":
                   torch.empty(49408, 768),
                   "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight": torch.empty(3840, 1280)}
    write("sd_xl_base_1.0", {**unet_to_ldm(sdxl_unet.state_dict(), sdxl_unet.config), **vae_ldm, **conditioner})
    write("v3_sd15_adapter", domain_adapter_state(unet, rank=128))
    write("v3_sd15_sparsectrl_rgb", rgb.state_dict())
    write("v3_sd15_sparsectrl_scribble", scribble.state_dict())
    sdxl_lora = {}
    for i in range(3):
        name = f"lora_unet_input_blocks_{4 + i}_1_transformer_blocks_0_attn2_to_k"
        sdxl_lora[f"{name}.lora_down.weight"] = torch.empty(4, 2048)
        sdxl_lora[f"{name}.lora_up.weight"] = torch.empty(640, 4)
    write("sdxl_style_lora", sdxl_lora)
    return files


EXPECTED = [
    ("mm_sd_v15", "motion-module", "v1", "sd15"),
    ("mm_sd_v15_v2", "motion-module", "v2", "sd15"),
    ("v3_sd15_mm", "motion-module", "v3", "sd15"),
    ("mm_sdxl_v10_beta", "motion-module", "sdxl", "sdxl"),
    ("AnimateLCM_sd15_t2v", "motion-module", "animatelcm", "sd15"),
    ("hsxl_temporal_layers", "motion-module", "hotshotxl", "sdxl"),
    ("v2_lora_ZoomIn", "motion-lora", "v2", "sd15"),
    ("v1-5-pruned-emaonly", "sd15-base", None, "sd15"),
    ("v2-1_768-ema-pruned", "sd2-base", None, "sd2"),
    ("sd_xl_base_1.0", "sdxl-base", None, "sdxl"),
    ("v3_sd15_adapter", "domain-adapter", "v3", "sd15"),
    ("v3_sd15_sparsectrl_rgb", "sparsectrl", "rgb", "sd15"),
    ("v3_sd15_sparsectrl_scribble", "sparsectrl", "scribble", "sd15"),
    ("sdxl_style_lora", "lora", None, "sdxl"),
]


@pytest.mark.parametrize(("name", "kind", "version", "family"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_official_layouts_are_recognised(official, name, kind, version, family):
    info = detect(official[name])
    assert (info.kind, info.version, info.base_family) == (kind, version, family), info.notes


def test_the_v2_module_config_is_the_one_diffusers_builds(official):
    config = detect(official["mm_sd_v15_v2"]).details["config"]
    assert config["block_out_channels"] == [320, 640, 1280, 1280] and config["motion_layers_per_block"] == 2
    assert config["motion_max_seq_length"] == 32 and config["use_motion_mid_block"] is True
    assert detect(official["mm_sd_v15"]).details["config"]["motion_max_seq_length"] == 24
    assert detect(official["v1-5-pruned-emaonly"]).details["unet"]["cross_attention_dim"] == 768


@pytest.mark.parametrize("name", ["mm_sd_v15", "mm_sd_v15_v2", "v3_sd15_mm", "mm_sdxl_v10_beta", "v2_lora_ZoomIn",
                                  "v3_sd15_adapter", "v3_sd15_sparsectrl_rgb"])
def test_catalog_sizes_are_what_the_architectures_weigh_in_fp32(official, name):
    """The official files are fp32: parameters x 4 bytes must be the size the catalog announces (within 1%)."""
    from models.catalog import find_official

    weight = detect(official[name]).details["parameters"] * 4
    assert weight == pytest.approx(find_official(name).approx_size_bytes, rel=0.01)


def test_the_official_mix_ups_are_caught_before_loading(official):
    base = official["v1-5-pruned-emaonly"]
    zoom = AdapterRef(official["v2_lora_ZoomIn"], "motion-lora", "camera[0]")
    assert check_files(base=base, motion_module=official["mm_sd_v15_v2"], adapters=[zoom]).ok
    on_v3 = check_files(base=base, motion_module=official["v3_sd15_mm"], adapters=[zoom])
    assert [e.field for e in on_v3.errors] == ["camera[0]"]
    assert "mid block" in on_v3.errors[0].message and "v3 without one" in on_v3.errors[0].message
    sdxl_module = check_files(base=base, motion_module=official["mm_sdxl_v10_beta"])
    assert sdxl_module.errors[0].code == "incompatible_models" and "SDXL motion module" in sdxl_module.errors[0].message
    sdxl_base = check_files(base=official["sd_xl_base_1.0"], motion_module=official["mm_sd_v15_v2"])
    assert sdxl_base.errors[0].field == "base" and "SDXL base" in sdxl_base.errors[0].message
    sd2_base = check_files(base=official["v2-1_768-ema-pruned"], motion_module=official["v3_sd15_mm"])
    assert "SD2 base" in sd2_base.errors[0].message
    adapter = AdapterRef(official["v3_sd15_adapter"], "domain-adapter", "domain_adapter", 0.8)
    assert check_files(base=base, motion_module=official["v3_sd15_mm"], adapters=[adapter]).ok
    on_v2 = check_files(base=base, motion_module=official["mm_sd_v15_v2"], adapters=[adapter])
    assert on_v2.ok and on_v2.warnings[0].code == "domain_adapter_version"
    sdxl_lora = check_files(base=base, adapters=[AdapterRef(official["sdxl_style_lora"], "lora", "loras[0]")])
    assert sdxl_lora.errors[0].field == "loras[0]" and "SDXL" in sdxl_lora.errors[0].message
    assert "2048" in sdxl_lora.errors[0].message and "768" in sdxl_lora.errors[0].message
    rgb = official["v3_sd15_sparsectrl_rgb"]
    assert check_files(base=base, motion_module=official["v3_sd15_mm"], sparsectrl=rgb).warnings == []
    on_v2_sparse = check_files(base=base, motion_module=official["mm_sd_v15_v2"], sparsectrl=rgb)
    assert on_v2_sparse.ok and on_v2_sparse.warnings[0].code == "sparsectrl_version"
    swapped = check_files(base=base, motion_module=rgb, sparsectrl=official["v3_sd15_mm"])
    assert [(e.code, e.field) for e in swapped.errors] == [("wrong_model_kind", "motion_module"),
                                                           ("wrong_model_kind", "sparsectrl")]
    assert "pass it as sparsectrl" in swapped.errors[0].message
    lcm = check_files(base=base, motion_module=official["AnimateLCM_sd15_t2v"], scheduler="ddim")
    assert lcm.ok and lcm.warnings[0].field == "scheduler"
    v1 = check_files(base=base, motion_module=official["mm_sd_v15"], frames=32)
    assert v1.errors[0].field == "frames" and "24 frames" in v1.errors[0].message

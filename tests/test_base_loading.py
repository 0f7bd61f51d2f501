"""Base models load from a diffusers folder and from single LDM files with identical weights, offline."""

from __future__ import annotations

import pytest
import torch

from backend.engine.base_loader import load_base
from models.base_config import infer_base_architecture
from models.errors import IncompatibleModelsError, WrongModelKindError
from models.testing.files import save_state
from models.testing.tiny_base import ldm_state_dict


def _assert_same_weights(loaded, original, *, fp16: bool = False) -> None:
    got, want = loaded.state_dict(), original.state_dict()
    want = {k: v for k, v in want.items() if not k.endswith("position_ids")}
    got = {k: v for k, v in got.items() if not k.endswith("position_ids")}
    assert got.keys() == want.keys()
    for k, v in want.items():
        expected = v.half().float() if fp16 else v
        assert torch.equal(got[k].float(), expected.float()), k


@pytest.mark.parametrize("which", ["base_folder", "base_safetensors", "base_ckpt_wrapped"])
def test_every_format_gives_identical_weights(tiny_files, tiny_models, which):
    base, _ = tiny_models
    loaded = load_base(getattr(tiny_files, which), torch.float32)
    for name in ("unet", "vae", "text_encoder"):
        _assert_same_weights(getattr(loaded, name), getattr(base, name))
    assert loaded.tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_fp16_file_loads_as_the_rounded_weights(tiny_files, tiny_models):
    base, _ = tiny_models
    loaded = load_base(tiny_files.base_fp16, torch.float32)
    assert loaded.unet.dtype == torch.float32
    _assert_same_weights(loaded.unet, base.unet, fp16=True)


def test_architecture_is_read_from_the_tensors(tiny_models):
    base, _ = tiny_models
    shapes = {k: tuple(v.shape) for k, v in ldm_state_dict(base).items()}
    arch = infer_base_architecture(shapes)
    assert arch.family == "sd15"
    assert arch.unet["block_out_channels"] == [32, 64]
    assert arch.unet["layers_per_block"] == 2
    assert arch.unet["down_block_types"] == ["CrossAttnDownBlock2D", "DownBlock2D"]
    assert arch.unet["up_block_types"] == ["UpBlock2D", "CrossAttnUpBlock2D"]
    assert arch.unet["cross_attention_dim"] == 32
    assert arch.vae["block_out_channels"] == [32, 32, 64, 64]
    assert arch.text_encoder["hidden_size"] == 32 and arch.text_encoder["num_hidden_layers"] == 2


def test_sdxl_file_is_recognised_and_refused(tmp_path, tiny_models):
    base, _ = tiny_models
    state = ldm_state_dict(base)
    state["conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"] = torch.zeros(3, 2)
    path = save_state(state, tmp_path / "sdxl.safetensors")
    with pytest.raises(IncompatibleModelsError) as info:
        load_base(path, torch.float32)
    assert "SDXL" in info.value.message and info.value.field == "base"


def test_unet_only_file_is_explained(tmp_path, tiny_models):
    base, _ = tiny_models
    state = {k: v for k, v in ldm_state_dict(base).items() if k.startswith("model.diffusion_model.")}
    path = save_state(state, tmp_path / "unet-only.safetensors")
    with pytest.raises(WrongModelKindError) as info:
        load_base(path, torch.float32)
    assert "no VAE and no text encoder" in info.value.message


def test_motion_module_given_as_base_is_explained(tiny_files):
    with pytest.raises(WrongModelKindError) as info:
        load_base(tiny_files.mm_original_ckpt, torch.float32)
    assert "not a Stable Diffusion checkpoint" in info.value.message

"""Motion modules load from every layout with identical weights; configs come from the tensors."""

from __future__ import annotations

import pytest
import torch

from backend.engine.motion_loader import check_adapter_fits_base, load_motion_module
from models.checkpoint_reader import load_state_dict
from models.errors import IncompatibleModelsError, WrongModelKindError
from models.testing.files import save_state


@pytest.mark.parametrize("which", ["mm_original_ckpt", "mm_diffusers_file", "mm_folder"])
def test_every_layout_gives_identical_weights(tiny_files, tiny_models, which):
    _, adapter = tiny_models
    loaded = load_motion_module(getattr(tiny_files, which), torch.float32)
    want, got = adapter.state_dict(), loaded.adapter.state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert loaded.info.config["motion_max_seq_length"] == 32
    assert loaded.info.config["use_motion_mid_block"] is True


def test_fp16_repack_loads(tiny_files, tiny_models):
    _, adapter = tiny_models
    loaded = load_motion_module(tiny_files.mm_original_fp16, torch.float32)
    key = "down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q.weight"
    assert torch.equal(loaded.adapter.state_dict()[key], adapter.state_dict()[key].half().float())


def test_original_position_table_is_what_diffusers_recomputes(tiny_files, tiny_models):
    """Dropping `pos_encoder.pe` on conversion is lossless: the file's table equals diffusers' buffer."""
    _, adapter = tiny_models
    original = load_state_dict(tiny_files.mm_original_ckpt)
    key = "down_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe"
    diffusers_pe = adapter.state_dict()["down_blocks.1.motion_modules.0.transformer_blocks.0.pos_embed.pe"]
    assert torch.allclose(original[key], diffusers_pe, atol=1e-6)


def test_v3_like_module_has_no_mid_block(tiny_files):
    info = load_motion_module(tiny_files.mm_v3_like, torch.float32).info
    assert info.config["use_motion_mid_block"] is False


def test_missing_tensor_is_an_error_not_a_random_weight(tmp_path, tiny_files):
    state = load_state_dict(tiny_files.mm_original_ckpt)
    victim = next(k for k in state if k.endswith("attention_blocks.0.to_k.weight"))
    del state[victim]
    path = save_state(state, tmp_path / "broken_mm.ckpt")
    with pytest.raises(IncompatibleModelsError) as info:
        load_motion_module(path, torch.float32)
    assert "1 missing" in info.value.message


def test_a_lora_given_as_motion_module_is_explained(tiny_files):
    with pytest.raises(WrongModelKindError) as info:
        load_motion_module(tiny_files.motion_lora_original, torch.float32)
    assert "LoRA" in info.value.message


def test_module_for_another_base_width_is_incompatible(tiny_files, tiny_models):
    from diffusers import UNet2DConditionModel

    base, _ = tiny_models
    wider = UNet2DConditionModel.from_config({**base.unet.config, "block_out_channels": (64, 64)})
    info = load_motion_module(tiny_files.mm_original_ckpt, torch.float32).info
    check_adapter_fits_base(info, base.unet)  # the matching base passes
    with pytest.raises(IncompatibleModelsError) as err:
        check_adapter_fits_base(info, wider)
    assert "(32, 64)" in err.value.message and "(64, 64)" in err.value.message

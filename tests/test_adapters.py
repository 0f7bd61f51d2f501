"""MotionLoRAs, the domain adapter and image LoRAs: active, exact, and refused when they don't fit."""

from __future__ import annotations

import pytest
import torch

from backend.engine.adapters import AdapterSpec
from backend.engine.assembly import assemble
from backend.engine.device import choose_device
from models.checkpoint_reader import load_state_dict
from models.errors import IncompatibleModelsError, WrongModelKindError

LAYER = "down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q"
ORIGINAL = ("down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0"
            ".processor.to_q_lora")


@pytest.fixture(scope="module")
def assembled(tiny_files):
    return assemble(tiny_files.base_safetensors, tiny_files.mm_original_ckpt, choose_device("fp32", "cpu"))


def _layer(pipe, name: str = LAYER):
    return pipe.unet.get_submodule(name)


def _delta(layer, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(x) - layer.base_layer(x)


def _lora_delta(path, x: torch.Tensor, weight: float) -> torch.Tensor:
    sd = load_state_dict(path)
    down, up = sd[f"{ORIGINAL}.down.weight"], sd[f"{ORIGINAL}.up.weight"]
    return weight * (x @ down.T @ up.T)


def test_original_layout_motion_lora_gives_the_exact_weighted_delta(assembled, tiny_files):
    spec = AdapterSpec(tiny_files.motion_lora_original, "motion-lora", 0.8, "motion_loras[0]")
    assembled.adapters.activate([spec])
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(0))
    got = _delta(_layer(assembled.pipe), x)
    assert got.abs().max() > 1e-4  # the adapter is active, not silently dropped
    torch.testing.assert_close(got, _lora_delta(tiny_files.motion_lora_original, x, 0.8), rtol=1e-4, atol=1e-6)


def test_two_motion_loras_mix_with_their_own_strengths(assembled, tiny_files):
    specs = [AdapterSpec(tiny_files.motion_lora_original, "motion-lora", 0.8, "motion_loras[0]"),
             AdapterSpec(tiny_files.motion_lora_2, "motion-lora", 0.3, "motion_loras[1]")]
    assembled.adapters.activate(specs)
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(1))
    want = _lora_delta(tiny_files.motion_lora_original, x, 0.8) + _lora_delta(tiny_files.motion_lora_2, x, 0.3)
    torch.testing.assert_close(_delta(_layer(assembled.pipe), x), want, rtol=1e-4, atol=1e-6)


def test_diffusers_layout_equals_original_layout(assembled, tiny_files):
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(2))
    assembled.adapters.activate([AdapterSpec(tiny_files.motion_lora_diffusers, "motion-lora", 0.5, "m")])
    got = _delta(_layer(assembled.pipe), x)
    torch.testing.assert_close(got, _lora_delta(tiny_files.motion_lora_original, x, 0.5), rtol=1e-4, atol=1e-6)


def test_deactivating_removes_the_delta_and_keeps_the_adapter_for_later(assembled, tiny_files):
    spec = AdapterSpec(tiny_files.motion_lora_original, "motion-lora", 1.0, "m")
    assembled.adapters.activate([spec])
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(3))
    layer = _layer(assembled.pipe)
    plain = layer.base_layer(x)
    assembled.adapters.activate([])
    torch.testing.assert_close(layer(x), plain, rtol=0, atol=0)  # loaded, but doing nothing
    assert spec.name in assembled.adapters.loaded
    assembled.adapters.activate([AdapterSpec(tiny_files.motion_lora_2, "motion-lora", 0.3, "m")])
    torch.testing.assert_close(_delta(layer, x), _lora_delta(tiny_files.motion_lora_2, x, 0.3), rtol=1e-4, atol=1e-6)


def test_only_the_most_recent_adapters_stay_loaded(assembled, tiny_files, monkeypatch):
    monkeypatch.setattr(assembled.adapters, "KEEP_LOADED", 1)
    first = AdapterSpec(tiny_files.motion_lora_original, "motion-lora", 1.0, "m")
    second = AdapterSpec(tiny_files.motion_lora_2, "motion-lora", 1.0, "m")
    assembled.adapters.activate([first])
    assembled.adapters.activate([second])
    assert list(assembled.adapters.loaded) == [second.name]
    assert first.name not in assembled.pipe.get_list_adapters().get("unet", [])


def test_plain_diffusers_loads_the_original_layout_as_nothing(assembled, tiny_files):
    """The trap this project guards against: without conversion nothing is wrapped, and no error."""
    raw = {"unet." + k: v for k, v in load_state_dict(tiny_files.motion_lora_original).items()}
    try:
        assembled.pipe.load_lora_weights(raw, adapter_name="raw")
        wrapped = sum(1 for _, m in assembled.pipe.unet.named_modules() if "raw" in getattr(m, "lora_A", {}))
    except Exception:  # noqa: BLE001 - some versions raise instead; either way it is not active
        wrapped = 0
    assert wrapped == 0
    if "raw" in assembled.pipe.get_list_adapters().get("unet", []):
        assembled.pipe.delete_adapters(["raw"])


def test_domain_adapter_scales_the_base_attention(assembled, tiny_files):
    layer_name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    assembled.adapters.activate([AdapterSpec(tiny_files.domain_adapter, "domain-adapter", 0.25, "domain_adapter")])
    sd = load_state_dict(tiny_files.domain_adapter)
    prefix = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora"
    x = torch.randn(3, 32, generator=torch.Generator().manual_seed(3))
    want = 0.25 * (x @ sd[f"{prefix}.down.weight"].T @ sd[f"{prefix}.up.weight"].T)
    torch.testing.assert_close(_delta(_layer(assembled.pipe, layer_name), x), want, rtol=1e-4, atol=1e-6)


def test_kohya_image_lora_is_active(assembled, tiny_files):
    assembled.adapters.activate([AdapterSpec(tiny_files.kohya_lora, "lora", 1.0, "loras[0]")])
    x = torch.randn(3, 32, generator=torch.Generator().manual_seed(4))
    layer = _layer(assembled.pipe, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
    assert _delta(layer, x).abs().max() > 1e-4


def test_v2_motion_lora_on_a_module_without_mid_block_is_refused(tiny_files):
    v3 = assemble(tiny_files.base_safetensors, tiny_files.mm_v3_like, choose_device("fp32", "cpu"))
    with pytest.raises(IncompatibleModelsError) as info:
        v3.adapters.activate([AdapterSpec(tiny_files.motion_lora_original, "motion-lora", 1.0, "camera[0]")])
    assert info.value.field == "camera[0]"
    assert "motion-module version" in info.value.message
    assert not v3.adapters.loaded


@pytest.mark.parametrize(
    "which,kind,expected",
    [("domain_adapter", "motion-lora", "domain adapter"), ("motion_lora_original", "domain-adapter", "MotionLoRA"),
     ("kohya_lora", "motion-lora", "image LoRA")],
)
def test_a_file_passed_as_the_wrong_kind_is_explained(assembled, tiny_files, which, kind, expected):
    with pytest.raises(WrongModelKindError) as info:
        assembled.adapters.activate([AdapterSpec(getattr(tiny_files, which), kind, 1.0, "f")])
    assert expected in info.value.message

"""The pre-flight check on real tiny files: each mix-up users make is an error naming the field, the file and what
would work; a good combination passes; and the engine runs the check before it loads anything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from models.checkpoint_reader import load_state_dict
from models.errors import IncompatibleModelsError
from models.paths import store_dir
from models.preflight import AdapterRef, check_files, check_names
from models.testing import model_zoo as zoo
from models.testing.files import save_state
from models.testing.tiny_base import TINY_UNET, build_tiny_base, save_single_file


def _ok(report) -> None:
    assert report.ok, [e.message for e in report.errors]


def test_a_good_combination_passes(tiny_files):
    report = check_files(
        base=tiny_files.base_safetensors, motion_module=tiny_files.mm_original_ckpt, frames=16, scheduler="ddim",
        adapters=[AdapterRef(tiny_files.motion_lora_original, "motion-lora", "camera[0]", 0.8),
                  AdapterRef(tiny_files.motion_lora_diffusers, "motion-lora", "motion_loras[0]"),
                  AdapterRef(tiny_files.kohya_lora, "lora", "loras[0]"),
                  AdapterRef(tiny_files.domain_adapter, "domain-adapter", "domain_adapter", 0.5)])
    _ok(report)
    assert report.warnings == []
    assert {f: m.info.kind for f, m in report.models.items()} == {
        "base": "sd15-base", "motion_module": "motion-module", "camera[0]": "motion-lora",
        "motion_loras[0]": "motion-lora", "loras[0]": "lora", "domain_adapter": "domain-adapter"}
    _ok(check_files(base=tiny_files.base_folder, motion_module=tiny_files.mm_folder))


@pytest.mark.parametrize(("field", "which", "kind", "says"), [
    ("motion_loras[0]", "domain_adapter", "motion-lora", "is a domain adapter, not a MotionLoRA; pass it as "
                                                         "domain_adapter"),
    ("domain_adapter", "motion_lora_original", "domain-adapter", "is a MotionLoRA, not a domain adapter; pass it "
                                                                 "as motion_loras"),
    ("loras[0]", "motion_lora_diffusers", "lora", "is a MotionLoRA, not an image LoRA"),
    ("motion_loras[0]", "kohya_lora", "motion-lora", "is an image LoRA, not a MotionLoRA; pass it as loras"),
])
def test_a_file_given_as_the_wrong_kind_is_named(tiny_files, field, which, kind, says):
    path = getattr(tiny_files, which)
    report = check_files(base=tiny_files.base_safetensors, motion_module=tiny_files.mm_original_ckpt,
                         adapters=[AdapterRef(path, kind, field)])
    (error,) = report.errors
    assert (error.code, error.field) == ("wrong_model_kind", field)
    assert str(path) in error.message and says in error.message


def test_a_motion_module_as_base_and_a_base_as_motion_module(tiny_files):
    report = check_files(base=tiny_files.mm_original_ckpt, motion_module=tiny_files.base_safetensors)
    assert [(e.code, e.field) for e in report.errors] == [("wrong_model_kind", "base"),
                                                          ("wrong_model_kind", "motion_module")]
    assert "is a motion module, not an SD1.5 base model; pass it as motion_module" in report.errors[0].message


def test_v2_motion_loras_on_a_module_without_mid_block(tiny_files):
    report = check_files(base=tiny_files.base_safetensors, motion_module=tiny_files.mm_v3_like,
                         adapters=[AdapterRef(tiny_files.motion_lora_original, "motion-lora", "camera[0]")])
    (error,) = report.errors
    assert (error.code, error.field) == ("incompatible_models", "camera[0]")
    assert "made for a motion module with a mid block" in error.message and "mm_tiny_v3.ckpt" in error.message


def test_a_module_for_other_widths_is_incompatible(tmp_path, tiny_files):
    wider = build_tiny_base(0)
    from diffusers import UNet2DConditionModel

    wider.unet = UNet2DConditionModel(**{**TINY_UNET, "block_out_channels": (64, 64)})
    base = save_single_file(wider, tmp_path / "wide.safetensors")
    (error,) = check_files(base=base, motion_module=tiny_files.mm_original_ckpt).errors
    assert error.field == "motion_module" and "(32, 64)" in error.message and "(64, 64)" in error.message


def test_a_motion_lora_for_other_widths_is_incompatible(tmp_path, tiny_files):
    state = {k: torch.zeros(v.shape[0], v.shape[1] * 2) if k.endswith("down.weight") else v
             for k, v in load_state_dict(tiny_files.motion_lora_original).items()}
    wrong = save_state(state, tmp_path / "other_widths.ckpt")
    (error,) = check_files(motion_module=tiny_files.mm_original_ckpt,
                           adapters=[AdapterRef(wrong, "motion-lora", "motion_loras[0]")]).errors
    assert "0 of the 88 layers" in error.message and "another motion-module version or width" in error.message


def test_sdxl_and_unet_only_bases_are_explained(tmp_path, tiny_models, tiny_files):
    from models.testing.tiny_base import ldm_state_dict

    state = ldm_state_dict(tiny_models[0])
    sdxl = save_state({**state, "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight":
                       torch.zeros(3, 2)}, tmp_path / "sdxl.safetensors")
    (error,) = check_files(base=sdxl, motion_module=tiny_files.mm_original_ckpt).errors
    assert (error.code, error.field) == ("incompatible_models", "base") and "SDXL base" in error.message
    unet_only = save_state({k: v for k, v in state.items() if k.startswith("model.diffusion_model.")},
                           tmp_path / "unet.safetensors")
    (error,) = check_files(base=unet_only).errors
    assert error.code == "wrong_model_kind" and "no VAE and no text encoder" in error.message


def test_damaged_and_hostile_files_are_errors_not_crashes(tmp_path, tiny_files):
    damaged = zoo.write_damaged_files(tmp_path, tiny_files.base_safetensors, tiny_files.mm_original_ckpt)
    evil, marker = zoo.write_malicious(tmp_path / "evil")
    report = check_files(base=damaged["truncated_safetensors"], motion_module=evil)
    assert [(e.code, e.field) for e in report.errors] == [("corrupt_checkpoint", "base"),
                                                          ("unsafe_checkpoint", "motion_module")]
    assert "is truncated" in report.errors[0].message and "exec" in report.errors[1].message
    assert not marker.exists()


def test_frames_scheduler_and_weights(tmp_path, tiny_files):
    (error,) = check_files(motion_module=tiny_files.mm_original_ckpt, frames=40).errors
    assert error.field == "frames" and "40" in error.message and "32 frames" in error.message
    lcm = save_state(zoo.animatelcm_state(load_state_dict(tiny_files.mm_original_ckpt)), tmp_path / "lcm.ckpt")
    report = check_files(motion_module=lcm, scheduler="euler",
                         adapters=[AdapterRef(tiny_files.motion_lora_original, "motion-lora", "camera[0]", 0.0)])
    assert report.ok and [w.field for w in report.warnings] == ["scheduler", "camera[0]"]
    assert "'lcm'" in report.warnings[0].message and "weight 0" in report.warnings[1].message


def test_names_are_resolved_and_missing_camera_moves_say_which_file(tiny_files, monkeypatch):
    monkeypatch.setenv("ANIMATEDIFF_STUDIO_MODEL_DIRS", str(tiny_files.base_safetensors.parent))
    report = check_names(base="base", motion_module="mm_tiny_v2", camera=[("zoom-in", 0.8)],
                         motion_loras=[("no_such_lora", 1.0)])
    assert [(e.code, e.field) for e in report.errors] == [("model_not_found", "camera[0]"),
                                                          ("model_not_found", "motion_loras[0]")]
    message = report.errors[0].message
    assert "v2_lora_ZoomIn.ckpt" in message and str(store_dir("motion-loras")) in message
    assert "https://huggingface.co/guoyww/animatediff/resolve/main/v2_lora_ZoomIn.ckpt" in message
    folder = store_dir("motion-loras")
    folder.mkdir(parents=True)
    shutil.copyfile(tiny_files.motion_lora_original, folder / "v2_lora_ZoomIn.ckpt")
    report = check_names(base="base", motion_module="mm_tiny_v2", camera=[("zoom-in", 0.8)])
    _ok(report)
    assert report.models["camera[0]"].path == folder / "v2_lora_ZoomIn.ckpt"


def test_the_engine_checks_before_it_loads_anything(make_request, tiny_files):
    """A bad combination fails in the pre-flight check (its wording), with no pipeline assembled."""
    from backend.engine.engine import AnimationEngine
    from backend.engine.request import WeightedFile

    engine = AnimationEngine(device="cpu")
    request = make_request(motion_module=str(tiny_files.mm_v3_like),
                           motion_loras=(WeightedFile(str(tiny_files.motion_lora_original), 1.0),))
    with pytest.raises(IncompatibleModelsError) as err:
        engine.generate(request)
    assert err.value.field == "motion_loras[0]" and "made for a motion module with a mid block" in err.value.message
    assert engine.cache._value is None  # nothing was loaded


def test_the_engine_refuses_a_domain_adapter_given_as_motion_lora_before_loading(make_request, tiny_files):
    from backend.engine.engine import AnimationEngine
    from backend.engine.request import WeightedFile
    from models.errors import WrongModelKindError

    engine = AnimationEngine(device="cpu")
    with pytest.raises(WrongModelKindError) as err:
        engine.generate(make_request(motion_loras=(WeightedFile(str(tiny_files.domain_adapter), 1.0),)))
    assert "pass it as domain_adapter" in err.value.message and engine.cache._value is None


def test_repeated_checks_read_each_file_once(tiny_files, tmp_path):
    """The engine checks every job: unchanged files come from the cache keyed by size and mtime."""
    from models import preflight

    copy = Path(shutil.copyfile(tiny_files.mm_original_ckpt, tmp_path / "mm.ckpt"))
    preflight._detect_cached.cache_clear()
    for _ in range(3):
        check_files(motion_module=copy)
    assert preflight._detect_cached.cache_info().misses == 1
    shutil.copyfile(tiny_files.mm_v3_like, copy)  # new content: read again
    assert check_files(motion_module=copy).models["motion_module"].info.details["config"]["use_motion_mid_block"] \
        is False

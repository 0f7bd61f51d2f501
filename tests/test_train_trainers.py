"""The three trainers on the tiny model: the zero-initialised motion module is the identity, each trainer's loss
falls on a fixed batch, runs resume exactly, and what they write loads through the engine and plain diffusers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from diffusers import AnimateDiffPipeline, MotionAdapter, UNetMotionModel
from PIL import Image
from training_helpers import batch_of, fixed_batch_losses

from backend.engine.base_loader import load_base
from backend.engine.request import WeightedFile
from backend.training.config import DataConfig, TrainConfig, config_from_dict
from backend.training.datasets import CameraMoveClips, ProceduralClips, ProceduralVideoFrames, procedural_scenes
from backend.training.domain_adapter import DomainAdapterTask
from backend.training.loop import LoopSettings
from backend.training.lora_files import read_lora_pairs
from backend.training.motion_lora import MotionLoraTask
from backend.training.motion_module import MotionModuleTask, new_motion_adapter
from backend.training.trainers import run_trainer
from models.checkpoint_reader import load_state_dict
from models.motion_config import motion_module_info


def _base(tiny_files):
    return load_base(tiny_files.base_folder, torch.float32)


def _config(kind: str, out, tiny_files, **over) -> TrainConfig:
    fields = dict(kind=kind, output_dir=str(out), base=str(tiny_files.base_folder), sample_steps=1,
                  data=DataConfig(count=2, frames=4, size=64),
                  loop=LoopSettings(steps=3, batch_size=1, learning_rate=1e-3, device="cpu", log_every=1))
    fields.update(over)
    return TrainConfig(**fields)


def test_zero_initialised_motion_module_leaves_the_base_output_unchanged(tiny_files):
    base = _base(tiny_files)
    x = torch.randn(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    text = torch.randn(1, 77, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        per_frame = base.unet(x[0].permute(1, 0, 2, 3), 500, encoder_hidden_states=text.repeat(3, 1, 1)).sample
        inflated = UNetMotionModel.from_unet2d(base.unet, new_motion_adapter(base.unet))
        out = inflated(x, 500, encoder_hidden_states=text.repeat(3, 1, 1)).sample[0].permute(1, 0, 2, 3)
        torch.testing.assert_close(out, per_frame, atol=1e-5, rtol=1e-5)
        # diffusers' own initialisation is not the identity: this is why the trainer zeroes proj_out.
        plain = UNetMotionModel.from_unet2d(base.unet, MotionAdapter(**dict(new_motion_adapter(base.unet).config)))
        changed = plain(x, 500, encoder_hidden_states=text.repeat(3, 1, 1)).sample[0].permute(1, 0, 2, 3)
        assert (changed - per_frame).abs().max() > 1e-3


def test_motion_module_loss_falls_on_a_fixedbatch_of(tiny_files):
    base = _base(tiny_files)
    task = MotionModuleTask(base, new_motion_adapter(base.unet))
    assert all(".motion_modules." in n for n, p in task.unet.named_parameters() if p.requires_grad)
    before, after = fixed_batch_losses(task, *batch_of(ProceduralClips(1, 64, 4), 1), steps=6, lr=3e-3)
    assert after < 0.9 * before


def test_motion_lora_loss_falls_on_a_fixedbatch_of(tiny_files):
    from backend.engine.motion_loader import load_motion_module

    base = _base(tiny_files)
    # A trained-like module: on a zero-initialised one a LoRA inside the attention has no effect at all.
    adapter = load_motion_module(tiny_files.mm_original_ckpt, torch.float32).adapter
    task = MotionLoraTask(base, adapter, rank=4, move="zoom-in")
    trainable = [n for n, p in task.unet.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and ".motion_modules." in n for n in trainable)
    clips = CameraMoveClips(procedural_scenes(1, 96), "zoom-in", 4, 64)
    before, after = fixed_batch_losses(task, *batch_of(clips, 1), steps=6, lr=1e-2)
    assert after < 0.95 * before


def test_domain_adapter_loss_falls_on_a_fixedbatch_of(tiny_files):
    task = DomainAdapterTask(_base(tiny_files), rank=4)
    trainable = [n for n, p in task.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and ".attentions." in n for n in trainable)
    before, after = fixed_batch_losses(task, *batch_of(ProceduralVideoFrames(2, 64, 8), 2), steps=6, lr=1e-2)
    assert after < 0.95 * before


@pytest.fixture(scope="module")
def trained(tiny_files, tmp_path_factory):
    """One short run of each trainer on the tiny base (the motion LoRA and adapter on the trained module)."""
    root = tmp_path_factory.mktemp("trained")
    mm = run_trainer(_config("motion-module", root / "mm", tiny_files), log=lambda _m: None)
    ml = run_trainer(_config("motion-lora", root / "ml", tiny_files, motion_module=str(mm.outputs["original"]),
                             data=DataConfig(source="camera", camera_move="zoom-in", count=2, frames=4, size=64)),
                     log=lambda _m: None)
    da = run_trainer(_config("domain-adapter", root / "da", tiny_files), log=lambda _m: None)
    return {"mm": mm, "ml": ml, "da": da, "root": root}


def _frames(result) -> np.ndarray:
    return np.stack([np.asarray(f, dtype=np.int16) for f in result.frames])


def test_trained_outputs_reload_through_the_engine(trained, engine, make_request):
    mm = trained["mm"].outputs
    assert motion_module_info({k: tuple(v.shape) for k, v in load_state_dict(mm["original"]).items()}).layout \
        == "original"
    runs = {name: engine.generate(make_request(motion_module=str(path), seed=3, frames=4, steps=2))
            for name, path in mm.items()}
    first = _frames(runs["original"])
    for result in runs.values():
        assert np.abs(_frames(result) - first).max() <= 1  # three forms, the same module
    plain = engine.generate(make_request(motion_module=str(mm["original"]), seed=3, frames=4, steps=2))
    for role in ("original", "diffusers"):
        lora = WeightedFile(str(trained["ml"].outputs[role]), 1.0)
        with_lora = engine.generate(make_request(motion_module=str(mm["original"]), motion_loras=(lora,), seed=3,
                                                 frames=4, steps=2))
        assert np.abs(_frames(with_lora) - _frames(plain)).max() > 0
    # The original layout is what the engine (and ComfyUI/A1111) take as a domain adapter; the diffusers file is a
    # LoRA on the base's attention, which the engine loads as an image LoRA (same delta).
    adapter = WeightedFile(str(trained["da"].outputs["original"]), 1.0)
    with_adapter = engine.generate(make_request(motion_module=str(mm["original"]), domain_adapter=adapter, seed=3,
                                                frames=4, steps=2))
    as_lora = WeightedFile(str(trained["da"].outputs["diffusers"]), 1.0)
    with_lora = engine.generate(make_request(motion_module=str(mm["original"]), loras=(as_lora,), seed=3, frames=4,
                                             steps=2))
    assert np.abs(_frames(with_adapter) - _frames(plain)).max() > 0
    assert np.abs(_frames(with_adapter) - _frames(with_lora)).max() <= 1


def test_trained_outputs_load_in_plain_diffusers(trained, tiny_files):
    base = _base(tiny_files)
    adapter = MotionAdapter.from_pretrained(trained["mm"].outputs["diffusers_folder"])
    pipe = AnimateDiffPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                               unet=base.unet, motion_adapter=adapter, scheduler=None)
    for name, role in (("ml", "motion"), ("da", "adapter")):
        path = trained[name].outputs["diffusers"]
        pipe.load_lora_weights(str(path), adapter_name=role)
        wrapped = sum(1 for _, m in pipe.unet.named_modules() if role in getattr(m, "lora_A", {}))
        assert wrapped == len(read_lora_pairs(path)) > 0
        # the original layout holds the same delta (alpha folded in)
        assert read_lora_pairs(path).keys() == read_lora_pairs(trained[name].outputs["original"]).keys()


def test_the_loss_log_plot_and_samples_are_written(trained):
    out = trained["root"] / "ml"
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,loss,lr,seconds" and len(rows) == 4
    assert Image.open(out / "loss.png").size == (720, 400)
    assert Image.open(out / "samples" / "step-000003.gif").n_frames == 4
    assert (out / "checkpoints" / "step-000003" / "trainable.safetensors").is_file()


def test_a_cancelled_run_resumes_to_the_same_weights(tiny_files, tmp_path):
    cfg = _config("motion-lora", tmp_path / "whole", tiny_files, motion_module=str(tiny_files.mm_original_ckpt),
                  data=DataConfig(source="camera", camera_move="pan-left", count=2, frames=4, size=64),
                  loop=LoopSettings(steps=4, batch_size=1, learning_rate=1e-2, device="cpu", log_every=1))
    whole = run_trainer(cfg, log=lambda _m: None)
    parted = dataclasses.replace(cfg, output_dir=str(tmp_path / "parted"))
    first = run_trainer(parted, should_cancel=lambda: True, log=lambda _m: None)
    assert first.cancelled and first.steps_done == 1 and not first.outputs
    second = run_trainer(dataclasses.replace(parted, resume=True), log=lambda _m: None)
    assert second.steps_done == 3
    a, b = load_state_dict(whole.outputs["original"]), load_state_dict(second.outputs["original"])
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    assert [round(r.loss, 5) for r in second.losses] == [round(r.loss, 5) for r in whole.losses]


@pytest.mark.parametrize("data,field,words", [
    ({"kind": "motion-lora", "output_dir": "x", "motion_module": "m", "data": {"source": "camera",
      "camera_move": "dolly"}}, "data.camera_move", ["'dolly'", "zoom-in"]),
    ({"kind": "mm", "output_dir": "x"}, "kind", ["'mm'", "motion-module"]),
    ({"kind": "motion-lora", "output_dir": "x"}, "motion_module", ["--motion-module"]),
    ({"kind": "motion-module", "output_dir": "x", "loop": {"steps": -3}}, "loop.steps", ["-3"]),
    ({"kind": "motion-module", "output_dir": "x", "loop": {"steps": "many"}}, "loop.steps", ["'many'", "integer"]),
    ({"kind": "motion-module", "output_dir": "x", "loop": {"stepz": 3}}, "loop.stepz", ["unknown", "steps"]),
    ({"kind": "motion-module", "output_dir": "x", "data": {"source": "folder"}}, "data.path", ["folder"]),
    ({"kind": "motion-module", "output_dir": "x", "data": {"size": 60}}, "data.size", ["60", "multiple of 8"]),
    ({"kind": "motion-module", "output_dir": "x", "loop": {"lr_schedule": "exp"}}, "loop.lr_schedule",
     ["'exp'", "cosine"]),
])
def test_bad_config_values_name_the_field_the_value_and_what_is_accepted(data, field, words):
    from models.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as info:
        config_from_dict(data)
    assert info.value.field == field
    for word in words:
        assert word in info.value.message

"""The built-in model in models/builtin/: small fp16 files that load through the engine and make the prompted
motion (the README's first command with no model arguments)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from backend.engine.request import GenerationRequest, WeightedFile
from backend.training.motion_measure import direction, displacement, foreground, track
from models.builtin import BUILTIN_DIR, builtin_model_paths
from models.camera import CAMERA_MOVES

MODEL = builtin_model_paths()


def _dtypes(path) -> set[str]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {v["dtype"] for k, v in header.items() if k != "__metadata__"}


def _request(prompt: str, seed: int, **over) -> GenerationRequest:
    d = MODEL.defaults
    fields = dict(prompt=prompt, base=str(MODEL.base), motion_module=str(MODEL.motion_module), width=d.width,
                  height=d.height, frames=d.frames, steps=d.steps, guidance=d.guidance, seed=seed)
    fields.update(over)
    return GenerationRequest(**fields)


def test_the_builtin_model_is_shipped_as_small_fp16_safetensors():
    assert MODEL.exists() and MODEL.personalized.is_dir() and MODEL.domain_adapter.is_file()
    files = [p for p in BUILTIN_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    weights = [p for p in files if p.suffix == ".safetensors"]
    assert sum(p.stat().st_size for p in files) < 40e6
    assert weights and all(_dtypes(p) == {"F16"} for p in weights)
    assert not [p for p in files if p.suffix in (".bin", ".ckpt", ".pt")]
    assert set(MODEL.camera) <= set(CAMERA_MOVES) and "zoom-in" in MODEL.camera


def test_the_default_command_makes_one_coherent_moving_shape(engine):
    """`generate "a red circle moving right"` with the built-in model and its defaults: one warm-coloured shape
    in every frame, travelling smoothly (the motion module is active: the base alone gives a new position every
    frame, see the benchmark's control row)."""
    frames = engine.generate(_request("a red circle moving right", 0)).frames
    tracks = track(frames)
    assert len(frames) == MODEL.defaults.frames and all(t.found for t in tracks)
    dx, dy = displacement(tracks)
    assert np.hypot(dx, dy) >= 4  # it moves
    jumps = [np.hypot(b.x - a.x, b.y - a.y) for a, b in zip(tracks, tracks[1:], strict=False)]
    assert np.median(jumps) < 6  # one object drifting, not a new picture each frame
    rgb = np.asarray(frames[len(frames) // 2].convert("RGB"), dtype=float)
    red, _, blue = rgb[foreground(rgb)].mean(axis=0)
    assert red > blue + 50  # a warm colour, not the blue/green ones


@pytest.mark.xfail(reason="the built-in model does not follow the prompt's direction (22% of 50 seeds, about "
                          "chance): its base draws the motion words, but the motion module takes its motion from "
                          "the starting noise (its loss is the same with the opposite word: on the paper's linear "
                          "schedule the noisy clip shows its direction even at t=999, d' 2.4); docs/builtin-model.md",
                   strict=False)
def test_the_prompted_direction_is_followed(engine):
    seen = [direction(track(engine.generate(_request("a red circle moving right", seed, steps=10)).frames))
            for seed in range(3)]
    assert seen.count("right") >= 2, seen


def test_the_camera_motion_lora_and_the_domain_adapter_load_and_act(engine):
    fast = dict(steps=8, frames=8)
    plain = np.stack([np.asarray(f, dtype=int) for f in engine.generate(_request("a red circle", 0, **fast)).frames])
    for over in ({"motion_loras": (WeightedFile(str(MODEL.camera["zoom-in"])),)},
                 {"domain_adapter": WeightedFile(str(MODEL.domain_adapter))}):
        result = engine.generate(_request("a red circle", 0, **fast, **over))
        assert np.abs(np.stack([np.asarray(f, dtype=int) for f in result.frames]) - plain).max() > 0


@pytest.mark.parametrize("kind", ["base", "personalized"])
def test_the_builtin_bases_load_in_plain_diffusers(kind):
    """The folders are ordinary diffusers pipelines; only the tokenizer comes from the shipped SD1.5 config."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    from models.base_config import SD15_CONFIG_DIR

    pipe = StableDiffusionPipeline.from_pretrained(
        getattr(MODEL, kind), tokenizer=CLIPTokenizer.from_pretrained(SD15_CONFIG_DIR / "tokenizer"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False, torch_dtype=torch.float32,
        local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    image = pipe("a red circle", height=64, width=64, num_inference_steps=2,
                 generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (64, 64)


def test_a_work_folder_seeded_from_the_shipped_model_ships_the_same_bytes(tmp_path):
    """`train_builtin.py --from-shipped` retrains one stage without the stages before: shipping the seeded work
    folder again gives back the shipped files bit for bit."""
    from safetensors.torch import load_file

    from backend.training.builtin_recipe import _half_file, seed_from_shipped, stage_done

    work = tmp_path / "work"
    seed_from_shipped(work, log=lambda _: None)
    for stage in ("base", "personalized", "domain-adapter-finish", "motion-module", "motion-loras"):
        assert stage_done(work, stage), stage
    # The shipped adapter is the finished one; the one the module trained on is remade by its stage.
    assert not stage_done(work, "domain-adapter")
    module = work / "motion-module" / "motion_module.safetensors"
    assert _dtypes(module) == {"F32"}
    unet = "unet/diffusion_pytorch_model.safetensors"  # the pipelines as shipped: the ship stage copies them back
    assert (work / "base" / "pipeline" / unet).read_bytes() == (MODEL.base / unet).read_bytes()
    _half_file(module, tmp_path / "again.safetensors")
    shipped, again = load_file(str(MODEL.motion_module)), load_file(str(tmp_path / "again.safetensors"))
    assert shipped.keys() == again.keys() and all(shipped[k].equal(again[k]) for k in shipped)
    stages = json.loads((work / "stages.json").read_text())
    assert stages["motion-module"] == json.loads((BUILTIN_DIR / "manifest.json").read_text())["stages"]["motion-module"]


def test_the_finished_adapter_is_the_adapter_run_continued_and_is_what_ships(tmp_path):
    """The module trains on the adapter at `adapter_steps`; the finish stage resumes that run, so its result is
    the uninterrupted longer run's (bit for bit), and the ship stage ships it."""
    from safetensors.torch import load_file

    from backend.training.builtin_recipe import RecipeSettings, run_recipe, seed_from_shipped, shipped_adapter
    from backend.training.checkpoints import list_checkpoints
    from backend.training.plotting import read_loss_csv

    settings = RecipeSettings(scale=0.01, log=lambda _: None)  # 3 steps, then on to 10
    continued, scratch = tmp_path / "continued", tmp_path / "scratch"
    for work in (continued, scratch):
        seed_from_shipped(work, log=lambda _: None)
        (work / "domain-adapter-finish" / "domain_adapter.safetensors").unlink()
    run_recipe(continued, ["domain-adapter", "domain-adapter-finish"], settings)
    run_recipe(scratch, ["domain-adapter-finish"], settings)  # no checkpoint to resume: the run from step 0

    first = [r.loss for r in read_loss_csv(continued / "domain-adapter" / "loss.csv")]
    rows = [r.loss for r in read_loss_csv(continued / "domain-adapter-finish" / "loss.csv")]
    assert len(first) == 3 and len(rows) == 10 and rows[:3] == first
    # It resumed from the adapter stage's checkpoint (step 3) rather than training those steps again.
    assert [p.name for p in list_checkpoints(continued / "domain-adapter-finish")] == ["step-000003", "step-000010"]
    assert rows == [r.loss for r in read_loss_csv(scratch / "domain-adapter-finish" / "loss.csv")]
    a, b = (load_file(str(w / "domain-adapter-finish" / "domain_adapter.safetensors")) for w in (continued, scratch))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    stepped = load_file(str(continued / "domain-adapter" / "domain_adapter.safetensors"))
    assert not all(a[k].equal(stepped[k]) for k in a)  # seven more steps changed it
    assert shipped_adapter(continued) == continued / "domain-adapter-finish" / "domain_adapter.safetensors"
    assert shipped_adapter(tmp_path / "old") == tmp_path / "old" / "domain-adapter" / "domain_adapter.safetensors"


def test_a_model_variant_for_the_benchmark_replaces_only_the_given_loras(tmp_path):
    """The trial scripts' `--model-dir` copies: the shipped model, the trial's LoRAs (fp16) instead of the shipped."""
    import shutil

    from backend.training.builtin_recipe import write_model_variant

    loras = tmp_path / "loras" / "pan-left"
    loras.mkdir(parents=True)
    shutil.copy(MODEL.camera["zoom-in"], loras / "motion_lora.safetensors")  # any LoRA: a different file
    assert write_model_variant(tmp_path / "model", tmp_path / "loras") == ["pan-left"]
    variant = builtin_model_paths(tmp_path / "model")
    assert variant.exists() and set(variant.camera) == {"pan-left"}
    assert variant.camera["pan-left"].read_bytes() == MODEL.camera["zoom-in"].read_bytes()
    assert variant.motion_module.read_bytes() == MODEL.motion_module.read_bytes()


def test_the_held_out_loss_compares_bases_on_the_same_draws():
    """`scripts/eval_base_loss.py`'s number: the same twice, and far lower for the shipped base than for the same
    base with its output zeroed (which predicts no noise at all: a loss near the noise's variance, 1)."""
    import torch

    from backend.engine.base_loader import load_base
    from backend.training.base_model import held_out_loss

    base = load_base(MODEL.base, torch.float32)
    parts = (base.unet, base.vae, base.text_encoder, base.tokenizer)
    first, again = held_out_loss(*parts, count=32, batch=16), held_out_loss(*parts, count=32, batch=16)
    assert first == again
    with torch.no_grad():
        base.unet.conv_out.weight.zero_()
        base.unet.conv_out.bias.zero_()
    blind = held_out_loss(*parts, count=32, batch=16)
    assert first < 0.1 < 0.9 < blind < 1.1

"""Motion-module variants (issue 8): EasyAnimate's hybrid module and the 1D-convolution ablation start as the
identity, mix the frames the way they claim to, train, and come back from their files (the hybrid one through
the engine); bad settings are refused naming the field."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from diffusers import UNetMotionModel
from training_helpers import batch_of, fixed_batch_losses

from backend.engine.base_loader import load_base
from backend.engine.motion_variants import (
    GlobalTemporalTransformer,
    TemporalConv1D,
    apply_motion_variant,
    load_conv1d_unet,
    motion_module_lists,
    read_variant,
    variant_of,
)
from backend.training.config import DataConfig, TrainConfig
from backend.training.datasets import ProceduralClips
from backend.training.loop import LoopSettings
from backend.training.motion_module import MotionModuleTask, new_motion_adapter
from backend.training.trainers import run_trainer
from models.errors import InvalidInputError, StudioError, WrongModelKindError


@pytest.fixture(scope="module")
def base(tiny_files):
    return load_base(tiny_files.base_folder, torch.float32)


def inflated(base, variant: str) -> UNetMotionModel:
    unet = UNetMotionModel.from_unet2d(base.unet, new_motion_adapter(base.unet))
    apply_motion_variant(unet, variant)
    return unet.eval()


def inputs(frames: int = 6, side: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(1, 4, frames, side, side, generator=torch.Generator().manual_seed(0))
    text = torch.randn(frames, 77, 32, generator=torch.Generator().manual_seed(1))
    return x, text


@pytest.mark.parametrize("variant", ["hybrid", "conv1d"])
def test_a_fresh_variant_is_the_identity(base, variant: str) -> None:
    x, text = inputs()
    unet = inflated(base, variant)
    assert variant_of(unet) == variant
    with torch.no_grad():
        per_frame = base.unet(x[0].permute(1, 0, 2, 3), 500, encoder_hidden_states=text).sample
        out = unet(x, 500, encoder_hidden_states=text).sample[0].permute(1, 0, 2, 3)
    torch.testing.assert_close(out, per_frame, atol=1e-5, rtol=1e-5)


def _reach(module: torch.nn.Module, frames: int = 6, side: int = 4) -> torch.Tensor:
    """|output change| per (frame, y, x) when only pixel (0, 0) of frame 0 changes. The GroupNorm in front is
    taken out (its statistics span every pixel and frame in any variant): what is left is the layer's own reach."""
    module = copy.deepcopy(module)
    module.norm = torch.nn.Identity()
    channels = module.proj_in.in_features if hasattr(module, "proj_in") else module.conv_in.in_channels
    x = torch.randn(frames, channels, side, side, generator=torch.Generator().manual_seed(2))
    poked = x.clone()
    poked[0, :, 0, 0] += 5.0
    with torch.no_grad():
        return (module(poked, num_frames=frames) - module(x, num_frames=frames)).abs().sum(1)


def test_hybrid_layers_attend_across_pixels_and_frames_temporal_ones_do_not(base) -> None:
    unet = inflated(base, "hybrid")
    modules = [m for ml in motion_module_lists(unet) for m in ml]
    assert [isinstance(m, GlobalTemporalTransformer) for m in modules] == [i % 2 == 1 for i in range(len(modules))]
    with torch.no_grad():
        for m in modules:  # trained-like: a non-zero output projection
            m.proj_out.weight.normal_(0, 0.2, generator=torch.Generator().manual_seed(3))
    temporal, global_ = _reach(modules[0]), _reach(modules[1])
    assert global_[5, 3, 3] > 1e-3  # another pixel, five frames later
    assert temporal[5, 3, 3] == 0 and temporal[5, 0, 0] > 1e-3  # only the same pixel's other frames


def test_conv1d_reaches_only_neighbouring_frames_of_the_same_pixel(base) -> None:
    unet = inflated(base, "conv1d")
    module = next(m for ml in motion_module_lists(unet) for m in ml)
    assert isinstance(module, TemporalConv1D)
    with torch.no_grad():
        module.conv_out.weight.normal_(0, 0.2, generator=torch.Generator().manual_seed(4))
    reach = _reach(module)
    assert reach[1, 0, 0] > 1e-3 and reach[2, 0, 0] > 1e-3  # two k=3 convolutions: two frames away
    assert reach[3:, 0, 0].max() == 0 and reach[:, 1:, :].max() == 0 and reach[:, :, 1:].max() == 0


@pytest.mark.parametrize("variant", ["hybrid", "conv1d"])
def test_each_variant_trains_its_loss_falls_on_a_fixed_batch(base, variant: str) -> None:
    task = MotionModuleTask(base, new_motion_adapter(base.unet), variant=variant)
    trainable = [n for n, p in task.unet.named_parameters() if p.requires_grad]
    assert trainable and all(".motion_modules." in n for n in trainable)
    before, after = fixed_batch_losses(task, *batch_of(ProceduralClips(1, 64, 4), 1), steps=6, lr=3e-3)
    assert after < 0.9 * before


def _train(tiny_files, out, variant: str):
    config = TrainConfig(kind="motion-module", output_dir=str(out), base=str(tiny_files.base_folder),
                         sample_steps=1, motion_variant=variant, data=DataConfig(count=2, frames=4, size=64),
                         loop=LoopSettings(steps=2, batch_size=1, learning_rate=1e-3, device="cpu", log_every=1))
    return run_trainer(config, log=lambda _m: None)


def test_a_trained_hybrid_module_generates_through_the_engine(tiny_files, tmp_path, engine, make_request) -> None:
    result = _train(tiny_files, tmp_path / "hybrid", "hybrid")
    for name in ("original", "diffusers", "diffusers_folder"):
        assert read_variant(result.outputs[name]) == "hybrid"
    clip = engine.generate(make_request(base=str(tiny_files.base_folder),
                                        motion_module=str(result.outputs["original"]), frames=8, steps=2))
    assert len(clip.frames) == 8
    assembled, _ = engine.cache.get(clip.models.base, clip.models.motion_module, _cpu())
    assert variant_of(assembled.pipe.unet) == "hybrid"


def _cpu():  # noqa: ANN202
    from backend.engine.device import choose_device

    return choose_device("auto", "cpu")


def test_a_trained_conv1d_module_reloads_exactly_and_is_refused_for_generation(base, tiny_files, tmp_path,
                                                                               engine, make_request) -> None:
    result = _train(tiny_files, tmp_path / "conv1d", "conv1d")
    path = result.outputs["original"]
    assert read_variant(path) == "conv1d" and set(result.outputs) == {"original"}
    unet = load_conv1d_unet(base.unet, path)
    from safetensors.torch import load_file

    saved = load_file(str(path))
    assert variant_of(unet) == "conv1d" and all(torch.equal(unet.state_dict()[k], v) for k, v in saved.items())
    assert any(v.abs().max() > 0 for k, v in saved.items() if "conv_out.weight" in k)  # trained off zero
    with pytest.raises(StudioError, match="1D-convolution ablation") as err:  # the pre-flight check's words
        engine.generate(make_request(motion_module=str(path)))
    assert err.value.field == "motion_module"
    from backend.engine.motion_loader import load_motion_module

    with pytest.raises(WrongModelKindError, match="1D-convolution ablation"):  # the loader's own check
        load_motion_module(path, torch.float32)


def test_bad_variant_settings_are_refused_naming_the_field(tiny_files, tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="motion_variant: 'lstm' is not accepted") as err:
        _train(tiny_files, tmp_path / "x", "lstm")
    assert err.value.field == "motion_variant"
    lora = TrainConfig(kind="motion-lora", output_dir=str(tmp_path / "y"), motion_module="m.safetensors",
                       motion_variant="conv1d")
    with pytest.raises(InvalidInputError, match="is for training a motion module"):
        run_trainer(lora, log=lambda _m: None)


def test_the_ablation_row_compares_the_two_modules_on_the_same_seeds(tmp_path) -> None:
    from backend.training.builtin_recipe import motion_module_config
    from backend.training.paper_benchmark import PaperBenchmark
    from models.builtin import BUILTIN_DIR

    missing = PaperBenchmark(seeds=1, steps=1, log=lambda _m: None, ablation_dir=tmp_path).run(("ablation-conv1d",))
    assert missing[0].seeds == 0 and "train_ablation" in missing[0].details["missing"]

    # Two steps each on the built-in base (its work folder is not shipped: point the recipe's config at the
    # shipped files), then one seed of the row.
    for variant in ("transformer", "conv1d"):
        config = motion_module_config(tmp_path, 2, tmp_path / variant, variant)
        config = dataclasses.replace(config, base=str(BUILTIN_DIR / "base"), domain_adapter=None,
                                     data=dataclasses.replace(config.data, frames=8, count=2),
                                     loop=dataclasses.replace(config.loop, sample_every=0, checkpoint_every=0))
        run_trainer(config, log=lambda _m: None)
    (result,) = PaperBenchmark(seeds=2, steps=2, log=lambda _m: None, ablation_dir=tmp_path).run(("ablation-conv1d",))
    assert result.seeds == 2 and 0.0 <= result.value <= 1.0
    assert set(result.details) >= {"mean_travel_px_transformer", "mean_travel_px_conv1d"}


def test_a_damaged_motion_module_is_reported_by_the_loader_not_by_the_variant_probe(tiny_files, tmp_path) -> None:
    from backend.engine.motion_loader import load_motion_module
    from models.errors import CorruptCheckpointError

    damaged = tmp_path / "half-download.safetensors"
    damaged.write_bytes(tiny_files.mm_diffusers_file.read_bytes()[:200])
    assert read_variant(damaged) == "transformer"  # the probe stays quiet ...
    with pytest.raises(CorruptCheckpointError, match="damaged safetensors file") as caught:  # ... the loader names it
        load_motion_module(damaged, torch.float32)
    assert str(damaged) in str(caught.value)

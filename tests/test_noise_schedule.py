"""A base's prediction type and zero-terminal-SNR schedule come from its scheduler config and reach every sampler
of the engine and every trainer: a v-prediction base samples and trains as one, an unsupported kind is refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from training_helpers import batch_of, fixed_batch_losses

from backend.engine.base_loader import load_base
from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule, read_noise_schedule
from backend.engine.request_checks import SCHEDULERS
from backend.engine.schedulers import make_scheduler
from backend.training.base_model import TextToImageTask
from backend.training.datasets import ProceduralClips
from backend.training.diffusion import make_noise_scheduler
from backend.training.motion_module import MotionModuleTask, new_motion_adapter
from models.detect import detect
from models.errors import WrongModelKindError

V_ZSNR = NoiseSchedule("v_prediction", zero_terminal_snr=True)


def _with_scheduler(src, dst, **entries):
    shutil.copytree(src, dst)
    path = dst / "scheduler" / "scheduler_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **entries}))
    return dst


@pytest.fixture(scope="module")
def v_base(tiny_files, tmp_path_factory):
    return _with_scheduler(tiny_files.base_folder, tmp_path_factory.mktemp("v") / "base",
                           prediction_type="v_prediction", rescale_betas_zero_snr=True)


def test_the_schedule_is_read_from_the_folder(tiny_files, v_base, tmp_path):
    assert read_noise_schedule(tiny_files.base_folder) == SD15_SCHEDULE
    assert read_noise_schedule(v_base) == V_ZSNR
    assert load_base(v_base, torch.float32).schedule == V_ZSNR
    assert read_noise_schedule(tmp_path) == SD15_SCHEDULE  # no scheduler config: read as SD1.5
    info = detect(v_base)  # the model manager says so without loading anything
    assert info.kind == "sd15-base" and info.details["prediction_type"] == "v_prediction"
    assert info.details["zero_terminal_snr"] and "predicts v_prediction on zero-terminal-SNR betas" in info.notes
    assert detect(tiny_files.base_folder).details["prediction_type"] == "epsilon"
    bad = _with_scheduler(tiny_files.base_folder, tmp_path / "sample", prediction_type="sample")
    with pytest.raises(WrongModelKindError) as info:
        load_base(bad, torch.float32, field="base")
    assert info.value.field == "base"
    assert "'sample'" in info.value.message and "v_prediction" in info.value.message


def test_zero_terminal_snr_makes_the_last_training_step_pure_noise():
    linear, rescaled = make_noise_scheduler(), make_noise_scheduler(V_ZSNR)
    assert float(linear.alphas_cumprod[-1]) > 1e-3  # SD1.5's last step keeps part of the picture
    assert float(rescaled.alphas_cumprod[-1]) < 1e-6
    for name in SCHEDULERS:
        scheduler = make_scheduler(name, V_ZSNR)
        assert scheduler.config.prediction_type == "v_prediction"
        scheduler.set_timesteps(4)
        assert int(scheduler.timesteps[0]) == 999, name  # trailing: sampling starts where the input is pure noise


def test_a_v_prediction_base_generates_with_every_sampler(engine, make_request, v_base, tiny_files):
    as_epsilon = engine.generate(make_request(base=str(tiny_files.base_folder),
                                              motion_module=str(tiny_files.mm_folder)))
    drawn = {}
    for name in SCHEDULERS:
        result = engine.generate(make_request(base=str(v_base), motion_module=str(tiny_files.mm_folder),
                                              scheduler=name))
        assert torch.isfinite(result.latents).all(), name
        drawn[name] = np.stack([np.asarray(f, dtype=np.int16) for f in result.frames])
        assert drawn[name].std() > 0, name
    same_weights = np.stack([np.asarray(f, dtype=np.int16) for f in as_epsilon.frames])
    # Same weights and sampler (ddim): only the scheduler config differs, and it changed what was drawn.
    assert np.abs(drawn["ddim"] - same_weights).max() > 10


def test_trainers_learn_the_velocity_on_a_v_prediction_base_and_write_it(v_base, tmp_path):
    base = load_base(v_base, torch.float32)
    task = MotionModuleTask(base, new_motion_adapter(base.unet))
    assert task.objective.scheduler.config.prediction_type == "v_prediction"
    before, after = fixed_batch_losses(task, *batch_of(ProceduralClips(1, 64, 4), 1), steps=6, lr=3e-3)
    assert after < 0.9 * before

    still = TextToImageTask(base.unet, base.vae, base.text_encoder, base.tokenizer, train_text_encoder=False,
                            schedule=V_ZSNR)
    exported = still.export(tmp_path)["diffusers"]
    assert load_base(exported, torch.float32).schedule == V_ZSNR


def test_guidance_rescale_matches_each_frames_spread_to_the_prompt_branch(engine, make_request, v_base, tiny_files):
    from backend.engine.sampler import _rescale_per_frame

    g = torch.Generator().manual_seed(0)
    conditional = torch.randn(1, 4, 3, 8, 8, generator=g) * torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3, 1, 1)
    guided = conditional * 5 + torch.randn(1, 4, 3, 8, 8, generator=g)
    full = _rescale_per_frame(guided, conditional, 1.0)
    for f in range(3):  # each frame gets its own spread back, not the clip's
        torch.testing.assert_close(full[:, :, f].std(), conditional[:, :, f].std())
    torch.testing.assert_close(_rescale_per_frame(guided, conditional, 0.0), guided)
    request = dict(base=str(v_base), motion_module=str(tiny_files.mm_folder), guidance=12.0)
    plain, rescaled = engine.generate(make_request(**request)), engine.generate(make_request(**request,
                                                                                          guidance_rescale=0.7))
    assert rescaled.request.guidance_rescale == 0.7
    assert np.abs(np.stack([np.asarray(f, dtype=np.int16) for f in plain.frames])
                  - np.stack([np.asarray(f, dtype=np.int16) for f in rescaled.frames])).max() > 0

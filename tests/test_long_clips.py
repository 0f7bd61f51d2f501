"""Long clips: our sampler equals diffusers' loop, context windows, closed loops, FreeNoise, FreeInit, prompt travel."""

from __future__ import annotations

import pytest
import torch

from backend.engine.context_windows import plan_windows
from backend.engine.device import choose_device
from backend.engine.noise import initial_noise
from backend.engine.request import PromptAt
from backend.engine.request_checks import check_request
from backend.engine.resolved_inputs import resolve_models
from backend.engine.sampler import Conditioning, denoise
from backend.engine.schedulers import make_scheduler
from models.errors import InvalidInputError
from models.testing.tiny_motion import build_tiny_motion_adapter, save_motion_module


def _pipe(engine, req):
    models = resolve_models(req)
    assembled, _ = engine.cache.get(models.base, models.motion_module, choose_device("fp32", "cpu"))
    assembled.adapters.activate([])
    return assembled.pipe


def _conditioning(pipe, frames: int, guidance: float = 7.5) -> Conditioning:
    with torch.inference_mode():
        text, negative = pipe.encode_prompt("a red circle moving right", torch.device("cpu"), 1, True, None)
    return Conditioning(text.expand(frames, -1, -1), negative.expand(frames, -1, -1), guidance)


@pytest.mark.parametrize("scheduler", ["ddim", "euler-ancestral"])
def test_sampler_computes_what_the_diffusers_pipeline_computes(engine, make_request, scheduler):
    req = make_request(frames=8, steps=3)
    pipe = _pipe(engine, req)
    cond = _conditioning(pipe, 8)
    noise = torch.randn(1, 4, 8, 8, 8, generator=torch.Generator().manual_seed(0))

    pipe.scheduler = make_scheduler(scheduler)
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond.text[:1], negative_prompt_embeds=cond.negative[:1], num_frames=8, height=64,
                      width=64, num_inference_steps=3, guidance_scale=7.5, latents=noise.clone(),
                      generator=torch.Generator().manual_seed(5), output_type="latent").frames
        ours_scheduler = make_scheduler(scheduler)
        ours_scheduler.set_timesteps(3)
        ours = denoise(pipe.unet, ours_scheduler, noise * ours_scheduler.init_noise_sigma, ours_scheduler.timesteps,
                       cond, plan_windows(8, 8, 0), generator=torch.Generator().manual_seed(5))
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()


def test_windows_cover_every_frame_and_the_open_end_stays_inside():
    plan = plan_windows(40, 16, 4)
    assert [w[0] for w in plan.windows] == [0, 12, 24]
    assert plan.windows[-1][-1] == 39 and all(len(w) == 16 for w in plan.windows)
    assert set().union(*plan.windows) == set(range(40))
    assert plan.weights[0] == 1 and plan.weights[7] == 8 and plan.weights[15] == 1  # pyramid
    assert plan_windows(40, 16, 4, weighting="flat").weights == (1.0,) * 16


def test_closed_loop_windows_wrap_from_the_last_frame_to_the_first():
    plan = plan_windows(40, 16, 4, closed_loop=True)
    assert [w[0] for w in plan.windows] == [0, 12, 24, 36]
    assert plan.windows[-1] == (36, 37, 38, 39, *range(12))


@pytest.mark.parametrize(("closed_loop", "last_frame_changes"), [(False, False), (True, True)])
def test_closed_loop_makes_the_last_frame_see_the_first(engine, make_request, closed_loop, last_frame_changes):
    """One step on 40 frames in windows of 8: only a window that wraps lets frame 0 reach frame 39."""
    pipe = _pipe(engine, make_request())
    cond = _conditioning(pipe, 40)
    a = torch.randn(1, 4, 40, 8, 8, generator=torch.Generator().manual_seed(1))
    b = a.clone()
    b[:, :, 0] += 1.0  # only frame 0 differs
    plan = plan_windows(40, 8, 2, closed_loop=closed_loop)
    outs = []
    for latents in (a, b):
        scheduler = make_scheduler("ddim")
        scheduler.set_timesteps(4)
        with torch.inference_mode():
            outs.append(denoise(pipe.unet, scheduler, latents, scheduler.timesteps[:1], cond, plan))
    changed = not torch.equal(outs[0][:, :, 39], outs[1][:, :, 39])
    assert changed is last_frame_changes
    assert torch.equal(outs[0][:, :, 20], outs[1][:, :, 20])  # the middle is out of reach either way
    assert not torch.equal(outs[0][:, :, 1], outs[1][:, :, 1])  # frame 0's own window sees it


def test_long_clip_in_windows_on_a_16_frame_module(engine, make_request, tmp_path):
    module = save_motion_module(build_tiny_motion_adapter(3, max_seq_length=16), tmp_path / "mm16.ckpt")
    with pytest.raises(InvalidInputError) as info:
        engine.generate(make_request(motion_module=str(module), frames=40, steps=2))
    assert info.value.field == "frames" and "16" in info.value.message and "context_length" in info.value.message
    with pytest.raises(InvalidInputError) as info:
        engine.generate(make_request(motion_module=str(module), frames=40, steps=2, context_length=24))
    assert info.value.field == "context_length"

    seen = []
    result = engine.generate(make_request(motion_module=str(module), frames=40, steps=2, context_length=16,
                                          context_overlap=4, closed_loop=True, free_noise=True),
                             on_progress=seen.append)
    assert len(result.frames) == 40 and result.frames[0].size == (64, 64)
    assert [p.step for p in seen if p.phase == "denoising" and p.step] == [1, 2]


def test_free_noise_reuses_the_first_windows_noise_shuffled():
    noise = initial_noise((1, 4, 40, 2, 2), torch.Generator().manual_seed(0), free_noise_window=16)
    first = {tuple(noise[0, :, f].flatten().tolist()) for f in range(16)}
    later = [tuple(noise[0, :, f].flatten().tolist()) for f in range(16, 40)]
    assert all(frame in first for frame in later)
    assert later[:16] != [tuple(noise[0, :, f].flatten().tolist()) for f in range(16)]  # shuffled, not copied
    plain = initial_noise((1, 4, 40, 2, 2), torch.Generator().manual_seed(0))
    assert torch.equal(plain[:, :, :16], noise[:, :, :16])


def test_free_init_runs_extra_rounds_and_changes_the_clip(engine, make_request):
    seen = []
    plain = engine.generate(make_request(steps=2, frames=4))
    refined = engine.generate(make_request(steps=2, frames=4, free_init=2), on_progress=seen.append)
    assert [p.step for p in seen if p.phase == "denoising" and p.step] == [1, 2, 3, 4, 5, 6]
    assert plain.frames[0].tobytes() != refined.frames[0].tobytes()
    again = engine.generate(make_request(steps=2, frames=4, free_init=2))
    assert all(a.tobytes() == b.tobytes() for a, b in zip(refined.frames, again.frames, strict=True))


def test_prompt_travel_feeds_the_unet_interpolated_embeddings(engine, make_request):
    req = make_request(frames=8, steps=1, prompt="a red circle", prompt_at=(PromptAt(4, "a blue square"),))
    pipe = _pipe(engine, req)
    with torch.inference_mode():
        red, _ = pipe.encode_prompt("a red circle", torch.device("cpu"), 1, False)
        blue, _ = pipe.encode_prompt("a blue square", torch.device("cpu"), 1, False)
    captured = []
    hook = pipe.unet.register_forward_pre_hook(
        lambda _m, _args, kwargs: captured.append(kwargs["encoder_hidden_states"].clone()), with_kwargs=True)
    try:
        engine.generate(req)
    finally:
        hook.remove()
    text = captured[0][8:]  # CFG batch: 8 unconditional frames, then 8 conditional ones
    assert torch.allclose(text[0], red[0], atol=1e-5) and torch.allclose(text[4], blue[0], atol=1e-5)
    assert torch.allclose(text[2], torch.lerp(red[0], blue[0], 0.5), atol=1e-5)
    assert torch.allclose(text[7], blue[0], atol=1e-5)  # held after the last keyframe


@pytest.mark.parametrize(("overrides", "field"), [
    ({"closed_loop": True}, "closed_loop"),
    ({"free_noise": True}, "free_noise"),
    ({"context_length": 1}, "context_length"),
    ({"context_length": 8, "context_overlap": 8}, "context_overlap"),
    ({"context_length": 8, "context_weighting": "gaussian"}, "context_weighting"),
    ({"free_init": 9}, "free_init"),
    ({"prompt_at": (PromptAt(8, "x"),)}, "prompt_at[0].frame"),
    ({"prompt_at": (PromptAt(3, " "),)}, "prompt_at[0].prompt"),
    ({"prompt_at": (PromptAt(3, "x"), PromptAt(3, "y"))}, "prompt_at[1].frame"),
])
def test_long_clip_options_are_checked_by_name(make_request, overrides, field):
    with pytest.raises(InvalidInputError) as info:
        check_request(make_request(**overrides))
    assert info.value.field == field and field.split("[")[0] in info.value.message

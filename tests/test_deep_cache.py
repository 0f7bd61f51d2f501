"""DeepCache-style feature caching (backend/engine/deep_cache.py): which blocks run on which step, windows and
guidance halves keep their own features, the blocks are restored, the memory it holds is predicted, bad values
are refused, and on the built-in model the clip stays close to the uncached one and still moves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import UNetMotionModel

from backend.engine.context_windows import plan_windows
from backend.engine.deep_cache import deep_cache, deep_cache_bytes
from backend.engine.memory_plan import JobShape, MemoryEstimator, SetUp
from backend.engine.progress import Cancelled
from backend.engine.sampler import Conditioning, denoise
from backend.engine.schedulers import make_scheduler
from models.errors import InvalidInputError


@pytest.fixture(scope="module")
def unet(tiny_models) -> UNetMotionModel:
    base, adapter = tiny_models
    return UNetMotionModel.from_unet2d(base.unet, adapter).eval()


class Calls:
    """How often a module's own computation ran (a submodule's forward: the block's override hides nothing)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.count = 0
        module.register_forward_hook(lambda *_: setattr(self, "count", self.count + 1))


def _denoise(unet: UNetMotionModel, interval: int, steps: int, frames: int = 8, context: int = 0,
             batched: bool = True) -> tuple[torch.Tensor, dict]:
    scheduler = make_scheduler("ddim")
    scheduler.set_timesteps(steps)
    gen = torch.Generator().manual_seed(3)
    latents = torch.randn(1, 4, frames, 16, 16, generator=gen)
    cond = Conditioning(torch.randn(frames, 77, 32, generator=gen), torch.randn(frames, 77, 32, generator=gen), 7.5,
                        batched=batched)
    plan = plan_windows(frames, context, 2) if context else plan_windows(frames, frames, 0)
    seen: dict = {}
    with torch.no_grad(), deep_cache(unet, interval) as gate:
        out = denoise(unet, scheduler, latents, scheduler.timesteps, cond, plan, deep=gate)
        if gate is not None:
            seen = {"full": gate.full_steps, "cached": gate.cached_steps, "kept_bytes": gate.kept_bytes(),
                    "slots": gate.slots}
    return out, seen


def test_deep_blocks_run_only_on_every_nth_step_and_the_outer_blocks_on_every_step(unet) -> None:
    deep, outer = Calls(unet.down_blocks[1].resnets[0]), Calls(unet.up_blocks[-1].resnets[0])
    plain, _ = _denoise(unet, 0, steps=6)
    assert (deep.count, outer.count) == (6, 6)  # one batched-guidance call per step
    deep.count = outer.count = 0
    cached, seen = _denoise(unet, 3, steps=6)
    assert (deep.count, outer.count) == (2, 6)  # full steps 0 and 3
    assert (seen["full"], seen["cached"]) == (2, 4)
    assert not torch.equal(cached, plain)  # the cache changes the result ...
    assert (cached - plain).abs().mean() < 0.25 * plain.abs().mean()  # ... by a fraction of it
    patched = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    assert not any("forward" in vars(m) for m in patched)  # the class forwards are back


def test_each_window_and_guidance_half_keeps_its_own_features(unet) -> None:
    windows = plan_windows(12, 6, 2).windows
    for batched, halves in ((True, 2), (False, 2)):
        out, seen = _denoise(unet, 2, steps=4, frames=12, context=6, batched=batched)
        assert torch.isfinite(out).all()
        # one slot per UNet call in a step: each window once batched, twice with sequential guidance
        assert seen["slots"] == len(windows) * (1 if batched else 2)
        frames_kept = sum(len(w) for w in windows)
        assert seen["kept_bytes"] == deep_cache_bytes(unet, frames_kept, halves, 16, 16)


def test_sequential_guidance_with_the_cache_equals_batched_with_it(unet) -> None:
    batched, _ = _denoise(unet, 3, steps=6, batched=True)
    sequential, _ = _denoise(unet, 3, steps=6, batched=False)
    torch.testing.assert_close(sequential, batched, rtol=1e-4, atol=1e-4)


def test_the_planner_counts_the_kept_features(unet, tiny_models) -> None:
    vae = tiny_models[0].vae
    scale = 2 ** (len(vae.config.block_out_channels) - 1)
    side = 128 // scale
    estimator = MemoryEstimator(unet, vae, [unet, vae], scale)
    setup = SetUp("batched", 1, 1, 0)
    shape = JobShape(128, 128, 16, 0, True, 1, deep_cache=3)
    kept = deep_cache_bytes(unet, 16, 2, side, side)
    assert estimator.deep_cache_bytes(shape, setup) == kept > 0
    denoise = estimator.unet_bytes(2, 16, 128, 128, 1)
    decode = estimator.decode_bytes(1, 128, 128)
    assert denoise + kept > decode  # the denoising peak, which the kept features add to
    assert estimator.predict(shape, setup) == \
        estimator.weights_bytes() + estimator.clip_bytes(shape) + denoise + kept
    # with windows the kept features cover every window's frames, overlaps counted twice
    windowed = JobShape(128, 128, 12, 6, True, 4, deep_cache=3, context_overlap=2)
    frames_kept = sum(len(w) for w in plan_windows(12, 6, 2).windows)
    assert estimator.deep_cache_bytes(windowed, SetUp("batched", 1, 4, 6)) == \
        deep_cache_bytes(unet, frames_kept, 2, side, side)


def test_engine_runs_with_the_cache_and_a_cancel_restores_the_blocks(engine, make_request) -> None:
    plain = engine.generate(make_request(steps=4))
    cached = engine.generate(make_request(steps=4, deep_cache=2))
    assert cached.request.deep_cache == 2
    a = np.stack([np.asarray(f, dtype=np.float32) for f in plain.frames])
    b = np.stack([np.asarray(f, dtype=np.float32) for f in cached.frames])
    assert a.shape == b.shape and not np.array_equal(a, b)
    with pytest.raises(Cancelled):
        engine.generate(make_request(steps=4, deep_cache=2), should_cancel=lambda: True)
    again = engine.generate(make_request(steps=4))  # nothing of the cache is left on the cached pipeline
    assert np.array_equal(a, np.stack([np.asarray(f, dtype=np.float32) for f in again.frames]))


@pytest.mark.parametrize("value,match", [(1, "deep_cache: 1 would cache nothing"), (11, "deep_cache: 11"),
                                         (-2, "deep_cache: -2")])
def test_bad_intervals_are_refused_naming_the_field(engine, make_request, value, match) -> None:
    with pytest.raises(InvalidInputError, match=match) as caught:
        engine.generate(make_request(deep_cache=value))
    assert caught.value.field == "deep_cache"


def test_the_cache_is_refused_with_sparsectrl(engine, make_request, tmp_path) -> None:
    from backend.engine.request import ReferenceFrame, WeightedFile

    req = make_request(deep_cache=2, sparsectrl=WeightedFile(str(tmp_path / "sparsectrl.safetensors")),
                       references=(ReferenceFrame(str(tmp_path / "ref.png")),))
    with pytest.raises(InvalidInputError, match="deep_cache: 2 skips the UNet blocks that SparseCtrl feeds"):
        engine.generate(req)


def test_on_the_builtin_model_the_cached_clip_stays_close_and_still_moves(engine) -> None:
    from backend.engine.request import GenerationRequest
    from backend.training.motion_measure import displacement, track
    from models.builtin import builtin_model_paths

    model = builtin_model_paths()
    travels: dict[str, list[float]] = {"plain": [], "cached": []}
    for seed in range(4):  # travel over a few seeds: one seed's clip can be a near-still one (7 px vs 4 cached)
        req = GenerationRequest(prompt="a red circle moving right", base=str(model.base),
                                motion_module=str(model.motion_module), width=64, height=64, frames=16, steps=12,
                                guidance=4.0, seed=seed)
        plain = engine.generate(req)
        cached = engine.generate(GenerationRequest(**{**req.to_dict(), "deep_cache": 3}))
        a = np.stack([np.asarray(f, dtype=np.float32) / 255 for f in plain.frames])
        b = np.stack([np.asarray(f, dtype=np.float32) / 255 for f in cached.frames])
        assert 0 < float(np.abs(a - b).mean()) < 0.03  # measured 0.010 at 20 steps (docs/benchmarks.md)
        for name, result in (("plain", plain), ("cached", cached)):
            travels[name].append(float(np.hypot(*displacement(track(result.frames)))))
    plain_travel, cached_travel = np.mean(travels["plain"]), np.mean(travels["cached"])
    assert plain_travel > 8 and cached_travel == pytest.approx(plain_travel, rel=0.25), travels


def test_bench_on_the_builtin_model_reports_the_cached_row_and_its_frame_difference(tmp_path, capsys) -> None:
    """`bench --builtin --deep-cache N`: the benchmark command of docs/benchmarks.md, at 4 steps."""
    import json

    from backend.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "--builtin", "--steps", "4", "--deep-cache", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["settings"] | {"builtin": True, "width": 64, "frames": 16, "guidance": 4.0} == report["settings"]
    assert set(report["rows"]) == {"ours", "ours+cache 2"}  # no diffusers row: the module is in the original layout
    assert all(row["per_step"] > 0 for row in report["rows"].values())
    assert 0 < report["deep_cache_frame_difference"]["mean"] < report["deep_cache_frame_difference"]["max"]
    assert "ours+cache 2" in capsys.readouterr().out
    assert main(["bench", "--builtin", "--full-size", "--random-weights"]) == 2

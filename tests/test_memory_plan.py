"""VRAM planning (issue 9), checked on the CPU: the meta-device dry run predicts what a real run allocates
(measured by torch's profiler, an independent allocator-level count); the memory levers give the same frames
as the reference path; the planner picks the cheapest set-up that fits; the plan reaches metadata.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from diffusers import UNetMotionModel
from torch.profiler import ProfilerActivity, profile

from backend.engine.device import choose_device
from backend.engine.feed_forward_chunks import chunked_feed_forward
from backend.engine.memory_plan import JobShape, MemoryEstimator, candidates, choose_plan
from backend.engine.memory_trace import meta_copy, peak_activation_bytes
from backend.engine.outputs import write_outputs
from backend.engine.sampler import Conditioning, _predict
from backend.engine.schedulers import make_scheduler
from models.errors import InvalidInputError

MIB = 2**20


@pytest.fixture(scope="module")
def unet(tiny_models) -> UNetMotionModel:
    base, adapter = tiny_models
    return UNetMotionModel.from_unet2d(base.unet, adapter).eval()


def unet_call(model: UNetMotionModel, device: str, batch: int = 2, frames: int = 16, side: int = 32):
    gen = torch.Generator().manual_seed(0)
    shape = (batch, 4, frames, side, side)
    x = torch.randn(shape, generator=gen) if device == "cpu" else torch.empty(shape, device="meta")
    text = torch.zeros(batch * frames, 77, model.config.cross_attention_dim, device=device)
    t = torch.tensor(500, device=device)
    return lambda: model(x, t, encoder_hidden_states=text).sample


def profiled_peak(call) -> int:  # noqa: ANN001
    """Peak bytes the CPU allocator held during `call` above what it held before, from the profiler's memory
    timeline (allocation and free events; nothing of memory_trace.py is involved)."""
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                                         record_shapes=True, with_stack=True) as prof:
        result = call()
        del result
    _times, sizes = _timeline(prof)
    totals = [sum(s) for s in sizes]
    return max(totals) - totals[0]


def _timeline(prof) -> tuple[list, list]:  # noqa: ANN001
    import tempfile
    import warnings
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated for CUDA snapshots; the CPU timeline is it
        path = Path(d) / "timeline.json"
        prof.export_memory_timeline(str(path), device="cpu")
        return tuple(json.loads(path.read_text()))


def test_dry_run_on_meta_predicts_the_real_runs_allocations(unet) -> None:
    predicted = peak_activation_bytes(unet_call(meta_copy(unet), "meta"))
    tracked = peak_activation_bytes(unet_call(unet, "cpu"))
    measured = profiled_peak(unet_call(unet, "cpu"))
    assert predicted == tracked  # the same graph, on meta and for real
    assert abs(predicted - measured) <= 0.05 * measured, (predicted / MIB, measured / MIB)
    assert predicted > 50 * MIB  # 2 x 16 frames of 32x32 latents: a real amount, not an empty count


def test_feed_forward_in_pieces_gives_the_same_output_with_less_memory(unet) -> None:
    call = unet_call(unet, "cpu")
    with torch.inference_mode():
        whole = call()
        with chunked_feed_forward(unet, 4) as patched:
            pieces = call()
    assert patched > 0 and "forward" not in vars(next(m for m in unet.modules() if type(m).__name__ == "FeedForward"))
    torch.testing.assert_close(pieces, whole, rtol=1e-5, atol=1e-5)
    with chunked_feed_forward(unet, 4):  # counted by the tracker the test above checks against the profiler
        chunked_peak = peak_activation_bytes(call)
    assert chunked_peak < 0.8 * peak_activation_bytes(call)


def test_sequential_guidance_equals_batched(unet) -> None:
    scheduler = make_scheduler("euler")
    scheduler.set_timesteps(10)
    t = scheduler.timesteps[3]
    gen = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 4, 8, 16, 16, generator=gen)
    text, negative = torch.randn(8, 77, 32, generator=gen), torch.randn(8, 77, 32, generator=gen)
    window = torch.arange(8)
    with torch.inference_mode():
        batched = _predict(unet, scheduler, latents, t, Conditioning(text, negative, 7.5, batched=True), window, None)
        sequential = _predict(unet, scheduler, latents, t, Conditioning(text, negative, 7.5, batched=False), window,
                              None)
    torch.testing.assert_close(sequential, batched, rtol=1e-4, atol=1e-4)  # x7.5 guidance on fp32 noise


class RecordedPeaks(MemoryEstimator):
    """The planner's inputs from numbers instead of dry runs: checks the choice logic alone."""

    def __init__(self, weights: tuple[int, int, int], unet: dict[tuple[int, int, int], int],
                 decode_per_frame: int) -> None:
        self._weights, self._unet, self._decode = weights, unet, decode_per_frame

    def weights_bytes(self) -> int:
        return sum(self._weights)

    def model_weights_bytes(self) -> tuple[int, int, int]:
        return self._weights

    def unet_bytes(self, batch: int, frames: int, height: int, width: int, ff_pieces: int) -> int:
        return self._unet[(batch, frames, ff_pieces)]

    def decode_bytes(self, chunk: int, height: int, width: int) -> int:
        return chunk * self._decode

    def clip_bytes(self, shape: JobShape) -> int:
        return 2 * MIB  # 4 latent-sized buffers of 16 x 4 x 64 x 64 in fp16


# Full-size SD1.5 + v2 module, fp16, 512x512 (dry runs recorded in docs/benchmarks.md), in MiB: weights of the
# UNet with its motion module, the VAE and the text encoder (2909 in all).
FULL = RecordedPeaks((2514 * MIB, 160 * MIB, 235 * MIB), {
    (2, 16, 1): 2080 * MIB, (2, 16, 4): 1200 * MIB, (1, 16, 4): 600 * MIB, (1, 8, 4): 300 * MIB}, 384 * MIB)
SHAPE = JobShape(512, 512, 16, 0, guided=True, decode_chunk=4)


@pytest.mark.parametrize(("budget_mib", "expected"), [
    (8000, ("batched", 1, 4, 0)),  # room: the fastest set-up
    (4500, ("batched", 4, 4, 0)),  # 2909 + 2080 does not fit; feed-forward pieces do (2909 + 1536 decode)
    (4100, ("sequential", 4, 2, 0)),  # decode of 4 frames (1536) is now the peak: chunks of 2
    (3600, ("sequential", 4, 1, 0)),
    (3300, ("sequential", 4, 1, 8)),  # windows of 8 frames: changes the clip, so last
])
def test_the_planner_takes_the_first_set_up_that_fits(budget_mib: int, expected: tuple) -> None:
    plan = choose_plan(SHAPE, FULL, budget_mib * MIB)
    assert (plan.cfg, plan.ff_pieces, plan.decode_chunk, plan.context_length) == expected
    assert plan.fits and plan.predicted_peak_bytes <= budget_mib * MIB
    assert ("context windows" in plan.note) == (expected[3] == 8)


@pytest.mark.parametrize(("budget_mib", "expected"), [
    (3600, ("sequential", 4, 1, 0, "none")),  # resident while it fits: warm jobs keep their weights in place
    (3200, ("sequential", 4, 4, 0, "model")),  # UNet 2514 + 600 alone; the VAE (160 + 4 x 384) has the room
    (3000, ("sequential", 4, 1, 8, "model")),  # then windows, which change the clip
])
def test_on_a_gpu_cpu_offload_comes_after_the_resident_set_ups(budget_mib: int, expected: tuple) -> None:
    plan = choose_plan(SHAPE, FULL, budget_mib * MIB, offload_possible=True)
    assert (plan.cfg, plan.ff_pieces, plan.decode_chunk, plan.context_length, plan.offload) == expected
    assert plan.fits and plan.predicted_peak_bytes <= budget_mib * MIB
    assert ("CPU offload" in plan.note) == (expected[4] != "none")
    assert choose_plan(SHAPE, FULL, 3200 * MIB).offload == "none"  # no GPU: nothing to offload to


def test_nothing_fits_gives_the_smallest_plan_and_says_so() -> None:
    plan = choose_plan(SHAPE, FULL, 3000 * MIB)
    assert not plan.fits and plan.context_length == 8 and "over the 3000 MiB budget" in plan.note
    assert choose_plan(SHAPE, FULL, None).cfg == "batched"  # unknown budget: nothing is given up
    no_guidance = JobShape(512, 512, 16, 16, guided=False, decode_chunk=1)
    assert [c.cfg for c in candidates(no_guidance)] == ["none", "none"]  # no windows: the request has them


def test_full_size_dry_run_fits_five_gib_with_batched_guidance() -> None:
    """The issue's target set-up (16 x 512x512, batched CFG, SD1.5 + v2-size module, fp16) on meta."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel

    with init_empty_weights():
        unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8)
        full = UNetMotionModel.from_unet2d(unet, MotionAdapter(motion_max_seq_length=32), load_weights=False)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                            up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2)
    full, vae = (torch.nn.Module.to(m, device="meta", dtype=torch.float16) for m in (full, vae))
    estimator = MemoryEstimator(full, vae, [full, vae], 8)
    text_encoder = 123_060_480 * 2  # CLIP ViT-L/14 text model, fp16
    budget = 5 * 2**30 - text_encoder
    plan = choose_plan(SHAPE, estimator, budget)
    assert plan.cfg == "batched" and plan.fits, plan
    # The feed-forward's GEGLU is the peak; in pieces it drops by a third or more (recorded in docs/benchmarks.md).
    assert estimator.unet_bytes(2, 16, 512, 512, 4) < 0.67 * estimator.unet_bytes(2, 16, 512, 512, 1)


def test_the_plan_is_in_the_metadata_and_off_runs_as_asked(engine, make_request, tmp_path) -> None:
    squeezed = engine.generate(make_request(memory_limit_mb=1))
    assert squeezed.memory_plan.cfg == "sequential" and not squeezed.memory_plan.fits
    reference = engine.generate(make_request(memory_plan="off"))
    assert reference.memory_plan.cfg == "batched" and reference.memory_plan.ff_pieces == 1
    roomy = engine.generate(make_request())
    assert roomy.memory_plan.cfg == "batched" and roomy.memory_plan.fits and roomy.memory_plan.budget_bytes > 0
    frames = [np.stack([np.asarray(f, dtype=np.int16) for f in r.frames]) for r in (reference, roomy, squeezed)]
    assert np.abs(frames[0] - frames[1]).max() == 0  # no pressure: the plan is the reference path
    # The lean path (sequential guidance, feed-forward in pieces, 1-frame decode) makes the same clip.
    assert (squeezed.memory_plan.ff_pieces, squeezed.memory_plan.decode_chunk) == (4, 1)
    assert np.abs(frames[0] - frames[2]).max() <= 1
    meta = write_outputs(squeezed, tmp_path / "clip")
    assert meta["memory_plan"]["cfg"] == "sequential" and meta["memory_plan"]["predicted_peak_mib"] > 0
    on_disk = json.loads((tmp_path / "clip" / "metadata.json").read_text())
    assert on_disk["memory_plan"]["context_length"] == 0  # 8 frames: no windows to fall back to


def test_forced_cpu_offload_makes_the_same_clip_and_the_next_job_is_resident_again(engine, make_request,
                                                                                   tiny_files) -> None:
    """On the CPU the hooks move weights from the CPU to the CPU, but they run: every model is called through
    them (the text encoder, the sampler's UNet calls, the VAE's decode), adapters still apply, every model is
    back on the CPU after the job, and a job that fits puts them back on the device."""
    from backend.engine.placement import placement_of
    from backend.engine.request import WeightedFile

    lora = {"motion_loras": (WeightedFile(str(tiny_files.motion_lora_original), 0.8),)}
    reference = engine.generate(make_request(memory_plan="off", **lora))
    offloaded = engine.generate(make_request(memory_plan="model-offload", **lora))
    pipe = engine.cache.get(tiny_files.base_safetensors, tiny_files.mm_original_ckpt,
                            choose_device("fp32", "cpu"))[0].pipe
    assert offloaded.memory_plan.offload == "model" and placement_of(pipe) == "model"
    assert "model CPU offload" in offloaded.memory_plan.note or "model-offload" in offloaded.memory_plan.note
    assert all(hasattr(m, "_hf_hook") for m in (pipe.text_encoder, pipe.unet, pipe.vae))
    again = engine.generate(make_request(memory_plan="model-offload", **lora))  # warm, still offloaded
    after = engine.generate(make_request(**lora))
    assert after.memory_plan.offload == "none" and placement_of(pipe) == "none"
    assert not any(hasattr(m, "_hf_hook") for m in pipe.unet.modules())
    without_lora = engine.generate(make_request(memory_plan="off"))
    for clip in (offloaded, again, after):
        for a, b in zip(clip.frames, reference.frames, strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(b))
    assert any(not np.array_equal(np.asarray(a), np.asarray(b))  # the LoRA did act under the hooks
               for a, b in zip(without_lora.frames, reference.frames, strict=True))
    # The prediction follows what stays on the device: one model at a time holds less than all three.
    assert 0 < offloaded.memory_plan.predicted_peak_bytes < reference.memory_plan.predicted_peak_bytes


def test_the_cli_offers_every_memory_plan_the_engine_takes() -> None:
    import argparse

    from backend.cli_generate import add_generate_parser
    from backend.engine.request import MEMORY_PLANS

    parser = argparse.ArgumentParser()
    add_generate_parser(parser.add_subparsers())
    (generate,) = parser._subparsers._group_actions[0].choices.values()
    (option,) = [a for a in generate._actions if "--memory-plan" in a.option_strings]
    assert tuple(option.choices) == MEMORY_PLANS


def test_bad_memory_settings_are_refused_naming_the_field(engine, make_request) -> None:
    with pytest.raises(InvalidInputError, match="memory_plan: 'fast'") as err:
        engine.generate(make_request(memory_plan="fast"))
    assert err.value.field == "memory_plan"
    with pytest.raises(InvalidInputError, match="memory_limit_mb: -1"):
        engine.generate(make_request(memory_limit_mb=-1))


def test_bench_memory_prints_every_candidate_and_the_choice(tmp_path, capsys) -> None:
    from backend.cli import main

    out = tmp_path / "memory.json"
    assert main(["bench-memory", "--tiny", "--width", "64", "--height", "64", "--frames", "16", "32",
                 "--budget-mib", "100000", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    # 16 frames: 5 resident set-ups, the same 5 with model offload, then windows of 8
    assert [r["frames"] for r in rows].count(16) == 11 and sum(r["chosen"] for r in rows) == 2
    assert [r["offload"] for r in rows[:11]] == ["none"] * 5 + ["model"] * 6
    first = rows[0]
    assert first["chosen"] and first["cfg"] == "batched" and first["peak_mib"] > first["denoise_mib"] > 0
    assert "batched" in capsys.readouterr().out

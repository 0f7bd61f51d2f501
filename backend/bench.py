"""`animatediff-studio bench`: time one generation phase by phase, ours vs plain diffusers, same run.

Both sides load the same model files from disk (a tiny model written on the fly, or with
`--full-size --random-weights` an SD1.5-size base + a v2-size module with random weights: timing does not
depend on the values). The baseline is diffusers' `AnimateDiffPipeline` in its documented set-up:
`from_pretrained(..., torch_dtype=fp16)`, DDIM with the linear schedule, SDPA attention (the default),
`vae.enable_slicing()`, on the same device.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time a generation phase by phase against plain diffusers")
    p.add_argument("--width", type=int, default=None, help="default 512 full-size, 64 tiny")
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--frames", type=int, default=None, help="default 16")
    p.add_argument("--steps", type=int, default=None, help="default 25 (built-in: 20)")
    p.add_argument("--guidance", type=float, default=None, help="default 7.5 (built-in: 4)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--full-size", action="store_true", help="SD1.5-size UNet + v2-size motion module")
    p.add_argument("--random-weights", action="store_true", help="random weights (the only source offline)")
    p.add_argument("--builtin", action="store_true",
                   help="ours only, on the shipped built-in model (trained weights: frame differences mean "
                        "something); its size, frames, steps and guidance unless given")
    p.add_argument("--device", default=None)
    p.add_argument("--precision", default="auto")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--memory-plan", choices=("auto", "off", "model-offload"), default="auto",
                   help="ours: plan the memory (auto), run batched CFG as asked (off), or as asked with CPU offload")
    p.add_argument("--memory-limit", type=int, default=0, metavar="MIB",
                   help="ours: plan for at most this much device memory (default: what is free)")
    p.add_argument("--deep-cache", type=int, default=0, metavar="N",
                   help="also run ours with DeepCache every N steps (a row 'ours+cache N', frames compared to ours)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.set_defaults(func=run_bench)


def write_models(folder: Path, full_size: bool, max_frames: int = 32) -> tuple[Path, Path]:
    """A base folder + motion-module folder with random weights (tiny or full-size), in fp16 for full size.

    `max_frames`: the module's position-encoding length (32 as in v2; longer to time clips without windows).
    """
    import torch

    from models.testing.tiny_base import build_tiny_base, save_diffusers_folder
    from models.testing.tiny_motion import build_tiny_motion_adapter

    if not full_size:
        save_diffusers_folder(build_tiny_base(0), folder / "base")
        build_tiny_motion_adapter(0, max_seq_length=max_frames).save_pretrained(folder / "motion")
        return folder / "base", folder / "motion"

    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from models.base_config import SD15_CONFIG_DIR, load_sd15_config
    from models.testing.tiny_base import TinyBase

    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(dev):  # random init on the GPU takes seconds instead of minutes
        base = TinyBase(
            unet=UNet2DConditionModel.from_config(load_sd15_config("unet")).half(),
            vae=AutoencoderKL.from_config(load_sd15_config("vae")).half(),
            text_encoder=CLIPTextModel(CLIPTextConfig(**load_sd15_config("text_encoder"))).half(),
            tokenizer=CLIPTokenizer.from_pretrained(SD15_CONFIG_DIR / "tokenizer"),
        )
        adapter = MotionAdapter(block_out_channels=(320, 640, 1280, 1280), motion_layers_per_block=2,
                                motion_max_seq_length=max_frames, use_motion_mid_block=True).half()
    save_diffusers_folder(base, folder / "base")
    adapter.save_pretrained(folder / "motion")
    return folder / "base", folder / "motion"


def _peak(device: Any) -> float | None:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return None


def _reset(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _run_baseline(base: Path, motion: Path, args: argparse.Namespace, choice: Any) -> tuple[dict[str, float], Any]:
    import torch
    from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter
    from diffusers.utils.torch_utils import randn_tensor

    _reset(choice.device)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    adapter = MotionAdapter.from_pretrained(motion, torch_dtype=choice.dtype, local_files_only=True)
    pipe = AnimateDiffPipeline.from_pretrained(base, motion_adapter=adapter, torch_dtype=choice.dtype,
                                               local_files_only=True)
    pipe.scheduler = DDIMScheduler.from_pretrained(base, subfolder="scheduler", clip_sample=False,
                                                   timestep_spacing="linspace", beta_schedule="linear",
                                                   steps_offset=1)
    pipe.vae.enable_slicing()  # 0.42 moved `enable_vae_slicing` onto the VAE
    pipe.to(choice.device)
    pipe.set_progress_bar_config(disable=True)
    _sync(choice.device)
    t["load"] = time.perf_counter() - t0
    with torch.inference_mode():
        _ = pipe(prompt="warm-up", num_frames=args.frames, height=args.height, width=args.width,
                 num_inference_steps=1, output_type="latent")
        _reset(choice.device)
        t0 = time.perf_counter()
        pe, ne = pipe.encode_prompt("a red circle moving right", choice.device, 1, args.guidance > 1, None)
        _sync(choice.device)
        t["text_encode"] = time.perf_counter() - t0
        g = torch.Generator("cpu").manual_seed(args.seed)
        shape = (1, 4, args.frames, args.height // pipe.vae_scale_factor, args.width // pipe.vae_scale_factor)
        latents = randn_tensor(shape, generator=g, dtype=torch.float32).to(choice.device, choice.dtype)
        t0 = time.perf_counter()
        out = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, num_frames=args.frames, height=args.height,
                   width=args.width, num_inference_steps=args.steps, guidance_scale=args.guidance, generator=g,
                   latents=latents, output_type="latent").frames
        _sync(choice.device)
        t["denoise"] = time.perf_counter() - t0
        t["per_step"] = t["denoise"] / args.steps
        t0 = time.perf_counter()
        video = pipe.decode_latents(out, decode_chunk_size=16)
        _sync(choice.device)
        t["decode"] = time.perf_counter() - t0
    t["peak_gib"] = _peak(choice.device) or float("nan")
    return t, video


def _fill_defaults(args: argparse.Namespace) -> None:
    """Size, frames, steps and guidance not given: the built-in model's own, else the issue's set-up."""
    if args.builtin:
        from models.builtin import builtin_model_paths

        d = builtin_model_paths().defaults
        size, frames, steps, guidance = (d.width, d.height), d.frames, d.steps, d.guidance
    else:
        size = (512, 512) if args.full_size else (64, 64)
        frames, steps, guidance = 16, 25, 7.5
    args.width, args.height = args.width or size[0], args.height or size[1]
    args.frames = args.frames or frames
    args.steps = args.steps or steps
    args.guidance = guidance if args.guidance is None else args.guidance


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_bench(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from backend.engine.device import choose_device
    from backend.engine.engine import AnimationEngine
    from backend.engine.request import GenerationRequest

    if args.full_size and not args.random_weights:
        print("--full-size needs --random-weights (no weights are downloaded)", file=sys.stderr)
        return 2
    if args.builtin and (args.full_size or args.random_weights):
        print("--builtin runs the shipped weights: leave out --full-size and --random-weights", file=sys.stderr)
        return 2
    _fill_defaults(args)
    choice = choose_device(args.precision, args.device)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ads-bench-") as tmp:
        t0 = time.perf_counter()
        if args.builtin:  # its module is in the original layout, which diffusers' from_pretrained does not read
            from models.builtin import builtin_model_paths

            base, motion = builtin_model_paths().base, builtin_model_paths().motion_module
        else:
            base, motion = write_models(Path(tmp), args.full_size)
            print(f"wrote {'full-size' if args.full_size else 'tiny'} random-weight models in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        baseline_video = None
        if not args.skip_baseline and not args.builtin:
            rows["diffusers"], baseline_video = _run_baseline(base, motion, args, choice)
        engine = AnimationEngine(device=args.device)
        req = GenerationRequest(prompt="a red circle moving right", base=str(base), motion_module=str(motion),
                                width=args.width, height=args.height, frames=args.frames, steps=args.steps,
                                guidance=args.guidance, seed=args.seed, precision=args.precision,
                                memory_plan=args.memory_plan, memory_limit_mb=args.memory_limit)
        engine.generate(GenerationRequest(**{**req.to_dict(), "steps": 1}))  # load + warm-up
        _reset(choice.device)
        result = engine.generate(req)
        rows["ours"] = dict(result.timings)
        rows["ours"]["peak_gib"] = (result.peak_memory_bytes or 0) / 2**30 if choice.device.type == "cuda" \
            else float("nan")
        plan = result.memory_plan.to_dict() if result.memory_plan else None
        if plan and plan["predicted_peak_bytes"]:
            rows["ours"]["predicted_gib"] = plan["predicted_peak_bytes"] / 2**30
        ours = np.stack([np.asarray(f, dtype=np.float32) / 255 for f in result.frames])
        cache_diff = None
        if args.deep_cache > 1:
            name = f"ours+cache {args.deep_cache}"
            _reset(choice.device)
            cached = engine.generate(GenerationRequest(**{**req.to_dict(), "deep_cache": args.deep_cache}))
            rows[name] = dict(cached.timings)
            rows[name]["peak_gib"] = (cached.peak_memory_bytes or 0) / 2**30 if choice.device.type == "cuda" \
                else float("nan")
            if cached.memory_plan and cached.memory_plan.predicted_peak_bytes:
                rows[name]["predicted_gib"] = cached.memory_plan.predicted_peak_bytes / 2**30
            frames = np.stack([np.asarray(f, dtype=np.float32) / 255 for f in cached.frames])
            cache_diff = {"mean": float(np.abs(frames - ours).mean()), "max": float(np.abs(frames - ours).max())}
    diff = None
    if baseline_video is not None:
        theirs = baseline_video[0].permute(1, 2, 3, 0).clamp(-1, 1).add(1).div(2).cpu().numpy()
        diff = float(np.abs(ours - theirs).max())
    report = {
        "settings": {"frames": args.frames, "width": args.width, "height": args.height, "steps": args.steps,
                     "guidance": args.guidance, "seed": args.seed, "full_size": args.full_size,
                     "builtin": args.builtin},
        "device": choice.label, "torch": torch.__version__,
        "cpu_max_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rows": rows, "max_abs_frame_difference": diff, "memory_plan": plan,
        "deep_cache_frame_difference": cache_diff,
    }
    _print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _print_table(report: dict[str, Any]) -> None:
    cols = ("load", "text_encode", "plan", "per_step", "denoise", "decode", "peak_gib", "predicted_gib")
    s = report["settings"]
    print(f"device: {report['device']}  torch {report['torch']}  {s['frames']}x{s['width']}x{s['height']}, "
          f"{s['steps']} steps, CFG {s['guidance']}")
    print(f"{'':16}" + "".join(f"{c:>14}" for c in cols))
    for name, row in report["rows"].items():
        print(f"{name:16}" + "".join(f"{row.get(c, float('nan')):>14.4f}" for c in cols))
    if report["max_abs_frame_difference"] is not None:
        print(f"max |frame difference| ours vs diffusers: {report['max_abs_frame_difference']:.2e}")
    if report.get("deep_cache_frame_difference"):
        d = report["deep_cache_frame_difference"]
        print(f"|frame difference| ours+cache vs ours: mean {d['mean']:.2e}, max {d['max']:.2e} (frames in [0, 1])")
    plan = report.get("memory_plan")
    if plan:
        print(f"memory plan (ours): {plan['cfg']} CFG, feed-forward in {plan['ff_pieces']}, decode chunk "
              f"{plan['decode_chunk']}, context {plan['context_length'] or 'whole clip'}; predicted "
              f"{plan['predicted_peak_mib']} MiB of budget {plan['budget_mib']} MiB {plan['note']}")
    print(f"process peak RSS: {report['cpu_max_rss_gib']:.2f} GiB")

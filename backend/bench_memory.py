"""`animatediff-studio bench-memory`: what the VRAM planner predicts for every set-up it can choose, without
weights or a GPU (a dry run of the full-size architecture on the `meta` device), and which one it picks for a
budget. `bench` then checks a prediction against `torch.cuda.max_memory_allocated` on a real run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any


def add_bench_memory_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench-memory", help="predicted peak memory of each set-up the planner can choose")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--frames", type=int, nargs="+", default=[16])
    p.add_argument("--context-length", type=int, default=0, help="windows of this many frames (0: none)")
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--decode-chunk-size", type=int, default=4)
    p.add_argument("--budget-mib", type=int, default=5 * 1024, help="the budget to plan for (default 5 GiB)")
    p.add_argument("--tiny", action="store_true", help="the tiny test model instead of full-size SD1.5 + v2")
    p.add_argument("--json", type=Path, help="also write the table as JSON here")
    p.add_argument("--no-offload", dest="offload", action="store_false",
                   help="leave out the CPU-offload set-ups (the planner tries them only on a GPU)")
    p.set_defaults(func=run_bench_memory)


def _estimator(tiny: bool):  # -> MemoryEstimator
    import torch
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel, UNetMotionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from backend.engine.memory_plan import MemoryEstimator
    from models.base_config import load_sd15_config

    with init_empty_weights():
        if tiny:
            from models.testing.tiny_base import build_tiny_base
            from models.testing.tiny_motion import build_tiny_motion_adapter

            base = build_tiny_base(0)
            unet2d, vae, adapter, dtype = base.unet, base.vae, build_tiny_motion_adapter(0), torch.float32
            text_encoder = base.text_encoder
        else:
            unet2d = UNet2DConditionModel.from_config(load_sd15_config("unet"))
            vae = AutoencoderKL.from_config(load_sd15_config("vae"))
            adapter = MotionAdapter(block_out_channels=(320, 640, 1280, 1280), motion_layers_per_block=2,
                                    motion_max_seq_length=32, use_motion_mid_block=True)
            dtype = torch.float16
            text_encoder = CLIPTextModel(CLIPTextConfig(**load_sd15_config("text_encoder")))
        unet = UNetMotionModel.from_unet2d(unet2d, adapter, load_weights=False)
    unet, vae, text_encoder = (torch.nn.Module.to(m, device="meta", dtype=dtype) for m in (unet, vae, text_encoder))
    scale = 2 ** (len(vae.config.block_out_channels) - 1)
    return MemoryEstimator(unet, vae, [unet, vae, text_encoder], scale)


def run_bench_memory(args: argparse.Namespace) -> int:
    from backend.engine.memory_plan import JobShape, SetUp, candidates, choose_plan

    estimator = _estimator(args.tiny)
    budget = args.budget_mib * 2**20
    mib = 2**20
    rows: list[dict[str, Any]] = []
    weights = estimator.weights_bytes() / mib
    print(f"{'tiny' if args.tiny else 'SD1.5 + v2-size module, fp16'}; weights {weights:.0f} MiB resident; "
          f"{args.width}x{args.height}; budget {args.budget_mib} MiB")
    print(f"{'frames':>6} {'cfg':>10} {'ff':>3} {'decode':>6} {'context':>7} {'offload':>10} {'denoise MiB':>12} "
          f"{'decode MiB':>11} {'peak MiB':>9}  chosen")
    for frames in args.frames:
        shape = JobShape(args.width, args.height, frames, args.context_length, args.guidance > 1,
                         args.decode_chunk_size)
        chosen = choose_plan(shape, estimator, budget, offload_possible=args.offload)
        for setup in candidates(shape, args.offload):
            window = min(setup.context_length or frames, frames)
            denoise = estimator.unet_bytes(2 if setup.cfg == "batched" else 1, window, args.height, args.width,
                                           setup.ff_pieces)
            decode = estimator.decode_bytes(min(setup.decode_chunk, frames), args.height, args.width)
            peak = estimator.predict(shape, setup)
            is_chosen = setup == SetUp(chosen.cfg, chosen.ff_pieces, chosen.decode_chunk, chosen.context_length,
                                       chosen.offload)
            rows.append({"frames": frames, **dataclasses.asdict(setup), "denoise_mib": round(denoise / mib, 1),
                         "decode_mib": round(decode / mib, 1), "peak_mib": round(peak / mib, 1),
                         "chosen": is_chosen})
            print(f"{frames:>6} {setup.cfg:>10} {setup.ff_pieces:>3} {setup.decode_chunk:>6} "
                  f"{setup.context_length or '-':>7} {setup.offload:>10} {denoise / mib:>12.0f} "
                  f"{decode / mib:>11.0f} {peak / mib:>9.0f}  {'<-' if is_chosen else ''}")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json), "func": None},
                                         "weights_mib": round(weights, 1), "rows": rows}, indent=2))
    print("(dry runs on the meta device: no weights, no GPU; `bench` measures a real run beside its prediction)",
          file=sys.stderr)
    return 0

"""`animatediff-studio bench-frames`: peak memory and seconds per step as the clip gets longer,
with and without sliding context windows.

Every measurement runs in a fresh process, so one run's allocations never hide in another's peak. On
CUDA the peak is `torch.cuda.max_memory_allocated`; on the CPU it is the resident set size sampled every
millisecond during the generation, minus what the process held just before it (the loaded models).
The models are written once with random weights (tiny, or `--full-size` SD1.5 + a v2-size module);
the motion module's position encoding is made long enough that "no windows" can run at every length.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# glibc keeps freed blocks (and raises its mmap threshold as it goes), so RSS would report old peaks; with a
# fixed 64 KiB threshold every tensor-sized block is its own mapping, returned at free: RSS follows live memory.
_MEASURING_ENV = {"HF_HUB_OFFLINE": "1", "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def add_bench_frames_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench-frames", help="peak memory and s/step for longer clips, with and without windows")
    p.add_argument("--frames", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--context-length", type=int, default=16)
    p.add_argument("--context-overlap", type=int, default=4)
    p.add_argument("--width", type=int, default=None, help="default 512 full-size, 128 tiny")
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--full-size", action="store_true", help="SD1.5-size UNet + v2-size module, random weights")
    p.add_argument("--device", default=None)
    p.add_argument("--json", type=Path, help="also write the table as JSON here")
    p.set_defaults(func=run_bench_frames)


def measure(base: Path, motion: Path, frames: int, context_length: int, *, width: int, height: int, steps: int,
            overlap: int = 4, device: str | None = None) -> dict[str, Any]:
    """One generation in a fresh process: {"frames", "context_length", "peak_bytes", "s_per_step"}."""
    spec = json.dumps({"base": str(base), "motion": str(motion), "frames": frames, "context_length": context_length,
                       "overlap": overlap, "width": width, "height": height, "steps": steps, "device": device})
    proc = subprocess.run([sys.executable, "-m", "backend.bench_frames", spec], capture_output=True, text=True,
                          env={**os.environ, **_MEASURING_ENV}, cwd=Path(__file__).resolve().parents[1])
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed ({frames} frames, context {context_length}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _measure_here(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from backend.engine.engine import AnimationEngine
    from backend.engine.request import GenerationRequest

    engine = AnimationEngine(device=spec["device"])
    req = GenerationRequest(prompt="a red circle moving right", base=spec["base"], motion_module=spec["motion"],
                            width=spec["width"], height=spec["height"], frames=spec["frames"], steps=spec["steps"],
                            seed=0, context_length=spec["context_length"], context_overlap=spec["overlap"],
                            decode_chunk_size=4)
    engine.generate(GenerationRequest(**{**req.__dict__, "frames": 2, "steps": 1, "context_length": 0}))  # load
    cuda = torch.cuda.is_available() and spec["device"] != "cpu"
    sampler = _RssSampler() if not cuda else None
    if cuda:
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        sampler.start()
        before = sampler.baseline
    result = engine.generate(req)
    peak = torch.cuda.max_memory_allocated() - before if cuda else sampler.stop() - before
    return {"frames": spec["frames"], "context_length": spec["context_length"], "peak_bytes": int(peak),
            "s_per_step": round(result.timings["per_step"], 4), "device": result.device}


class _RssSampler:
    """Peak resident set size of this process, sampled every millisecond by a thread."""

    def __init__(self) -> None:
        self.baseline = _rss()
        self._peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss())
            time.sleep(0.001)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self._peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_bench_frames(args: argparse.Namespace) -> int:
    width = args.width or (512 if args.full_size else 128)
    height = args.height or (512 if args.full_size else 128)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-frames-") as tmp:
        from backend.bench import write_models

        base, motion = write_models(Path(tmp), args.full_size, max(32, *args.frames))
        for frames in args.frames:
            for context in (0, args.context_length):
                if context and frames <= context:
                    continue  # one window is the whole clip: the same run as no windows
                row = measure(base, motion, frames, context, width=width, height=height, steps=args.steps,
                              overlap=args.context_overlap, device=args.device)
                rows.append(row)
                print(f"{frames:4d} frames  {'windows ' + str(context) if context else 'no windows':>11}  "
                      f"peak {row['peak_bytes'] / 2**20:9.1f} MiB  {row['s_per_step']:.3f} s/step  {row['device']}",
                      flush=True)
    if args.json:
        args.json.write_text(json.dumps({"width": width, "height": height, "steps": args.steps,
                                         "full_size": args.full_size, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    print(json.dumps(_measure_here(json.loads(sys.argv[1]))))

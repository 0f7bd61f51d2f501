"""Measure the AnimateDiff paper's claims on the built-in model: `python scripts/paper_benchmark.py`.

Writes paper-benchmark.md and .json into --out (default build/paper-benchmark); docs/builtin-model.md
carries the table of the last recorded run. See backend/training/paper_benchmark.py for what each row means.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from backend.runtime import configure_offline_runtime

    configure_offline_runtime()
    import torch

    from backend.training.paper_benchmark import ROWS, PaperBenchmark, to_markdown, write_results

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=50, help="seeds per row (default 50)")
    p.add_argument("--steps", type=int, default=20, help="denoising steps per clip (default 20)")
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "paper-benchmark")
    p.add_argument("--model-dir", type=Path, help="a copy of models/builtin to measure (default: models/builtin)")
    p.add_argument("--ablation-dir", type=Path, default=ROOT / "build" / "ablation",
                   help="transformer/ and conv1d/ motion modules from scripts/train_ablation.py")
    args = p.parse_args(argv)
    rows = tuple(r for r in args.rows.split(",") if r)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        p.error(f"--rows: {unknown[0]!r} is not a row; rows: {', '.join(ROWS)}")
    torch.set_num_threads(args.threads)

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    from models.builtin import builtin_model_paths

    model = builtin_model_paths(args.model_dir) if args.model_dir else builtin_model_paths()
    results = PaperBenchmark(model, seeds=args.seeds, steps=args.steps, log=log,
                             ablation_dir=args.ablation_dir).run(rows)
    path = write_results(results, args.out)
    print(to_markdown(results))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

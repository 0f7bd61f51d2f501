"""Train the built-in model from nothing, seeded, on a CPU: `python scripts/train_builtin.py`.

Runs the stages of `backend/training/builtin_recipe.py` in order (each skipped when its output already exists
in the work folder, and resumed from its last checkpoint when it was interrupted), then writes the shipped
fp16 files into models/builtin/. `--scale 0.05` is a smoke run of every stage in a few minutes.
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
    from backend.training.builtin_recipe import STAGES, RecipeSettings, run_recipe, seed_from_shipped
    from models.camera import CAMERA_MOVES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / "build" / "builtin-work", help="intermediate files")
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every stage's steps (smoke runs)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is faster on a shared 2-core machine)")
    p.add_argument("--moves", default=",".join(CAMERA_MOVES),
                   help="comma-separated camera moves whose MotionLoRAs the motion-loras stage trains")
    p.add_argument("--from-shipped", action="store_true",
                   help="first fill the work folder from models/builtin/ (retrain one stage or some MotionLoRAs "
                        "without the stages before; remove a move's folder or a stage's output to retrain it; the "
                        "adapter the module and MotionLoRAs train on is not shipped: add the domain-adapter stage)")
    p.add_argument("--ship-to", type=Path, help="the ship stage writes here instead of models/builtin/ (a trial "
                                                 "for paper_benchmark.py --model-dir)")
    p.add_argument("--v-prediction", action="store_true",
                   help="trial: the base on v-prediction with zero-terminal-SNR betas (the shipped run: epsilon)")
    p.add_argument("--caption-dropout", type=float, default=0.0,
                   help="trial: share of empty captions for the adapter, module and LoRA stages (shipped run: 0)")
    args = p.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        p.error(f"--stages: {unknown[0]!r} is not a stage; stages: {', '.join(STAGES)}")
    moves = tuple(m for m in args.moves.split(",") if m)
    if bad := [m for m in moves if m not in CAMERA_MOVES]:
        p.error(f"--moves: {bad[0]!r} is not a camera move; moves: {', '.join(CAMERA_MOVES)}")

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    if args.from_shipped:
        seed_from_shipped(args.work, log)
    run_recipe(args.work, stages, RecipeSettings(scale=args.scale, threads=args.threads, moves=moves,
                                                 ship_to=args.ship_to, v_prediction=args.v_prediction,
                                                 caption_dropout=args.caption_dropout, log=log))
    return 0


if __name__ == "__main__":
    sys.exit(main())

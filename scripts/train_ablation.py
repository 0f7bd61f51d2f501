"""Train the ablation pair on the built-in model's data: `python scripts/train_ablation.py [--steps 1200]`.

The paper's temporal transformer and a 1D temporal convolution (`--motion-variant conv1d`), each from zero
for the same steps on the same procedural clips (the motion-module stage of the built-in recipe: same seed,
learning rate, batch), the base frozen with the domain adapter merged. Writes build/ablation/{transformer,conv1d};
`scripts/paper_benchmark.py --rows ablation-conv1d` then compares how far their clips move. The transformer run
is the recipe's motion-module stage itself, so `--variants conv1d` and a copy of the stage's
`motion_module.safetensors` as `transformer/` give the same pair in half the time.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from backend.runtime import configure_offline_runtime

    configure_offline_runtime()
    import torch

    from backend.training.builtin_recipe import motion_module_config
    from backend.training.trainers import run_trainer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1200,
                   help="the recipe's motion-module steps (at 400 the pair differed by 5%%, within noise)")
    p.add_argument("--variants", default="transformer,conv1d")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "builtin-work", help="the recipe's work folder")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "ablation")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--caption-dropout", type=float, default=0.0, help="as the recipe run it pairs with")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for variant in [v for v in args.variants.split(",") if v]:
        config = motion_module_config(args.work, args.steps, args.out / variant, variant, args.caption_dropout)
        config = dataclasses.replace(config, loop=dataclasses.replace(config.loop, sample_every=0))  # no samples

        def progress(p, variant: str = variant) -> None:  # noqa: ANN001 - TrainingProgress
            if p.step % 25 == 0 or p.step == p.total:
                print(f"{time.strftime('%H:%M:%S')} [{variant}] step {p.step}/{p.total} loss {p.loss:.4f}", flush=True)

        run_trainer(config, on_progress=progress, log=print)
    return 0


if __name__ == "__main__":
    sys.exit(main())

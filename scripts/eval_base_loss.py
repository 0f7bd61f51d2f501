"""Held-out denoising loss of one or more bases (diffusers folders), on the same fixed stills, noise and timesteps.

    python scripts/eval_base_loss.py models/builtin/base work/base/pipeline ...

Lower is better. The training loss of a single batch moves by +-30% from step to step; this is the number to
compare two bases (a refine, another width) by.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from backend.engine.base_loader import load_base
    from backend.training.base_model import held_out_loss

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bases", nargs="+", type=Path, help="diffusers base folders")
    p.add_argument("--count", type=int, default=512, help="held-out stills (default 512)")
    args = p.parse_args()
    torch.set_num_threads(1)
    for folder in args.bases:
        base = load_base(folder, torch.float32)
        loss = held_out_loss(base.unet, base.vae, base.text_encoder, base.tokenizer, count=args.count,
                             schedule=base.schedule)
        print(f"{folder}: held-out loss {loss:.5f} ({args.count} stills)")


if __name__ == "__main__":
    main()

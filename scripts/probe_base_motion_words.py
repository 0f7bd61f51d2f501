"""Does a base draw the motion words? Where the shape sits (mean centroid over fixed seeds) per motion word, from
the base alone (no motion module), and how far apart its text encoder puts "moving left" and "moving right".

    python scripts/probe_base_motion_words.py [BASE_FOLDER] [--seeds 16]

The motion module has no text input: it can only follow what the frozen base's features say about the prompt.
If every word gives the same picture here, no motion-module training will make the prompt's direction win.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("moving left", "moving right", "moving up", "moving down", "")


def main() -> None:
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    from backend.training.base_model import load_tokenizer
    from backend.training.motion_measure import track
    from models.builtin import builtin_model_paths

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", nargs="?", type=Path, default=builtin_model_paths().base, help="a diffusers base folder")
    p.add_argument("--seeds", type=int, default=16, help="pictures per word and colour")
    args = p.parse_args()
    torch.set_num_threads(1)
    pipe = StableDiffusionPipeline.from_pretrained(args.base, tokenizer=load_tokenizer(), safety_checker=None,
                                                   feature_extractor=None, requires_safety_checker=False,
                                                   dtype=torch.float32)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    for word in WORDS:
        xs, ys = [], []
        for colour in ("red", "blue"):
            prompt = f"a {colour} circle {word}".strip()
            images = pipe([prompt] * args.seeds, num_inference_steps=10, guidance_scale=4.0, height=64, width=64,
                          generator=torch.Generator().manual_seed(0), output_type="np").images
            for image in images:
                found = track([(image * 255).astype(np.uint8)])[0]
                if found.found:
                    xs.append(found.x)
                    ys.append(found.y)
        se = np.std(xs) / np.sqrt(max(len(xs), 1))
        print(f"{word or '(no motion word)':16s} shapes {len(xs):3d}  x {np.mean(xs):5.1f}  y {np.mean(ys):5.1f}"
              f"  (standard error {se:.1f} px)")
    ids = [pipe.tokenizer(f"a red circle moving {d}", padding="max_length", max_length=77,
                          return_tensors="pt").input_ids for d in ("left", "right")]
    with torch.no_grad():
        left, right = (pipe.text_encoder(i).last_hidden_state[0] for i in ids)
    print(f"text encoder: 'moving left' vs 'moving right' differ by {((left - right).norm() / right.norm()):.1%} "
          "(relative L2 over the 77 positions)")


if __name__ == "__main__":
    main()

"""How much of a clip's direction its noisy version still shows, per schedule: the motion a module can read from
the noise instead of the prompt (`backend/training/noise_evidence.py`).

    python scripts/probe_noise_evidence.py [BASE_FOLDER] [--clips 24]

Renders direction clips (left/right/up/down, seeded), encodes them with the base's VAE and prints, for the
paper's linear schedule and for zero terminal SNR, d' between each clip and its time reverse at high timesteps
and how often the best possible test tells them apart. Where that is high at t = 999, a module trained on the
schedule learns to take its direction from the noise (and samples a random one); check a schedule here before
training a module on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMESTEPS = (999, 950, 900, 800, 500)


def main() -> None:
    from diffusers import AutoencoderKL

    from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule
    from backend.runtime import configure_offline_runtime
    from backend.training.datasets import to_pixels
    from backend.training.diffusion import make_noise_scheduler
    from backend.training.noise_evidence import best_test_accuracy, reversal_evidence
    from backend.training.shapes import DIRECTIONS, random_clip, render_clip
    from models.builtin import builtin_model_paths

    configure_offline_runtime()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", nargs="?", type=Path, default=builtin_model_paths().base, help="a diffusers base folder")
    p.add_argument("--clips", type=int, default=24, help="direction clips to encode")
    args = p.parse_args()
    torch.set_num_threads(1)
    vae = AutoencoderKL.from_pretrained(args.base, subfolder="vae", local_files_only=True).float().eval()
    moves = list(DIRECTIONS)
    latents = []
    for i in range(args.clips):
        spec = random_clip(np.random.default_rng([7, i]), 64, 16, moves[i % len(moves)])
        pixels = to_pixels(render_clip(spec, 64, watermark=False))
        with torch.no_grad():
            latents.append(vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor)
    distance = np.median([float((z - z.flip(0)).norm()) for z in latents])
    print(f"{args.clips} direction clips through {args.base}/vae: median ||z - z_reversed|| = {distance:.1f}")
    for name, schedule in (("linear (the paper's, SD1.5's)", SD15_SCHEDULE),
                           ("zero terminal SNR", NoiseSchedule("v_prediction", zero_terminal_snr=True))):
        alphas = make_noise_scheduler(schedule).alphas_cumprod
        cells = [f"t={t}: d'={d:.2f} ({best_test_accuracy(d):.0%})"
                 for t, d in reversal_evidence(latents, alphas, TIMESTEPS).items()]
        print(f"{name}: " + ", ".join(cells))


if __name__ == "__main__":
    main()

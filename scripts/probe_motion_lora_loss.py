"""Did each MotionLoRA learn its camera move? The denoising loss of every shipped MotionLoRA on held-out clips of
every move, against the frozen motion module alone.

    python scripts/probe_motion_lora_loss.py [--clips 8] [--draws 4] [--model-dir build/camera-domain/model]

Same objective, noise and timesteps as training (base with the domain adapter merged, motion module frozen), on
procedural scenes no LoRA saw. A LoRA that learned its move lowers the loss on its own move's clips more than on
the others' (the diagonal of the table); if it does, and sampling still does not show the move
(scripts/paper_benchmark.py), the failure is in sampling, not in training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from backend.runtime import configure_offline_runtime

    configure_offline_runtime()
    from diffusers import UNetMotionModel

    from backend.engine.base_loader import load_base
    from backend.engine.motion_loader import load_motion_module
    from backend.training.datasets import CameraMoveClips, procedural_scenes
    from backend.training.diffusion import DiffusionObjective
    from backend.training.lora_files import merge_lora, read_lora_pairs
    from models.builtin import builtin_model_paths
    from models.camera import CAMERA_MOVES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=8, help="held-out clips per move")
    p.add_argument("--draws", type=int, default=4, help="noise/timestep draws per clip")
    p.add_argument("--model-dir", type=Path, help="a folder laid out like models/builtin (default: models/builtin)")
    args = p.parse_args()
    torch.set_num_threads(1)
    model = builtin_model_paths(args.model_dir) if args.model_dir else builtin_model_paths()
    base = load_base(model.base, torch.float32)
    merge_lora(base.unet, read_lora_pairs(model.domain_adapter, "domain_adapter"), 1.0, "domain_adapter")
    unet = UNetMotionModel.from_unet2d(base.unet, load_motion_module(model.motion_module, torch.float32).adapter)
    objective = DiffusionObjective(unet.eval(), base.vae, base.text_encoder.eval(), base.tokenizer,
                                   schedule=base.schedule)
    # seeds far from the recipe's (SEED + 40..47): scenes and strengths no LoRA trained on
    data = {move: CameraMoveClips(procedural_scenes(args.clips, 96, seed=7000 + i), move, 16, 64, seed=7100 + i)
            for i, move in enumerate(CAMERA_MOVES)}

    def losses() -> dict[str, float]:
        out = {}
        with torch.no_grad():
            for move, clips in data.items():
                total = 0.0
                for c in range(len(clips)):
                    item = clips[c]
                    for d in range(args.draws):
                        g = torch.Generator().manual_seed(1000 * c + d)
                        total += float(objective(item["pixels"][None], [item["caption"]], g))
                out[move] = total / (len(clips) * args.draws)
        return out

    plain = losses()
    print("rows: the MotionLoRA applied; columns: the move of the held-out clips; cells: loss change vs the module "
          "alone, %")
    print(f"{'':20}" + "".join(f"{m:>19}" for m in CAMERA_MOVES))
    print(f"{'(module alone)':20}" + "".join(f"{plain[m]:>19.5f}" for m in CAMERA_MOVES))
    for move, path in sorted(model.camera.items(), key=lambda kv: CAMERA_MOVES.index(kv[0])):
        pairs = read_lora_pairs(path, "motion_lora")
        merge_lora(unet, pairs, 1.0, "motion_lora")
        with_lora = losses()
        merge_lora(unet, pairs, -1.0, "motion_lora")  # back to the module alone
        cells = "".join(f"{100 * (with_lora[m] / plain[m] - 1):>+18.1f}{'*' if m == move else ' '}"
                        for m in CAMERA_MOVES)
        print(f"{move:20}{cells}", flush=True)


if __name__ == "__main__":
    main()

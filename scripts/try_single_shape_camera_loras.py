"""Try: camera MotionLoRAs trained on one-shape scenes, as the motion module's clips and the benchmark's prompts are.

    python scripts/try_single_shape_camera_loras.py --moves pan-left [--steps 400]
    python scripts/paper_benchmark.py --model-dir build/single-shape/model --rows pan-left,pan-right

The recipe's camera clips are cut from scenes of 1-3 shapes; sampled with the shipped LoRAs, "a red circle" clips
often grow a second shape, which moves the tracked centroid and area the same way for opposite moves
(docs/builtin-model.md). Here each move's LoRA is trained as the recipe does (same steps, rate, seeds) on scenes of
one shape. `build/single-shape/model/` is a copy of models/builtin with these LoRAs, for the paper benchmark.
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
    from backend.engine.base_loader import load_base
    from backend.engine.motion_loader import load_motion_module
    from backend.training.builtin_recipe import FRAMES, SEED, write_model_variant
    from backend.training.datasets import CameraMoveClips, procedural_scenes
    from backend.training.loop import LoopSettings, run_training
    from backend.training.lora_files import merge_lora, read_lora_pairs
    from backend.training.motion_lora import MotionLoraTask
    from models.builtin import builtin_model_paths
    from models.camera import CAMERA_MOVES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=ROOT / "build" / "single-shape")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--moves", default="pan-left,pan-right")
    args = p.parse_args()
    torch.set_num_threads(1)
    model, work = builtin_model_paths(), args.work
    order = sorted(CAMERA_MOVES, key=lambda m: m != "zoom-in")  # the recipe's order: its seeds per move
    for move in [m for m in args.moves.split(",") if m]:
        out = work / "loras" / move
        if (out / "motion_lora.safetensors").is_file():
            continue
        i = order.index(move)
        base = load_base(model.base, torch.float32)  # as the recipe trains: the domain adapter merged
        merge_lora(base.unet, read_lora_pairs(model.domain_adapter, "domain_adapter"), 1.0, "domain_adapter")
        task = MotionLoraTask(base, load_motion_module(model.motion_module, torch.float32).adapter, 8, move,
                              sample_steps=8)
        data = CameraMoveClips(procedural_scenes(40, 96, SEED + 40 + i, shapes=1), move, FRAMES, 64,
                               seed=SEED + 40 + i)
        settings = LoopSettings(steps=args.steps, learning_rate=1e-3, batch_size=2, seed=SEED + 50 + i,
                                device="cpu", checkpoint_every=30, sample_every=0, log_every=10)
        run_training(task, data, settings, out, resume=True,
                     on_progress=lambda pr, m=move: print(f"[{m}] step {pr.step} loss {pr.loss:.4f}", flush=True)
                     if pr.step % 25 == 0 else None)

    moves = write_model_variant(work / "model", work / "loras")  # what the benchmark measures
    print(f"[model] {work / 'model'}: {', '.join(moves)}", flush=True)


if __name__ == "__main__":
    main()

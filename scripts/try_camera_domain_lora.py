"""Try: a camera-domain LoRA under the camera MotionLoRAs, as the domain adapter is under the motion module.

    python scripts/try_camera_domain_lora.py [--domain-steps 300] [--move-steps 300] [--moves pan-left,pan-right]
    python scripts/paper_benchmark.py --model-dir build/camera-domain/model --rows pan-left,pan-right

scripts/probe_motion_lora_loss.py found that each shipped MotionLoRA learned mostly what all synthesized camera
clips share (its loss falls 15-22% on every move's clips, 2-4 points more on its own). Here one LoRA is first
trained on the clips of all eight moves together (the recipe's own clips and seeds) and merged into the motion
module; each move's LoRA is then trained on top of that module, so what it learns is the move alone. The output,
`build/camera-domain/model/`, is a copy of models/builtin with the merged module and the new LoRAs, for the
paper benchmark (whose control is then the merged module without a LoRA). Each part is skipped when its output
exists, so two runs with different --moves can share the work.
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
    from torch.utils.data import ConcatDataset

    from backend.engine.base_loader import load_base
    from backend.engine.motion_loader import load_motion_module
    from backend.training.builtin_recipe import FRAMES, SEED, write_model_variant
    from backend.training.config import DataConfig, TrainConfig
    from backend.training.datasets import CameraMoveClips, procedural_scenes
    from backend.training.loop import LoopSettings, run_training
    from backend.training.lora_files import merge_lora, read_lora_pairs
    from backend.training.motion_lora import MotionLoraTask
    from backend.training.motion_module import export_motion_module
    from backend.training.trainers import run_trainer
    from models.builtin import builtin_model_paths
    from models.camera import CAMERA_MOVES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=ROOT / "build" / "camera-domain")
    p.add_argument("--domain-steps", type=int, default=300)
    p.add_argument("--move-steps", type=int, default=300)
    p.add_argument("--moves", default="pan-left,pan-right")
    args = p.parse_args()
    torch.set_num_threads(1)
    model, work = builtin_model_paths(), args.work
    order = sorted(CAMERA_MOVES, key=lambda m: m != "zoom-in")  # the recipe's order: its seeds per move

    # The frozen base with the domain adapter merged, as the recipe trains on it; since 2026-12-08 the shipped
    # adapter is the finished (1000-step) one, the recipe's module and MotionLoRAs trained on its 300-step state.
    def training_base():
        base = load_base(model.base, torch.float32)
        merge_lora(base.unet, read_lora_pairs(model.domain_adapter, "domain_adapter"), 1.0, "domain_adapter")
        return base

    merged = work / "module" / "motion_module.safetensors"
    if not merged.is_file():
        domain_lora = work / "domain" / "motion_lora.safetensors"
        if not domain_lora.is_file():
            base = training_base()
            adapter = load_motion_module(model.motion_module, torch.float32).adapter
            task = MotionLoraTask(base, adapter, 8, "camera-domain", sample_steps=8)
            data = ConcatDataset([CameraMoveClips(procedural_scenes(40, 96, SEED + 40 + i), move, FRAMES, 64,
                                                  seed=SEED + 40 + i) for i, move in enumerate(order)])
            settings = LoopSettings(steps=args.domain_steps, learning_rate=1e-3, batch_size=2, seed=SEED + 90,
                                    device="cpu", checkpoint_every=50, sample_every=0, log_every=10)
            run_training(task, data, settings, work / "domain", resume=True,
                         on_progress=lambda pr: print(f"[domain] step {pr.step} loss {pr.loss:.4f}", flush=True)
                         if pr.step % 25 == 0 else None)
        loaded = load_motion_module(model.motion_module, torch.float32)
        unet = UNetMotionModel.from_unet2d(load_base(model.base, torch.float32).unet, loaded.adapter)
        merge_lora(unet, read_lora_pairs(domain_lora, "motion_lora"), 1.0, "motion_lora")
        export_motion_module(unet, dict(loaded.adapter.config), work / "module")
        print(f"[domain] merged into {merged}", flush=True)

    for move in [m for m in args.moves.split(",") if m]:
        out = work / "loras" / move
        if (out / "motion_lora.safetensors").is_file():
            continue
        i = order.index(move)
        config = TrainConfig(
            kind="motion-lora", output_dir=str(out), base=str(model.base), resume=True, motion_module=str(merged),
            domain_adapter=str(model.domain_adapter), rank=8, sample_prompt="a red circle", sample_steps=8,
            data=DataConfig(source="camera", camera_move=move, count=40, frames=FRAMES, size=64, seed=SEED + 40 + i),
            loop=LoopSettings(steps=args.move_steps, learning_rate=1e-3, batch_size=2, seed=SEED + 50 + i,
                              device="cpu", checkpoint_every=30, sample_every=0, log_every=10))
        run_trainer(config, on_progress=lambda pr, m=move: print(f"[{m}] step {pr.step} loss {pr.loss:.4f}",
                                                                  flush=True) if pr.step % 25 == 0 else None)

    moves = write_model_variant(work / "model", work / "loras", merged)  # what the benchmark measures
    print(f"[model] {work / 'model'}: {', '.join(moves)}", flush=True)


if __name__ == "__main__":
    main()

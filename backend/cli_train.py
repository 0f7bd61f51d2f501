"""`animatediff-studio train domain-adapter | motion-module | motion-lora`: a config file, flags on top.

Flags override the file (`--steps 300` beats `[loop] steps = 500`); `--set data.count=40` sets any field.
Parsing imports nothing heavy; torch loads only when a run starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.camera import CAMERA_MOVES
from models.motion_config import MOTION_VARIANTS

_KINDS = {
    "domain-adapter": "LoRA on the frozen base's attention, trained on single video frames (absorbs the video look)",
    "motion-module": "a MotionAdapter trained on clips, base frozen, zero-initialised outputs",
    "motion-lora": "LoRA on a motion module's self-attention from 20-50 clips of one camera move",
}
# flag -> config key (dotted for the data/loop tables)
_FLAGS = {
    "base": "base", "motion_module": "motion_module", "domain_adapter": "domain_adapter", "out": "output_dir",
    "rank": "rank", "sample_prompt": "sample_prompt", "data": "data.path", "source": "data.source",
    "move": "data.camera_move", "count": "data.count", "frames": "data.frames", "stride": "data.stride",
    "size": "data.size", "steps": "loop.steps", "lr": "loop.learning_rate", "batch_size": "loop.batch_size",
    "seed": "loop.seed", "device": "loop.device", "mixed_precision": "loop.mixed_precision",
    "checkpoint_every": "loop.checkpoint_every", "sample_every": "loop.sample_every",
    "motion_variant": "motion_variant", "caption_dropout": "caption_dropout",
}


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a domain adapter, a motion module or a MotionLoRA",
                       description="Train one of the AnimateDiff paper's three modules (see docs/training.md).")
    kinds = p.add_subparsers(dest="kind", required=True)
    for kind, text in _KINDS.items():
        k = kinds.add_parser(kind, help=text, description=text)
        k.add_argument("--config", type=Path, help="a .toml or .json training config")
        k.add_argument("--out", help="output folder (checkpoints, samples, loss.csv/png, the trained files)")
        k.add_argument("--base", help="SD1.5-family base (path or store name); default: the built-in base")
        k.add_argument("--motion-module", help="motion module to train on (motion-lora) or start from")
        k.add_argument("--domain-adapter", help="domain adapter merged into the frozen base while training")
        k.add_argument("--data", help="folder of clips (mp4/webm/gif/frame folders) or, with --source camera, "
                                      "of stills/clips to move the camera over")
        k.add_argument("--source", choices=("synthetic", "folder", "camera"),
                       help="data source (default: folder when --data is given, else synthetic; camera for "
                            "motion-lora with --move)")
        k.add_argument("--move", choices=CAMERA_MOVES, help="camera move to synthesize (motion-lora)")
        if kind == "motion-module":
            k.add_argument("--motion-variant", choices=MOTION_VARIANTS,
                           help="transformer (the paper's, default), hybrid (EasyAnimate: global attention on odd "
                                "modules) or conv1d (the ablation)")
        for name, kind_ in (("rank", int), ("count", int), ("frames", int), ("stride", int), ("size", int),
                            ("steps", int), ("lr", float), ("caption-dropout", float), ("batch-size", int),
                            ("seed", int), ("checkpoint-every", int), ("sample-every", int)):
            k.add_argument(f"--{name}", type=kind_)
        k.add_argument("--sample-prompt")
        k.add_argument("--device", choices=("auto", "cpu"))
        k.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"))
        k.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
        k.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any config field, e.g. data.moves=left,right or loop.lr_warmup_steps=50 (JSON values)")
        k.set_defaults(func=run_train)


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {"kind": args.kind}
    for flag, key in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            out[key] = value
    if args.source is None and args.move and args.kind == "motion-lora":
        out["data.source"] = "camera"
    elif args.source is None and args.data:
        out["data.source"] = "folder"
    if args.resume:
        out["resume"] = True
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            from models.errors import InvalidInputError

            raise InvalidInputError(f"--set: {item!r} is not KEY=VALUE", field="set")
        out[key.strip()] = _value(value)
    return out


def run_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from backend.training.config import config_from_dict, merge, read_config_file
    from backend.training.trainers import run_trainer
    from models.errors import InvalidInputError

    raw = read_config_file(args.config) if args.config else {}
    raw = merge(raw, overrides_from_args(args))
    if "output_dir" not in raw:
        raise InvalidInputError("output_dir: missing; give --out FOLDER (or output_dir in the config)",
                                field="output_dir")
    config = config_from_dict(raw)
    bar = tqdm(total=config.loop.steps, unit="step", file=sys.stderr, desc=config.kind)

    def on_progress(p) -> None:  # noqa: ANN001 - TrainingProgress (import kept lazy)
        bar.n = p.step
        bar.set_postfix(loss=f"{p.loss:.4f}")
        bar.refresh()

    try:
        result = run_trainer(config, on_progress=on_progress, log=lambda m: print(m, file=sys.stderr))
    finally:
        bar.close()
    for role, path in result.outputs.items():
        print(f"{role}: {path}")
    print(f"{result.steps_done} steps in {result.seconds:.0f} s; loss log {Path(config.output_dir) / 'loss.csv'}")
    return 0

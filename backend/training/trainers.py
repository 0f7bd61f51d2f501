"""`run_trainer(config)`: one call from a `TrainConfig` to trained files; what the CLI, the service and the
desktop Training view call.

Example:
    >>> from backend.training.config import DataConfig, TrainConfig
    >>> from backend.training.loop import LoopSettings
    >>> cfg = TrainConfig(kind="motion-lora", output_dir="runs/zoom", motion_module="mm.safetensors",
    ...                   data=DataConfig(source="camera", camera_move="zoom-in", count=40),
    ...                   loop=LoopSettings(steps=300, learning_rate=1e-4, batch_size=2))
    >>> result = run_trainer(cfg, on_progress=lambda p: print(p.step, p.loss))
    >>> result.outputs["original"]
    PosixPath('runs/zoom/motion_lora.safetensors')
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from backend.engine.base_loader import BaseComponents, load_base
from backend.engine.motion_loader import check_adapter_fits_base, load_motion_module
from backend.engine.motion_variants import apply_motion_variant
from backend.training.clip_folder import load_clip_folder
from backend.training.config import TrainConfig, check_config
from backend.training.datasets import (
    CameraMoveClips,
    ProceduralClips,
    ProceduralVideoFrames,
    SampleList,
    VideoFrames,
    procedural_scenes,
)
from backend.training.loop import TrainingProgress, TrainingResult, TrainingTask, run_training
from backend.training.lora_files import merge_lora, read_lora_pairs
from models.errors import InvalidInputError
from models.resolve import resolve_model


def default_base() -> str:
    """The built-in base, used when a config names none."""
    from models.builtin import builtin_model_paths

    return str(builtin_model_paths().base)


def load_training_base(config: TrainConfig) -> BaseComponents:
    """The frozen base in fp32 (training precision), with the domain adapter merged in when one is given."""
    path = resolve_model(config.base or default_base(), "checkpoints", "base")
    base = load_base(path, torch.float32)
    for module in (base.unet, base.vae, base.text_encoder):
        module.requires_grad_(False).eval()
    if config.domain_adapter and config.kind != "domain-adapter":
        adapter = resolve_model(config.domain_adapter, "domain-adapters", "domain_adapter")
        merge_lora(base.unet, read_lora_pairs(adapter, "domain_adapter"), 1.0, "domain_adapter")
    return base


def build_dataset(config: TrainConfig, log: Callable[[str], None] = print) -> Dataset:
    """The data set `config.data` describes: clips for the motion trainers, single frames for the adapter."""
    d = config.data
    frames_only = config.kind == "domain-adapter"
    if d.source == "synthetic":
        kind = ProceduralVideoFrames if frames_only else ProceduralClips
        return kind(d.count, d.size, d.frames, d.seed, moves=d.moves, watermark=d.watermark)
    if d.source == "folder":
        samples, report = load_clip_folder(Path(d.path), d.frames, d.stride, d.size)
        log(f"data {d.path}: {report.summary()}")
        if not samples:
            raise InvalidInputError(f"data.path: no usable clip in {d.path}; {report.summary()}", field="data.path")
        clips = SampleList(samples)
        return VideoFrames(clips, d.seed) if frames_only else clips
    # camera: a move synthesized from stills/clips (a folder) or from procedural scenes
    if d.path:
        sources, report = load_clip_folder(Path(d.path), d.frames, 1, d.size * 3 // 2, allow_stills=True)
        log(f"data {d.path}: {report.summary()}")
        if not sources:
            raise InvalidInputError(f"data.path: no usable picture or clip in {d.path}", field="data.path")
        sources = sources[: d.count]
    else:
        sources = procedural_scenes(d.count, d.size * 3 // 2, d.seed)
    move = d.camera_move or "zoom-in"
    clips = CameraMoveClips(sources, move, d.frames, d.size, d.camera_strength, seed=d.seed)
    return VideoFrames(clips, d.seed) if frames_only else clips


def build_task(config: TrainConfig, base: BaseComponents) -> TrainingTask:
    from backend.training.domain_adapter import DomainAdapterTask
    from backend.training.motion_lora import MotionLoraTask
    from backend.training.motion_module import MotionModuleTask, new_motion_adapter

    size = config.data.size
    if config.kind == "domain-adapter":
        return DomainAdapterTask(base, config.rank, (config.sample_prompt,), config.sample_steps,
                                 caption_dropout=config.caption_dropout)
    given_variant = "transformer"
    if config.motion_module:
        path = resolve_model(config.motion_module, "motion-modules", "motion_module")
        loaded = load_motion_module(path, torch.float32)  # refuses a conv1d module: no attention to adapt
        check_adapter_fits_base(loaded.info, base.unet)
        adapter, given_variant = loaded.adapter, loaded.variant
    else:
        adapter = new_motion_adapter(base.unet, max_seq_length=max(32, config.data.frames))
    if config.kind == "motion-module":
        return MotionModuleTask(base, adapter, sample_prompt=config.sample_prompt, sample_frames=config.data.frames,
                                sample_size=size, sample_steps=config.sample_steps, variant=config.motion_variant,
                                caption_dropout=config.caption_dropout)
    task = MotionLoraTask(base, adapter, config.rank, config.data.camera_move or "", config.sample_prompt,
                          config.data.frames, size, config.sample_steps, caption_dropout=config.caption_dropout)
    apply_motion_variant(task.unet, given_variant)  # a hybrid module's LoRA trains with its global layers
    return task


def run_trainer(
    config: TrainConfig,
    *,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Validate, load, build data and task, train, export; `config.json` records the run in its folder."""
    check_config(config)
    torch.manual_seed(config.loop.seed)
    base = load_training_base(config)
    dataset = build_dataset(config, log)
    task = build_task(config, base)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    return run_training(task, dataset, config.loop, out, resume=config.resume, on_progress=on_progress,
                        should_cancel=should_cancel)

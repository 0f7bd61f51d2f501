"""The training loop every trainer shares, on `accelerate`: the same code on a CPU, one GPU or many.

A trainer is a `TrainingTask`: an objective module (`forward(pixels, captions, generator) -> loss`) whose
trainable parameters are the ones left with `requires_grad`, plus how to checkpoint, sample and export them.
`run_training` owns the rest: the optimizer, warm-up, gradient accumulation and clipping, checkpoints and
resume, a sample clip every N steps, the loss log (CSV + PNG), progress reports and cancellation.

Reproducibility: batch k and the noise of step s depend only on (seed, k) and (seed, s, process), so a run
resumed from a checkpoint continues exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from diffusers.optimization import get_scheduler
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from backend.training.checkpoints import Checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from backend.training.loop_settings import LoopSettings  # its torch-free home; still importable from here
from backend.training.plotting import LossRow, plot_loss, read_loss_csv, write_loss_csv
from models.errors import InvalidInputError


@dataclass(frozen=True)
class TrainingProgress:
    """One optimizer step done: what a progress bar, an API job or the desktop view shows."""

    step: int
    total: int
    loss: float
    seconds: float


@dataclass
class TrainingResult:
    steps_done: int
    cancelled: bool
    seconds: float
    losses: list[LossRow] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)  # what `export` wrote, by role


class TrainingTask(ABC):
    """One trainer's model and files. `objective` is what accelerate wraps."""

    name: str = "training"
    objective: nn.Module

    def parameters_to_train(self) -> list[nn.Parameter]:
        params = [p for p in self.objective.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError(f"{self.name}: nothing to train (no parameter requires grad)")
        return params

    @abstractmethod
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The trained weights only, by stable names (what a checkpoint stores)."""

    @abstractmethod
    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        """Put `trainable_state()`'s output back (resume)."""

    @abstractmethod
    def export(self, folder: Path) -> dict[str, Path]:
        """Write the finished model files; returns them by role ("original", "diffusers", ...)."""

    def sample(self, step: int, folder: Path) -> Path | None:
        """Render a small sample (a GIF) with the weights as they are; None if this task has none."""
        return None


class StepSampler(Sampler[int]):
    """Indices of an endless, seeded stream: epoch e visits the data set in permutation(seed, e).

    Starting at `start` (a sample count) gives exactly the stream an uninterrupted run saw from there.
    """

    def __init__(self, size: int, seed: int, start: int = 0, shuffle: bool = True) -> None:
        if size < 1:
            raise InvalidInputError("data: the data set is empty; nothing to train on", field="data")
        self.size, self.seed, self.start, self.shuffle = size, seed, start, shuffle

    def __iter__(self) -> Iterator[int]:
        k = self.start
        while True:
            epoch, offset = divmod(k, self.size)
            order = (np.random.default_rng([self.seed, epoch]).permutation(self.size) if self.shuffle
                     else np.arange(self.size))
            for i in order[offset:]:
                yield int(i)
            k = (epoch + 1) * self.size

    def __len__(self) -> int:  # endless; DataLoader only needs a number
        return 2**62


def _collate(items: list[dict]) -> dict:
    return {"pixels": torch.stack([i["pixels"] for i in items]), "caption": [i["caption"] for i in items]}


def _step_generator(device: torch.device, seed: int, step: int, process: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step * 7919 + process) % 2**63)


def run_training(
    task: TrainingTask,
    dataset: Dataset,
    settings: LoopSettings,
    output_dir: Path,
    *,
    resume: bool = False,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train `task` on `dataset` for `settings.steps` optimizer steps; write checkpoints, samples, the loss log
    and, at the end, the exported model files into `output_dir`. Cancelling saves a checkpoint to resume from."""
    output_dir.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(cpu=settings.device == "cpu", mixed_precision=settings.mixed_precision,
                              gradient_accumulation_steps=settings.gradient_accumulation_steps)
    params = task.parameters_to_train()
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    # accelerate steps a prepared scheduler once per process for every optimizer step: count in those steps.
    per_step = accelerator.num_processes
    lr_scheduler = get_scheduler("constant_with_warmup" if settings.lr_schedule == "constant" else settings.lr_schedule,
                                 optimizer, num_warmup_steps=settings.lr_warmup_steps * per_step,
                                 num_training_steps=settings.steps * per_step)

    # 1. Resume: weights, optimizer, schedule and the loss rows up to the checkpoint
    start, rows = 0, []
    if resume and (found := list_checkpoints(output_dir)):
        ckpt = load_checkpoint(found[-1])
        task.load_trainable_state(ckpt.weights)
        optimizer.load_state_dict(ckpt.optimizer)
        lr_scheduler.load_state_dict(ckpt.lr_scheduler)
        start = ckpt.step
        rows = [r for r in read_loss_csv(output_dir / "loss.csv") if r.step <= start]

    # 2. Data: a seeded endless stream, positioned where the run stands
    per_step = settings.batch_size * settings.gradient_accumulation_steps * accelerator.num_processes
    loader = DataLoader(dataset, batch_size=settings.batch_size, collate_fn=_collate,
                        num_workers=settings.num_workers,
                        sampler=StepSampler(len(dataset), settings.seed, start * per_step))
    model, optimizer, loader, lr_scheduler = accelerator.prepare(task.objective, optimizer, loader, lr_scheduler)
    batches = iter(loader)

    def checkpoint(at: int) -> None:
        if accelerator.is_main_process:
            save_checkpoint(output_dir, Checkpoint(at, task.trainable_state(), optimizer.state_dict(),
                                                   lr_scheduler.state_dict()))
            _write_log(rows, output_dir, task.name)

    def sample(at: int) -> None:
        if accelerator.is_main_process:
            model.eval()
            with torch.no_grad():
                task.sample(at, output_dir / "samples")
            model.train()

    # 3. Optimise
    model.train()
    t0 = time.perf_counter() - (rows[-1].seconds if rows else 0.0)
    step, cancelled = start, False
    while step < settings.steps:
        generator = _step_generator(accelerator.device, settings.seed, step, accelerator.process_index)
        total = 0.0
        for _ in range(settings.gradient_accumulation_steps):
            batch = next(batches)
            with accelerator.accumulate(model):
                loss = model(batch["pixels"], batch["caption"], generator)
                accelerator.backward(loss)
                if accelerator.sync_gradients and settings.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(params, settings.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            total += accelerator.reduce(loss.detach(), "mean").item()
        step += 1
        row = LossRow(step, total / settings.gradient_accumulation_steps, lr_scheduler.get_last_lr()[0],
                      time.perf_counter() - t0)
        rows.append(row)
        if on_progress is not None:
            on_progress(TrainingProgress(step, settings.steps, row.loss, row.seconds))
        if settings.log_every and step % settings.log_every == 0 and accelerator.is_main_process:
            write_loss_csv(rows, output_dir / "loss.csv")
        if settings.sample_every and step % settings.sample_every == 0 and step < settings.steps:
            sample(step)
        if should_cancel is not None and should_cancel():
            cancelled = True
            break
        if settings.checkpoint_every and step % settings.checkpoint_every == 0 and step < settings.steps:
            checkpoint(step)

    # 4. Finish: a checkpoint to resume from, the loss log, a last sample and (unless cancelled) the model files
    checkpoint(step)
    outputs: dict[str, Path] = {}
    if not cancelled:
        sample(step)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            outputs = task.export(output_dir)
    return TrainingResult(step - start, cancelled, time.perf_counter() - t0, rows, outputs)


def _write_log(rows: list[LossRow], output_dir: Path, title: str) -> None:
    write_loss_csv(rows, output_dir / "loss.csv")
    plot_loss(rows, output_dir / "loss.png", title=f"{title} loss")

"""`LoopSettings`: how long and how to optimise, with no torch import.

It lives apart from `loop.py` so that validating a training config (`config.py`) costs no torch/accelerate
import: the service checks a training request at submission and must answer in milliseconds, not the ~8 s
those imports take. `loop.py` re-exports it, so `from backend.training.loop import LoopSettings` still works.
"""

from __future__ import annotations

from dataclasses import dataclass

LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine", "linear")


@dataclass(frozen=True)
class LoopSettings:
    """How long and how to optimise; the trainers' configs carry one of these (see `config.py`)."""

    steps: int = 500
    learning_rate: float = 1e-4
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    lr_warmup_steps: int = 0
    lr_schedule: str = "constant"  # after the warm-up: "constant", "cosine" or "linear" (to 0 at the last step)
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # "no", "fp16" (GPU), "bf16"
    device: str = "auto"  # "auto" (what accelerate finds) or "cpu"
    seed: int = 0
    checkpoint_every: int = 0  # 0: only at the end
    sample_every: int = 0  # 0: only at the end
    log_every: int = 10
    num_workers: int = 0

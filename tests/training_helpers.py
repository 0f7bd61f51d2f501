"""Shared by the trainer tests: a batch from a procedural data set, and a task's loss on one fixed batch."""

from __future__ import annotations

import torch


def batch_of(dataset, n: int) -> tuple[torch.Tensor, list[str]]:  # noqa: ANN001 - any procedural data set
    items = [dataset[i] for i in range(n)]
    return torch.stack([i["pixels"] for i in items]), [i["caption"] for i in items]


def fixed_batch_losses(task, pixels: torch.Tensor, captions: list[str], steps: int, lr: float  # noqa: ANN001
                       ) -> tuple[float, float]:
    """Loss on one batch with fixed noise and timesteps, before and after `steps` optimizer steps on it."""
    opt = torch.optim.AdamW(task.parameters_to_train(), lr=lr)

    def loss() -> torch.Tensor:
        return task.objective(pixels, captions, torch.Generator().manual_seed(0))

    with torch.no_grad():
        before = loss().item()
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        return before, loss().item()

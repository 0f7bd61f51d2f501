"""The loss curve's trend line, standard library only: the trainer's PNG and the desktop app's live plot (whose
bundle carries neither torch nor PIL) draw the same one."""

from __future__ import annotations


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to `window` values (the first points average what there is so far)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out

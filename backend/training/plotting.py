"""The loss curve: `loss.csv` (step, loss, learning rate, seconds) and `loss.png`, drawn with PIL.

PIL instead of matplotlib: it is already a dependency, and a loss curve needs only axes, a polyline and a
moving average.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from backend.training.smoothing import moving_average

CSV_FIELDS = ("step", "loss", "lr", "seconds")


@dataclass(frozen=True)
class LossRow:
    step: int
    loss: float
    lr: float
    seconds: float


def write_loss_csv(rows: list[LossRow], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for r in rows:
            writer.writerow([r.step, f"{r.loss:.6g}", f"{r.lr:.6g}", f"{r.seconds:.3f}"])
    return path


def read_loss_csv(path: Path) -> list[LossRow]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [LossRow(int(r["step"]), float(r["loss"]), float(r["lr"]), float(r["seconds"]))
                for r in csv.DictReader(f)]


def plot_loss(rows: list[LossRow], path: Path, title: str = "training loss", size: tuple[int, int] = (720, 400)
              ) -> Path:
    """Raw loss in light grey, its moving average in blue, on a log axis when the loss spans a decade."""
    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 12), title, fill="black")
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    if rows:
        steps = [r.step for r in rows]
        losses = [max(r.loss, 1e-12) for r in rows]
        log = max(losses) / min(losses) > 10
        f = math.log10 if log else (lambda v: v)
        lo, hi = f(min(losses)), f(max(losses))
        hi = hi if hi > lo else lo + 1e-6
        s0, s1 = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1

        def point(step: int, loss: float) -> tuple[float, float]:
            x = left + (step - s0) / (s1 - s0) * (width - left - right)
            y = height - bottom - (f(loss) - lo) / (hi - lo) * (height - top - bottom)
            return x, y

        draw.line([point(s, v) for s, v in zip(steps, losses, strict=True)], fill=(190, 190, 190), width=1)
        smooth = moving_average(losses, max(1, len(losses) // 20))
        draw.line([point(s, v) for s, v in zip(steps, smooth, strict=True)], fill=(30, 80, 200), width=2)
        for value, y in ((max(losses), top), (min(losses), height - bottom)):
            draw.text((4, y - 6), f"{value:.4g}", fill="black")
        draw.text((left, height - bottom + 8), str(s0), fill="black")
        draw.text((width - right - 40, height - bottom + 8), str(s1), fill="black")
        draw.text((width // 2 - 20, height - 20), "step" + ("  (log loss)" if log else ""), fill="black")
    img.save(path)
    return path

"""What a base model predicts and on which noise schedule, read from its `scheduler/scheduler_config.json`.

SD1.5 and most of its fine-tunes predict the noise (`epsilon`) on the linear 0.00085-0.012 schedule, whose last
step keeps 4% of the picture's amplitude (alpha-bar 0.0016 at t=999), so training never sees pure noise though
sampling starts from it. Some fine-tunes instead predict the velocity (`v_prediction`) on the same betas rescaled
to zero terminal SNR (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed"): t=999 is
pure noise in training too. The folder's scheduler config says which; a sampler built for the other kind
draws noise, so the engine and every trainer take it from here. The betas are always AnimateDiff's linear ones
(its motion modules are trained and sampled on them, whatever the folder's `beta_schedule`), as the official
inference configs do. Single files carry no scheduler config and are read as SD1.5 (epsilon).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import WrongModelKindError

PREDICTION_TYPES = ("epsilon", "v_prediction")
LINEAR_SCHEDULE: dict[str, Any] = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                                   "beta_schedule": "linear"}


@dataclass(frozen=True)
class NoiseSchedule:
    prediction_type: str = "epsilon"
    zero_terminal_snr: bool = False

    def scheduler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every diffusers scheduler of the engine takes on top of the linear betas."""
        kwargs: dict[str, Any] = {**LINEAR_SCHEDULE, "prediction_type": self.prediction_type}
        if self.zero_terminal_snr:
            # Trailing spacing starts sampling at t=999, the step the rescaled schedule makes pure noise (paper, 3.3).
            kwargs.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
        return kwargs

    def config_entries(self) -> dict[str, Any]:
        """What a pipeline folder's scheduler_config.json records of this schedule."""
        return {"prediction_type": self.prediction_type, "rescale_betas_zero_snr": self.zero_terminal_snr,
                "timestep_spacing": "trailing" if self.zero_terminal_snr else "linspace"}


SD15_SCHEDULE = NoiseSchedule()


def read_noise_schedule(folder: Path, field: str = "base") -> NoiseSchedule:
    """The schedule of a diffusers pipeline folder; SD1.5's when it has no scheduler config."""
    path = folder / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        return SD15_SCHEDULE
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WrongModelKindError(f"{field}: {path} is not readable JSON ({exc})", field=field) from exc
    prediction = config.get("prediction_type", "epsilon")
    if prediction not in PREDICTION_TYPES:
        raise WrongModelKindError(
            f"{field}: {path} has prediction_type {prediction!r}; supported: {', '.join(PREDICTION_TYPES)}",
            field=field)
    return NoiseSchedule(prediction, bool(config.get("rescale_betas_zero_snr", False)))

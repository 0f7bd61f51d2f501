"""Load a state dict into a model built from a derived config, refusing any key mismatch.

A missing weight must never stay random and an unexpected one must never be dropped silently (what
diffusers' own loaders do with a warning), so both are an `IncompatibleModelsError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from models.errors import IncompatibleModelsError


def load_exactly(model: torch.nn.Module, state: dict[str, torch.Tensor], *, path: Path, field: str, what: str) -> None:
    """`model` (parameters on `meta` are fine: they are assigned) gets exactly `state`'s tensors.

    The sinusoidal position tables (`pos_embed.pe`) are the one exception: diffusers computes them, files may
    omit them. `what` completes "does not match ..." in the error.
    """
    expected = set(model.state_dict())
    missing = sorted(k for k in expected - set(state) if not k.endswith("pos_embed.pe"))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise IncompatibleModelsError(
            f"{field}: {path} does not match {what} ({len(missing)} missing, e.g. {missing[:3]}; "
            f"{len(unexpected)} unexpected, e.g. {unexpected[:3]})", field=field)
    try:
        model.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as exc:  # same names, other shapes: made for other widths
        raise IncompatibleModelsError(f"{field}: {path} does not match {what} ({str(exc)[:300]})",
                                      field=field) from exc

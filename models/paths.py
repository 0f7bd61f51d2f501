"""Where the tool keeps its own files (platformdirs), overridable for tests and portable installs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "animatediff-studio"
# Folder per kind in the tool's own store.
STORE_KINDS = ("checkpoints", "motion-modules", "motion-loras", "loras", "domain-adapters", "sparsectrl", "vae",
               "embeddings")


def data_dir() -> Path:
    env = os.environ.get("ANIMATEDIFF_STUDIO_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    env = os.environ.get("ANIMATEDIFF_STUDIO_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_NAME))


def store_dir(kind: str) -> Path:
    if kind not in STORE_KINDS:
        raise ValueError(f"unknown store kind {kind!r}; expected one of {', '.join(STORE_KINDS)}")
    return data_dir() / "models" / kind


def extra_model_dirs() -> list[Path]:
    """User roots from ANIMATEDIFF_STUDIO_MODEL_DIRS (os.pathsep separated), searched after the store."""
    raw = os.environ.get("ANIMATEDIFF_STUDIO_MODEL_DIRS", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]

"""Process-wide settings every entry point applies before loading models: offline, and quiet libraries."""

from __future__ import annotations

import logging
import os


def configure_offline_runtime() -> None:
    """Never reach a model hub at run time (every file comes from the disk), and keep library chatter out.

    diffusers/transformers/peft warn on routine dtype casts; users see our progress and errors instead.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for name in ("diffusers", "transformers", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)

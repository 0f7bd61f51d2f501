"""Test-only fault injection, chosen by the environment so tests drive the real service unpatched.

`ANIMATEDIFF_STUDIO_FAULTS=oom_once` raises a real `torch.cuda.OutOfMemoryError` at the first
denoising step of the first job that reaches one; the worker must fail that job and keep serving.
"""

from __future__ import annotations

import os
import threading

FAULTS_ENV = "ANIMATEDIFF_STUDIO_FAULTS"
KNOWN_FAULTS = ("oom_once",)


class FaultInjector:
    def __init__(self, spec: str | None = None) -> None:
        raw = os.environ.get(FAULTS_ENV, "") if spec is None else spec
        self._pending = {name.strip() for name in raw.split(",") if name.strip()}
        unknown = self._pending - set(KNOWN_FAULTS)
        if unknown:
            raise ValueError(f"{FAULTS_ENV}: unknown fault {sorted(unknown)[0]!r}; known: {', '.join(KNOWN_FAULTS)}")
        self._lock = threading.Lock()

    def _take(self, name: str) -> bool:
        with self._lock:
            if name in self._pending:
                self._pending.discard(name)
                return True
            return False

    def at_denoising_step(self) -> None:
        """Called from the worker's progress callback, i.e. inside the engine's denoising loop."""
        if self._take("oom_once"):
            import torch

            raise torch.cuda.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate 2.00 GiB (injected by {FAULTS_ENV}=oom_once)"
            )

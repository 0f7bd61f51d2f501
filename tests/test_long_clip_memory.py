"""Context windows keep a long clip's peak memory at the level of one window (measured in fresh processes)."""

from __future__ import annotations

from backend.bench import write_models
from backend.bench_frames import measure


def test_64_frames_in_windows_peak_like_16_frames(tmp_path):
    base, motion = write_models(tmp_path, full_size=False, max_frames=64)
    size = {"width": 128, "height": 128, "steps": 1}
    sixteen = measure(base, motion, 16, 0, **size)
    windowed = measure(base, motion, 64, 16, **size)
    unwindowed = measure(base, motion, 64, 0, **size)
    mib = 2**20
    # The bound: 64 frames in windows of 16 peak within 10% (+ 8 MiB of sampling noise) of a 16-frame clip...
    assert windowed["peak_bytes"] <= 1.1 * sixteen["peak_bytes"] + 8 * mib, (sixteen, windowed)
    # ...while the same 64 frames in one piece measurably do not: the measurement sees the growth.
    assert unwindowed["peak_bytes"] >= 1.3 * sixteen["peak_bytes"], (sixteen, unwindowed)

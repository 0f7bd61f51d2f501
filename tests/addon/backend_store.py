"""Fill a service's model store with tiny models. Run by the BACKEND's interpreter (it needs torch):

    python tests/addon/backend_store.py DATA_DIR   ->  prints {"camera_moves": [...], "models": {...}} as JSON

The add-on's own venv has no torch, by design; this script is the one place its tests build models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from models.camera import CAMERA_MOVES, OFFICIAL_MOTION_LORAS
from models.testing.tiny_base import build_tiny_base, save_single_file
from models.testing.tiny_motion import (
    build_tiny_motion_adapter,
    domain_adapter_state,
    kohya_lora_state,
    motion_lora_state,
    save_lora,
    save_motion_module,
)
from models.testing.tiny_sparsectrl import build_tiny_sparsectrl, save_sparsectrl


def fill_store(data_dir: Path) -> dict[str, str]:
    store = data_dir / "models"
    base, adapter = build_tiny_base(0), build_tiny_motion_adapter(0)
    files = {
        "checkpoint": save_single_file(base, store / "checkpoints" / "tiny_base.safetensors"),
        "motion_module": save_motion_module(adapter, store / "motion-modules" / "tiny_mm.ckpt", "original"),
        # Camera moves resolve to the official MotionLoRA file names in the store's motion-loras folder.
        "zoom_in": save_lora(motion_lora_state(adapter, seed=1),
                             store / "motion-loras" / OFFICIAL_MOTION_LORAS["zoom-in"]),
        "lora": save_lora(kohya_lora_state(base.unet, seed=4), store / "loras" / "tiny_style.safetensors"),
        "domain_adapter": save_lora(domain_adapter_state(base.unet, seed=3),
                                    store / "domain-adapters" / "tiny_adapter.ckpt"),
        # The official v3 layout (diffusers names, motion modules in AnimateDiff's), as a user downloads it.
        "sparsectrl": save_sparsectrl(build_tiny_sparsectrl("rgb"), store / "sparsectrl" / "tiny_sparsectrl_rgb.ckpt"),
    }
    return {k: str(v) for k, v in files.items()}


if __name__ == "__main__":
    print(json.dumps({"camera_moves": list(CAMERA_MOVES), "models": fill_store(Path(sys.argv[1]))}))

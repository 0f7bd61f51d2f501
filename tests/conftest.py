"""Shared set-up: no network, private data/config dirs, and tiny models built once in every format."""

from __future__ import annotations

import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

# The add-on's tests need Blender's `bpy` module, which lives in its own venv (see scripts/test.sh).
collect_ignore = [] if importlib.util.find_spec("bpy") else ["addon"]

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address) -> None:  # noqa: ANN001
    """Any attempt to reach a hub fails loudly instead of hanging or silently downloading."""
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or "/" in host):
        raise OSError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ANIMATEDIFF_STUDIO_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("ANIMATEDIFF_STUDIO_CONFIG_DIR", str(root / "config"))
    monkeypatch.delenv("ANIMATEDIFF_STUDIO_MODEL_DIRS", raising=False)
    return root


@dataclass
class TinyFiles:
    """Paths of one tiny model written in every format users have (same weights everywhere)."""

    base_folder: Path
    base_safetensors: Path
    base_ckpt_wrapped: Path
    base_fp16: Path
    mm_original_ckpt: Path
    mm_original_fp16: Path
    mm_diffusers_file: Path
    mm_folder: Path
    mm_v3_like: Path
    motion_lora_original: Path
    motion_lora_diffusers: Path
    motion_lora_2: Path
    domain_adapter: Path
    kohya_lora: Path


@pytest.fixture(scope="session")
def tiny_models():
    """The in-memory tiny base + motion adapter the files below were written from."""
    from models.testing.tiny_base import build_tiny_base
    from models.testing.tiny_motion import build_tiny_motion_adapter

    return build_tiny_base(0), build_tiny_motion_adapter(0)


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory, tiny_models) -> TinyFiles:
    from models.testing.tiny_base import save_diffusers_folder, save_single_file
    from models.testing.tiny_motion import (
        build_tiny_motion_adapter,
        domain_adapter_state,
        kohya_lora_state,
        motion_lora_state,
        save_lora,
        save_motion_module,
    )

    d = tmp_path_factory.mktemp("tiny")
    base, adapter = tiny_models
    v3_like = build_tiny_motion_adapter(1, mid_block=False)
    return TinyFiles(
        base_folder=save_diffusers_folder(base, d / "base-diffusers"),
        base_safetensors=save_single_file(base, d / "base.safetensors"),
        base_ckpt_wrapped=save_single_file(base, d / "base-wrapped.ckpt", wrap=True),
        base_fp16=save_single_file(base, d / "base-fp16.safetensors", fp16=True),
        mm_original_ckpt=save_motion_module(adapter, d / "mm_tiny_v2.ckpt", "original"),
        mm_original_fp16=save_motion_module(adapter, d / "mm_tiny_v2_fp16.safetensors", "original", fp16=True),
        mm_diffusers_file=save_motion_module(adapter, d / "mm_tiny_diffusers.safetensors", "diffusers"),
        mm_folder=save_motion_module(adapter, d / "mm-folder", "folder"),
        mm_v3_like=save_motion_module(v3_like, d / "mm_tiny_v3.ckpt", "original"),
        motion_lora_original=save_lora(motion_lora_state(adapter, seed=1), d / "ml_zoom_original.ckpt"),
        motion_lora_diffusers=save_lora(motion_lora_state(adapter, seed=1, layout="diffusers"),
                                        d / "ml_zoom_diffusers.safetensors"),
        motion_lora_2=save_lora(motion_lora_state(adapter, seed=2), d / "ml_pan_original.ckpt"),
        domain_adapter=save_lora(domain_adapter_state(base.unet, seed=3), d / "adapter_tiny.ckpt"),
        kohya_lora=save_lora(kohya_lora_state(base.unet, seed=4), d / "style_kohya.safetensors"),
    )


@pytest.fixture
def make_request(tiny_files: TinyFiles):
    """Build a fast request on the tiny model (64x64, 8 frames, 3 steps) with overrides."""
    from backend.engine.request import GenerationRequest

    def make(**overrides):
        fields = dict(prompt="a red circle moving right", base=str(tiny_files.base_safetensors),
                      motion_module=str(tiny_files.mm_original_ckpt), width=64, height=64, frames=8, steps=3,
                      guidance=7.5, seed=42)
        fields.update(overrides)
        return GenerationRequest(**fields)

    return make


@pytest.fixture(scope="session")
def engine():
    """One engine for the session: its pipeline cache makes repeated tiny runs cheap."""
    from backend.engine.engine import AnimationEngine

    return AnimationEngine(device="cpu")

"""Write a clip's outputs: `frames/0000.png ...`, `animation.mp4`, `animation.gif`, `metadata.json`."""

from __future__ import annotations

import json
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
from PIL import Image
from safetensors.torch import save_file

from backend.engine.continuation import LATENTS_FILE
from backend.engine.engine import GenerationResult
from models.hashing import sha256_path

_PACKAGES = ("animatediff-studio", "torch", "diffusers", "transformers", "peft", "accelerate", "safetensors",
             "numpy", "pillow", "imageio-ffmpeg")
METADATA_FORMAT = 1


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_metadata(result: GenerationResult) -> dict[str, Any]:
    """Everything needed to reproduce the clip bit for bit on the same machine."""
    m = result.models
    return {
        "format": METADATA_FORMAT,
        "request": result.request.to_dict(),
        "seed": result.request.seed,
        "models": {
            "base": {"path": str(m.base), "sha256": sha256_path(m.base)},
            "motion_module": {"path": str(m.motion_module), "sha256": sha256_path(m.motion_module),
                              "version": result.motion_module_version},
            "adapters": [
                {"field": a.field, "kind": a.kind, "path": str(a.path), "weight": a.weight,
                 "sha256": sha256_path(a.path)}
                for a in m.adapters
            ],
        },
        "references": [
            {"frame": r.frame, "image": r.image, "path": str(path), "sha256": sha256_path(path)}
            for r, path in zip(result.request.references, m.references, strict=True)
        ],
        "video": [{"path": str(path), "sha256": sha256_path(path)} for path in m.video],
        "sparsectrl": {"path": str(m.sparsectrl), "sha256": sha256_path(m.sparsectrl),
                       "weight": result.request.sparsectrl.weight} if m.sparsectrl else None,
        "extend": {"path": str(m.extend), "sha256": sha256_path(m.extend / "metadata.json")} if m.extend else None,
        "device": result.device,
        "versions": package_versions(),
        "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        "pipeline_cached": result.pipeline_cached,  # base + motion module reused from the previous job
        "peak_memory_bytes": result.peak_memory_bytes,
        "memory_plan": result.memory_plan.to_dict() if result.memory_plan else None,
    }


def write_frames(frames: list[Image.Image], out_dir: Path) -> list[Path]:
    folder = out_dir / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / f"{i:04d}.png"
        frame.save(path)
        paths.append(path)
    return paths


def write_mp4(frames: list[Image.Image], path: Path, fps: int) -> Path:
    """H.264 in yuv420p (plays everywhere); sizes are multiples of 8, so no resizing is needed."""
    width, height = frames[0].size
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=2,
        quality=8, ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(np.asarray(frame.convert("RGB"))))
    writer.close()
    return path


def write_gif(frames: list[Image.Image], path: Path, fps: int) -> Path:
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0,
                   disposal=2)
    return path


def write_outputs(result: GenerationResult, out_dir: Path) -> dict[str, Any]:
    """Write all four outputs; returns the metadata written (with the list of files)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fps = result.request.fps
    frame_paths = write_frames(result.frames, out_dir)
    write_mp4(result.frames, out_dir / "animation.mp4", fps)
    write_gif(result.frames, out_dir / "animation.gif", fps)
    files = [p.relative_to(out_dir).as_posix() for p in frame_paths] + ["animation.mp4", "animation.gif"]
    if result.latents is not None:
        # The clip's final latents: a continuation pins them, so its overlap decodes to exactly these frames.
        save_file({"latents": result.latents.contiguous()}, str(out_dir / LATENTS_FILE),
                  metadata={"first_frame": str(result.latents_first_frame)})
        files.append(LATENTS_FILE)
    meta = build_metadata(result)
    meta["files"] = files
    (out_dir / "metadata.json").write_text(json.dumps(meta, indent=2))
    return meta

"""`animatediff-studio generate` writes all four outputs, and repeats a clip from its metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
from PIL import Image

from backend.cli import main


def _tiny_args(tiny_files, out) -> list[str]:
    return ["generate", "a red circle moving right", "--base", str(tiny_files.base_safetensors),
            "--motion-module", str(tiny_files.mm_original_ckpt), "--motion-lora",
            f"{tiny_files.motion_lora_original}:0.8", "--width", "80", "--height", "64", "--frames", "8",
            "--steps", "3", "--seed", "42", "--fps", "8", "--out", str(out)]


def test_console_script_writes_frames_mp4_gif_and_metadata(tmp_path, tiny_files):
    out = tmp_path / "clip"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "backend.cli", *_tiny_args(tiny_files, out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    frames = sorted((out / "frames").glob("*.png"))
    assert [f.name for f in frames] == [f"{i:04d}.png" for i in range(8)]
    assert all(Image.open(f).size == (80, 64) for f in frames)
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out / "animation.mp4"))
    assert n_frames == 8
    gif = Image.open(out / "animation.gif")
    assert gif.n_frames == 8 and gif.size == (80, 64)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 42 and meta["request"]["frames"] == 8
    assert len(meta["models"]["base"]["sha256"]) == 64
    assert meta["models"]["adapters"][0]["weight"] == 0.8 and len(meta["models"]["adapters"][0]["sha256"]) == 64
    assert meta["versions"]["diffusers"].startswith("0.42")
    assert "denoising" in proc.stderr  # the progress bar


def test_from_metadata_repeats_the_clip_exactly(tmp_path, tiny_files):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(_tiny_args(tiny_files, first)) == 0
    assert main(["generate", "--from-metadata", str(first / "metadata.json"), "--out", str(again)]) == 0
    for a, b in zip(sorted((first / "frames").glob("*.png")), sorted((again / "frames").glob("*.png")), strict=True):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_bad_input_exits_2_with_the_field_named(tmp_path, tiny_files, capsys):
    args = _tiny_args(tiny_files, tmp_path / "x")
    args[args.index("--width") + 1] = "500"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "invalid_input" in err and "width" in err and "500" in err and "multiple of 8" in err


def test_unknown_camera_move_exits_2(tmp_path, tiny_files, capsys):
    assert main([*_tiny_args(tiny_files, tmp_path / "x"), "--camera", "dolly-zoom:1"]) == 2
    assert "dolly-zoom" in capsys.readouterr().err


def test_reference_option_takes_a_frame_after_the_last_at(tmp_path):
    from backend.cli import build_parser
    from backend.cli_generate import request_from_args
    from backend.engine.request import ReferenceFrame

    odd = tmp_path / "me@home.png"
    args = build_parser().parse_args(["generate", "a cat", "--base", "b", "--motion-module", "m",
                                      "--reference", "start.png", "--reference", "end.png@-1",
                                      "--reference", str(odd), "--reference-strength", "0.6"])
    req = request_from_args(args)
    assert req.references == (ReferenceFrame("start.png", 0), ReferenceFrame("end.png", -1),
                              ReferenceFrame(str(odd), 0))
    assert req.reference_strength == 0.6


def test_no_model_arguments_mean_the_built_in_model_with_its_settings():
    from backend.cli import build_parser
    from backend.cli_generate import request_from_args
    from backend.engine.resolved_inputs import resolve_models
    from models.builtin import builtin_model_paths

    builtin = builtin_model_paths()
    req = request_from_args(build_parser().parse_args(["generate", "a red circle moving right", "--camera",
                                                       "zoom-in:0.5", "--steps", "3"]))
    assert (req.base, req.motion_module) == (str(builtin.base), str(builtin.motion_module))
    assert (req.width, req.height, req.frames, req.steps, req.guidance) == (64, 64, 16, 3, 4.0)
    # Its camera moves come with it (and only with it: another base would not fit them).
    (zoom,) = resolve_models(req).adapters
    assert zoom.path == builtin.camera["zoom-in"].resolve() and zoom.weight == 0.5
    own = request_from_args(build_parser().parse_args(["generate", "x", "--base", "b", "--motion-module", "m"]))
    assert (own.width, own.frames, own.steps, own.guidance) == (512, 16, 25, 7.5)

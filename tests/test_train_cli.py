"""`animatediff-studio train ...`: flags over a config file, a tiny real run, errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

from backend.cli import build_parser, main
from backend.cli_train import overrides_from_args
from backend.training.config import config_from_dict, merge, read_config_file


def test_parsing_the_train_command_imports_no_torch():
    code = ("import sys; from backend.cli import build_parser; build_parser().parse_args(['train', 'motion-lora', "
            "'--out', 'x', '--move', 'zoom-in']); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flags_override_the_config_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('kind = "motion-module"\noutput_dir = "from-file"\n[data]\ncount = 40\n[loop]\nsteps = 500\n'
                   'learning_rate = 0.0001\n')
    args = build_parser().parse_args(["train", "motion-lora", "--config", str(cfg), "--out", str(tmp_path / "o"),
                                      "--motion-module", "mm.safetensors", "--move", "zoom-out", "--steps", "7",
                                      "--set", "data.moves=left,right", "--set", "loop.lr_warmup_steps=3"])
    config = config_from_dict(merge(read_config_file(cfg), overrides_from_args(args)))
    assert config.kind == "motion-lora" and config.output_dir == str(tmp_path / "o")
    assert config.data.source == "camera" and config.data.camera_move == "zoom-out" and config.data.count == 40
    assert config.data.moves == ("left", "right")
    assert config.loop.steps == 7 and config.loop.learning_rate == 1e-4 and config.loop.lr_warmup_steps == 3


def test_a_tiny_domain_adapter_run_from_the_command_line(tiny_files, tmp_path, capsys):
    out = tmp_path / "adapter"
    code = main(["train", "domain-adapter", "--base", str(tiny_files.base_folder), "--out", str(out),
                 "--steps", "2", "--batch-size", "2", "--count", "4", "--size", "64", "--device", "cpu",
                 "--set", "sample_steps=1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"original: {out / 'domain_adapter.safetensors'}" in printed
    assert json.loads((out / "config.json").read_text())["loop"]["steps"] == 2
    assert (out / "domain_adapter_diffusers.safetensors").is_file() and (out / "loss.png").is_file()


def test_bad_values_exit_2_naming_the_field(tmp_path, capsys):
    assert main(["train", "motion-module", "--out", str(tmp_path), "--set", "loop.batch_size=0"]) == 2
    assert "loop.batch_size: 0" in capsys.readouterr().err
    assert main(["train", "motion-lora", "--out", str(tmp_path), "--move", "zoom-in"]) == 2
    assert "motion_module: missing" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("kind = \n")
    assert main(["train", "motion-module", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert "is not valid toml" in capsys.readouterr().err


def test_a_data_folder_without_clips_is_reported(tiny_files, tmp_path, capsys):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "broken.mp4").write_bytes(b"junk")
    code = main(["train", "motion-module", "--base", str(tiny_files.base_folder), "--out", str(tmp_path / "o"),
                 "--data", str(tmp_path / "clips"), "--steps", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "data.path" in err and "broken.mp4" in err and "unreadable" in err

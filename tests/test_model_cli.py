"""`animatediff-studio models ...`: the commands of issue 4, run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.cli import main
from models.paths import store_dir
from models.testing.model_zoo import comfyui_tree

REPO = Path(__file__).resolve().parents[1]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _cli(*args: str) -> subprocess.CompletedProcess:
    """A separate process, as a user's shell runs it: nothing is shared with this one but the data dir."""
    return subprocess.run([sys.executable, "-m", "backend.cli", "models", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_info_json_prints_one_object_with_the_contract_fields(capsys, tiny_files):
    code, out, _ = _run(capsys, "info", str(tiny_files.mm_original_ckpt), "--json")
    data = json.loads(out)
    assert code == 0 and data["kind"] == "motion-module" and data["version"] == "custom"
    assert data["format"] == "zip-pickle" and isinstance(data["notes"], list) and data["notes"]
    assert data["sha256"] == hashlib.sha256(tiny_files.mm_original_ckpt.read_bytes()).hexdigest()
    code, out, _ = _run(capsys, "info", str(tiny_files.kohya_lora))
    assert code == 0 and "kind         lora" in out and "sha256" in out


def test_info_of_a_missing_name_exits_2_naming_it(capsys):
    code, _, err = _run(capsys, "info", "no_such_model")
    assert code == 2 and "model_not_found" in err and "no_such_model" in err


def test_add_root_list_and_scan_across_processes(capsys, tmp_path, tiny_files):
    comfy = comfyui_tree(tmp_path / "ComfyUI", {
        "models/checkpoints/dreamshaper.safetensors": tiny_files.base_safetensors,
        "models/animatediff_models/mm_sd_v15_v2.ckpt": tiny_files.mm_original_ckpt,
        "models/animatediff_motion_lora/v2_lora_ZoomIn.ckpt": tiny_files.motion_lora_original})
    code, out, _ = _run(capsys, "add-root", str(comfy))
    assert code == 0 and "(comfyui): 3 model files" in out
    code, out, _ = _run(capsys, "list", "--kind", "motion-modules")
    assert code == 0 and "mm_sd_v15_v2" in out and "dreamshaper" not in out
    first = _cli("scan", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["hashed"] == 3
    again = _cli("scan", "--json")  # a new process: only the index remembers what was hashed
    assert (json.loads(again.stdout)["hashed"], json.loads(again.stdout)["unchanged"]) == (0, 3)
    code, out, _ = _run(capsys, "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["v2_lora_ZoomIn"]["camera_move"] == "zoom-in" and len(listed["dreamshaper"]["sha256"]) == 64
    code, out, _ = _run(capsys, "camera-moves")
    assert "zoom-in" in out and str(comfy / "models/animatediff_motion_lora/v2_lora_ZoomIn.ckpt") in out
    assert "missing: get https://huggingface.co/guoyww/animatediff/resolve/main/v2_lora_PanLeft.ckpt" in out
    code, out, _ = _run(capsys, "roots")
    assert f"{comfy}  (user, comfyui)" in out
    code, out, _ = _run(capsys, "remove-root", str(comfy))
    assert code == 0 and json.loads(_run(capsys, "list", "--json")[1]) == []


def test_check_exits_1_with_the_errors_and_0_when_fine(capsys, tiny_files):
    code, out, _ = _run(capsys, "check", "--base", str(tiny_files.base_safetensors), "--motion-module",
                        str(tiny_files.mm_v3_like), "--motion-lora", f"{tiny_files.motion_lora_original}:0.8",
                        "--domain-adapter", f"{tiny_files.kohya_lora}:0.5")
    assert code == 1
    assert "error [incompatible_models] motion_loras[0]:" in out and "mid block" in out
    assert "error [wrong_model_kind] domain_adapter:" in out and "pass it as loras" in out
    code, out, _ = _run(capsys, "check", "--base", str(tiny_files.base_safetensors), "--motion-module",
                        str(tiny_files.mm_original_ckpt), "--motion-lora", str(tiny_files.motion_lora_original),
                        "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_import_and_remove(capsys, tiny_files):
    code, out, _ = _run(capsys, "import", str(tiny_files.domain_adapter), "--json")
    data = json.loads(out)
    assert code == 0 and data["outcome"] == "copied" and data["kind"] == "domain-adapter"
    assert (store_dir("domain-adapters") / "adapter_tiny.ckpt").is_file()
    code, out, _ = _run(capsys, "remove", "adapter_tiny")
    assert code == 0 and not (store_dir("domain-adapters") / "adapter_tiny.ckpt").exists()


def test_download_offline_says_what_to_fetch_and_where(capsys):
    code, _, err = _run(capsys, "download", "zoom-in")
    assert code == 2 and "error [offline]" in err and "HF_HUB_OFFLINE" in err
    assert "https://huggingface.co/guoyww/animatediff/resolve/main/v2_lora_ZoomIn.ckpt" in err
    assert str(store_dir("motion-loras")) in err
    code, _, err = _run(capsys, "download", "not-a-move")
    assert code == 2 and "v3_sd15_mm.ckpt" in err  # the message lists what is accepted


def test_catalog_lists_the_official_files(capsys, tiny_files):
    store_dir("motion-modules").mkdir(parents=True)
    shutil.copyfile(tiny_files.mm_v3_like, store_dir("motion-modules") / "v3_sd15_mm.ckpt")
    code, out, _ = _run(capsys, "catalog", "--json")
    entries = {e["file"]: e for e in json.loads(out)}
    assert code == 0 and len(entries) == 16
    assert entries["v3_sd15_mm.ckpt"]["present"] and not entries["mm_sd_v15_v2.ckpt"]["present"]
    assert entries["v2_lora_TiltDown.ckpt"]["camera_move"] == "tilt-down"


@pytest.mark.parametrize("kind", ["checkpoints", "sd15-base", "motion-lora"])
def test_list_accepts_kinds_and_store_folder_names(capsys, kind):
    assert _run(capsys, "list", "--kind", kind)[0] == 0


def test_list_rejects_an_unknown_kind_naming_what_is_accepted(capsys):
    code, _, err = _run(capsys, "list", "--kind", "controlnets")
    assert code == 2 and "controlnets" in err and "motion-modules" in err and "sd15-base" in err

"""Detection from file contents: every kind and layout, damaged and hostile files, never loading a tensor."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import torch

from models.checkpoint_reader import load_state_dict
from models.detect import detect
from models.errors import CorruptCheckpointError, StudioError, UnsafeCheckpointError
from models.testing import model_zoo as zoo
from models.testing.files import save_state
from models.testing.tiny_base import ldm_state_dict

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def extra_files(tmp_path_factory: pytest.TempPathFactory, tiny_files, tiny_models) -> dict[str, Path]:
    """Kinds and layouts the session's tiny files do not cover, written from the same tiny models."""
    d = tmp_path_factory.mktemp("zoo")
    base, _ = tiny_models
    mm = load_state_dict(tiny_files.mm_original_ckpt)
    ldm = ldm_state_dict(base)
    sdxl = {**ldm, "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight": torch.zeros(3, 2)}
    sd2 = {k: v for k, v in ldm.items() if not k.startswith("cond_stage_model.")}
    sd2["cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"] = torch.zeros(3, 2)
    files = {
        "sparsectrl_rgb": save_state(zoo.tiny_sparsectrl(True), d / "sc_rgb.safetensors"),
        "sparsectrl_scribble": save_state(zoo.tiny_sparsectrl(False), d / "sc_scribble.ckpt"),
        "vae_ldm": save_state(zoo.tiny_vae_state(ldm=True), d / "vae-ft-mse.safetensors"),
        "vae_diffusers": save_state(zoo.tiny_vae_state(ldm=False), d / "vae" / "diffusion_pytorch_model.safetensors"),
        "hotshotxl": save_state(zoo.hotshot_state(mm), d / "hsxl_temporal_layers.safetensors"),
        "animatelcm": save_state(zoo.animatelcm_state(mm), d / "AnimateLCM_sd15_t2v.ckpt"),
        "sdxl_base": save_state(sdxl, d / "sdxl.safetensors"),
        "sd2_base": save_state(sd2, d / "sd21.safetensors"),
        "unet_only": save_state({k: v for k, v in ldm.items() if k.startswith("model.diffusion_model.")},
                                d / "unet-only.safetensors"),
        "safetensors_as_ckpt": d / "really_safetensors.ckpt",
        "pickle_as_safetensors": d / "really_pickle.safetensors",
        "legacy_pickle": d / "old_motion_lora.pt",
        "parameter_pickle": d / "parameters.pt",
        **{f"embedding_{k}": v for k, v in zoo.embedding_files(d / "embeddings").items()},
    }
    shutil.copyfile(tiny_files.kohya_lora, files["safetensors_as_ckpt"])
    shutil.copyfile(tiny_files.motion_lora_original, files["pickle_as_safetensors"])
    torch.save(load_state_dict(tiny_files.motion_lora_original), files["legacy_pickle"],
               _use_new_zipfile_serialization=False)
    torch.save({"w": torch.nn.Parameter(torch.ones(3)), "step": torch.tensor(7), "tags": {"a", "b"},
                "device": torch.device("cpu"), "dtype": torch.float16}, files["parameter_pickle"])
    return files


# (fixture, attribute, kind, version, layout, format)
CASES = [
    ("tiny", "base_folder", "sd15-base", None, "diffusers", "diffusers-folder"),
    ("tiny", "base_safetensors", "sd15-base", None, "ldm", "safetensors"),
    ("tiny", "base_ckpt_wrapped", "sd15-base", None, "ldm", "zip-pickle"),
    ("tiny", "mm_original_ckpt", "motion-module", "custom", "original", "zip-pickle"),
    ("tiny", "mm_original_fp16", "motion-module", "custom", "original", "safetensors"),
    ("tiny", "mm_diffusers_file", "motion-module", "custom", "diffusers", "safetensors"),
    ("tiny", "mm_folder", "motion-module", "custom", "diffusers", "diffusers-folder"),
    ("tiny", "motion_lora_original", "motion-lora", "v2", "original", "zip-pickle"),
    ("tiny", "motion_lora_diffusers", "motion-lora", "v2", "diffusers", "safetensors"),
    ("tiny", "domain_adapter", "domain-adapter", "v3", "original", "zip-pickle"),
    ("tiny", "kohya_lora", "lora", None, "kohya", "safetensors"),
    ("extra", "sparsectrl_rgb", "sparsectrl", "rgb", "diffusers", "safetensors"),
    ("extra", "sparsectrl_scribble", "sparsectrl", "scribble", "diffusers", "zip-pickle"),
    ("extra", "vae_ldm", "vae", None, "ldm", "safetensors"),
    ("extra", "hotshotxl", "motion-module", "hotshotxl", "hotshotxl", "safetensors"),
    ("extra", "animatelcm", "motion-module", "animatelcm", "original", "zip-pickle"),
    ("extra", "sdxl_base", "sdxl-base", None, "ldm", "safetensors"),
    ("extra", "sd2_base", "sd2-base", None, "ldm", "safetensors"),
    ("extra", "legacy_pickle", "motion-lora", "v2", "original", "legacy-pickle"),
    ("extra", "embedding_a1111_pt", "embedding", None, None, "zip-pickle"),
    ("extra", "embedding_a1111_safetensors", "embedding", None, None, "safetensors"),
    ("extra", "embedding_sdxl", "embedding", None, None, "safetensors"),
    ("extra", "embedding_diffusers", "embedding", None, None, "zip-pickle"),
]


@pytest.mark.parametrize(("source", "name", "kind", "version", "layout", "fmt"), CASES,
                         ids=[c[1] for c in CASES])
def test_every_kind_and_layout_is_told_from_its_contents(tiny_files, extra_files, source, name, kind, version,
                                                          layout, fmt):
    path = getattr(tiny_files, name) if source == "tiny" else extra_files[name]
    info = detect(path)
    assert (info.kind, info.version, info.layout, info.format) == (kind, version, layout, fmt), info.notes


def test_the_evidence_is_in_the_notes_and_details(tiny_files, extra_files):
    mm = detect(tiny_files.mm_original_ckpt)
    assert mm.details["config"]["block_out_channels"] == [32, 64]
    assert mm.details["config"]["motion_max_seq_length"] == 32 and mm.details["config"]["use_motion_mid_block"]
    assert "position table of 32 frames" in mm.notes[0] and "a mid-block module" in mm.notes[0]
    v3 = detect(tiny_files.mm_v3_like)
    assert v3.details["config"]["use_motion_mid_block"] is False and "no mid-block module" in v3.notes[0]
    assert detect(tiny_files.mm_original_fp16).precision == "fp16"
    assert detect(tiny_files.base_fp16).precision == "fp16"
    assert any("no position table" in n for n in detect(extra_files["animatelcm"]).notes)
    assert any("lcm scheduler" in n for n in detect(extra_files["animatelcm"]).notes)
    assert "RGB" in detect(extra_files["sparsectrl_rgb"]).notes[0]
    base = detect(tiny_files.base_safetensors)
    assert base.details["unet"]["block_out_channels"] == [32, 64] and base.details["has_vae"]


def test_families_and_camera_moves(tmp_path, tiny_files, extra_files):
    assert detect(extra_files["embedding_sdxl"]).base_family == "sdxl"
    assert detect(extra_files["embedding_a1111_pt"]).base_family == "sd15"
    assert detect(extra_files["hotshotxl"]).kind == "motion-module"
    # A MotionLoRA's move can only come from its name; it is given when the name says it.
    official = tmp_path / "v2_lora_RollingAnticlockwise.ckpt"
    shutil.copyfile(tiny_files.motion_lora_original, official)
    assert detect(official).camera_move == "roll-anticlockwise"
    assert detect(tiny_files.motion_lora_original).camera_move is None


def test_unusable_bases_say_why(extra_files):
    assert any("SDXL base" in n for n in detect(extra_files["sdxl_base"]).notes)
    assert any("SD2 base" in n for n in detect(extra_files["sd2_base"]).notes)
    unet_only = detect(extra_files["unet_only"])
    assert unet_only.kind == "sd15-base" and any("no VAE and no text encoder" in n for n in unet_only.notes)


def test_a_diffusers_component_folder_is_one_model(extra_files):
    folder = extra_files["vae_diffusers"].parent
    (folder / "config.json").write_text('{"_class_name": "AutoencoderKL"}')
    info = detect(folder)
    assert info.kind == "vae" and info.format == "diffusers-folder" and info.layout == "diffusers"


def test_mislabelled_extensions_are_read_for_what_they_are(extra_files):
    as_ckpt = detect(extra_files["safetensors_as_ckpt"])
    assert as_ckpt.kind == "lora" and as_ckpt.format == "safetensors"
    assert any("named .ckpt but its content is safetensors" in n for n in as_ckpt.notes)
    as_st = detect(extra_files["pickle_as_safetensors"])
    assert as_st.kind == "motion-lora" and as_st.format == "zip-pickle"
    assert any("named .safetensors but its content is a torch pickle" in n for n in as_st.notes)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, tiny_files) -> dict[str, Path]:
    return zoo.write_damaged_files(tmp_path_factory.mktemp("damaged"), tiny_files.base_safetensors,
                                   tiny_files.mm_original_ckpt)


REASONS = {"empty": "empty or truncated", "tiny": "empty or truncated", "text": "first bytes",
           "html": "first bytes", "truncated_safetensors": "is truncated", "truncated_header": "is truncated",
           "bad_json_header": "not valid JSON", "oversize_header": "over the 104857600 bytes",
           "trailing_bytes": "trailing bytes", "truncated_ckpt": "truncated torch checkpoint",
           "broken_zip": "truncated torch checkpoint", "plain_pickle": "not a torch checkpoint"}


@pytest.mark.parametrize("name", sorted(REASONS))
def test_damaged_files_are_corrupt_with_the_reason_and_the_loader_agrees(damaged, name):
    info = detect(damaged[name])
    assert info.kind == "corrupt"
    assert REASONS[name] in info.notes[0] and str(damaged[name]) in info.notes[0]
    with pytest.raises(CorruptCheckpointError):  # the engine's loader refuses exactly these files too
        load_state_dict(damaged[name])


def test_a_planted_malicious_pickle_is_unsafe_and_never_runs(tmp_path):
    evil, marker = zoo.write_malicious(tmp_path)
    info = detect(evil)
    assert info.kind == "unsafe" and info.format == "zip-pickle"
    assert "exec" in info.notes[0] and "refused" in info.notes[0]
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError):  # and the loader refuses it too
        load_state_dict(evil)
    assert not marker.exists()


def test_the_same_payload_in_a_legacy_pickle_is_unsafe_too(tmp_path):
    from models.testing.files import _RunsCode

    marker = tmp_path / "legacy-payload-ran"
    path = tmp_path / "old.pt"
    torch.save({"w": torch.zeros(1), "evil": _RunsCode(f"open({str(marker)!r}, 'w')")}, path,
               _use_new_zipfile_serialization=False)
    info = detect(path)
    assert info.kind == "unsafe" and info.format == "legacy-pickle" and "exec" in info.notes[0]
    assert not marker.exists()


def test_what_torch_accepts_is_not_called_unsafe(extra_files):
    """Parameters, sets, devices and dtypes are in torch's weights-only list: the detector accepts them as well."""
    info = detect(extra_files["parameter_pickle"])
    assert info.kind == "unknown" and info.details["tensors"] == 2
    assert set(load_state_dict(extra_files["parameter_pickle"])) == {"w", "step"}


def test_unknown_files_say_what_they_hold(tmp_path):
    flux_like = save_state({"double_blocks.0.img_attn.qkv.weight": torch.zeros(6, 2)}, tmp_path / "flux.safetensors")
    assert "Flux" in detect(flux_like).notes[0]
    odd = save_state({"encoder.layer.0.weight": torch.zeros(3, 3)}, tmp_path / "bert.safetensors")
    info = detect(odd)
    assert info.kind == "unknown" and "encoder.layer.0.weight" in info.notes[0]
    folder = tmp_path / "just-a-folder"
    folder.mkdir()
    assert detect(folder).kind == "unknown"


def test_a_multi_gigabyte_file_is_detected_from_its_header_alone(tmp_path):
    """A 3.2 GB safetensors (a sparse data section): detection reads the header, not the data."""
    shapes = {f"model.layers.{i}.weight": (4096, 4096) for i in range(100)}
    path = zoo.write_header_only_safetensors(shapes, tmp_path / "big.safetensors", dtype="F16")
    assert path.stat().st_size > 3_000_000_000
    tracemalloc.start()
    t0 = time.perf_counter()
    info = detect(path)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.kind == "unknown" and info.details["tensors"] == 100
    assert seconds < 1.0 and peak < 20 * 1024 * 1024, (seconds, peak)


def test_detection_never_imports_torch(tiny_files):
    code = ("import sys; from pathlib import Path; from models.detect import detect; import models.manager; "
            f"info = detect(Path({str(tiny_files.mm_original_ckpt)!r})); "
            "print(info.kind, 'torch' in sys.modules, 'diffusers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["motion-module", "False", "False"]


def test_hash_of_a_file_is_its_sha256(tiny_files):
    from models.hashing import sha256_file

    seen: list[int] = []
    digest = sha256_file(tiny_files.base_safetensors, seen.append)
    assert digest == hashlib.sha256(tiny_files.base_safetensors.read_bytes()).hexdigest()
    assert sum(seen) == tiny_files.base_safetensors.stat().st_size


def test_detect_reports_unreadable_files(tmp_path):
    path = tmp_path / "locked.safetensors"
    path.write_bytes(b"\x00" * 64)
    path.chmod(0)
    try:
        info = detect(path)
        # root can still read it (then the bytes are simply not a model): either way it is corrupt, not a crash
        assert info.kind == "corrupt"
    finally:
        path.chmod(0o644)
    assert isinstance(info.notes[0], str) and not isinstance(info, StudioError)

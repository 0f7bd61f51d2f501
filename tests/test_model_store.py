"""The tool's store: import files by their detected kind (copy or link), refuse what cannot be used, remove only
what the store owns."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from models.errors import CorruptCheckpointError, InvalidInputError, ModelNotFoundError, UnsafeCheckpointError
from models.manager import ModelManager
from models.paths import store_dir
from models.resolve import resolve_model
from models.testing import model_zoo as zoo


@pytest.fixture
def manager() -> ModelManager:
    m = ModelManager()
    yield m
    m.close()


def test_import_files_by_detected_kind_not_by_name(manager, tmp_path, tiny_files):
    misleading = tmp_path / "totally_a_checkpoint.safetensors"
    shutil.copyfile(tiny_files.motion_lora_diffusers, misleading)
    seen: list[int] = []
    result = manager.import_file(misleading, progress=seen.append)
    dest = store_dir("motion-loras") / "totally_a_checkpoint.safetensors"
    assert result.outcome == "copied" and result.record.path == str(dest)
    assert result.record.sha256 == hashlib.sha256(misleading.read_bytes()).hexdigest() == \
        hashlib.sha256(dest.read_bytes()).hexdigest()
    assert sum(seen) == misleading.stat().st_size  # copy progress, hashed in the same pass
    assert not list(dest.parent.glob(".*.partial"))
    assert resolve_model("totally_a_checkpoint", "motion-loras", "motion_loras[0]") == dest
    assert [r.name for r in manager.list("motion-loras")] == ["totally_a_checkpoint"]


def test_import_a_diffusers_folder_under_another_name(manager, tiny_files):
    result = manager.import_file(tiny_files.base_folder, name="my-base")
    dest = store_dir("checkpoints") / "my-base"
    assert result.record.path == str(dest) and (dest / "unet" / "config.json").is_file()
    assert result.record.kind == "sd15-base" and result.record.is_dir
    assert resolve_model("my-base", "checkpoints", "base") == dest


def test_import_by_link_and_remove_keeps_the_target(manager, tiny_files):
    result = manager.import_file(tiny_files.mm_original_ckpt, link=True)
    dest = store_dir("motion-modules") / "mm_tiny_v2.ckpt"
    assert result.outcome == "linked" and dest.is_symlink() and dest.resolve() == tiny_files.mm_original_ckpt
    removed = manager.remove("mm_tiny_v2")
    assert removed.path == str(dest) and not dest.exists() and not dest.is_symlink()
    assert tiny_files.mm_original_ckpt.is_file()  # the linked file itself is untouched


def test_the_same_file_twice_is_already_there_and_a_different_one_is_refused(manager, tmp_path, tiny_files):
    manager.import_file(tiny_files.kohya_lora)
    assert manager.import_file(tiny_files.kohya_lora).outcome == "already-there"
    other = tmp_path / "style_kohya.safetensors"
    shutil.copyfile(tiny_files.kohya_lora, other)
    other.write_bytes(other.read_bytes()[:-4] + b"\x00\x00\x80\x3f")  # same layout, one weight changed
    with pytest.raises(InvalidInputError) as err:
        manager.import_file(other)
    assert err.value.field == "name" and "different model" in err.value.message
    assert manager.import_file(other, name="style-v2").record.name == "style-v2"


def test_unusable_files_are_refused_with_the_reason(manager, tmp_path, tiny_files):
    damaged = zoo.write_damaged_files(tmp_path, tiny_files.base_safetensors, tiny_files.mm_original_ckpt)
    with pytest.raises(CorruptCheckpointError) as err:
        manager.import_file(damaged["truncated_safetensors"])
    assert "cannot be imported" in err.value.message and "truncated" in err.value.message
    evil, marker = zoo.write_malicious(tmp_path / "evil")
    with pytest.raises(UnsafeCheckpointError):
        manager.import_file(evil)
    assert not marker.exists() and not any(store_dir(k).exists() and any(store_dir(k).iterdir())
                                           for k in ("checkpoints", "motion-modules"))
    with pytest.raises(ModelNotFoundError):
        manager.import_file(tmp_path / "nope.ckpt")
    with pytest.raises(InvalidInputError):
        manager.import_file(tiny_files.kohya_lora, name="../escape")


def test_remove_only_deletes_from_the_store(manager, tmp_path, tiny_files):
    root = tmp_path / "models"
    root.mkdir()
    shutil.copyfile(tiny_files.kohya_lora, root / "their_lora.safetensors")
    manager.add_root(root)
    with pytest.raises(InvalidInputError) as err:
        manager.remove("their_lora")
    assert "not in the tool's store" in err.value.message and (root / "their_lora.safetensors").exists()
    with pytest.raises(ModelNotFoundError):
        manager.remove("never_there")


def test_remove_asks_which_when_a_name_has_several_kinds(manager, tmp_path, tiny_files):
    for folder, source in (("loras", tiny_files.kohya_lora), ("motion-loras", tiny_files.motion_lora_diffusers)):
        store_dir(folder).mkdir(parents=True)
        shutil.copyfile(source, store_dir(folder) / "twin.safetensors")
    with pytest.raises(InvalidInputError) as err:
        manager.remove("twin")
    assert "say which with kind" in err.value.message
    assert manager.remove("twin", kind="lora").path == str(store_dir("loras") / "twin.safetensors")
    assert (store_dir("motion-loras") / "twin.safetensors").exists()

"""Roots and the index: a fake ComfyUI install whose extra_model_paths.yaml adds an A1111 install, rescans that
hash only what changed, and names that resolve for requests wherever the file lives."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from models.errors import ModelNotFoundError
from models.manager import ModelManager
from models.paths import store_dir
from models.resolve import resolve_camera_move, resolve_model
from models.testing.files import save_state
from models.testing.model_zoo import a1111_tree, comfyui_tree, write_damaged_files

EXTRA_YAML = """
a111:
    base_path: ../stable-diffusion-webui
    checkpoints: models/Stable-diffusion
    loras: |
        models/Lora
        models/LyCORIS
    animatediff_models: extensions/sd-webui-animatediff/model
    upscale_models: models/ESRGAN
other:
    base_path: /nonexistent/models
    vae: vae
"""


@pytest.fixture
def installs(tmp_path: Path, tiny_files) -> dict[str, Path]:
    """ComfyUI next to A1111 (reached through ComfyUI's extra_model_paths.yaml), as users lay them out."""
    broken = write_damaged_files(tmp_path / "damaged", tiny_files.base_safetensors, tiny_files.mm_original_ckpt)
    a1111 = a1111_tree(tmp_path / "stable-diffusion-webui", {
        "models/Stable-diffusion/realistic.ckpt": tiny_files.base_ckpt_wrapped,
        "models/Lora/mm_sd15_v2_lora_TiltUp.ckpt": tiny_files.motion_lora_original,
        "models/Lora/detail.safetensors": tiny_files.kohya_lora,
        "extensions/sd-webui-animatediff/model/mm_a1111.safetensors": tiny_files.mm_diffusers_file,
    })
    comfy = comfyui_tree(tmp_path / "ComfyUI", {
        "models/checkpoints/dreamshaper.safetensors": tiny_files.base_safetensors,
        "models/checkpoints/sd15-diffusers": tiny_files.base_folder,
        "models/checkpoints/half-download.safetensors": broken["truncated_safetensors"],
        "models/animatediff_models/mm_tiny_v2.ckpt": tiny_files.mm_original_ckpt,
        "models/animatediff_motion_lora/v2_lora_PanLeft.ckpt": tiny_files.motion_lora_original,
        "models/loras/style.safetensors": tiny_files.kohya_lora,
        "models/loras/zoom_by_mistake.ckpt": tiny_files.motion_lora_2,
        "custom_nodes/ComfyUI-AnimateDiff-Evolved/models/mm_tiny_v3.ckpt": tiny_files.mm_v3_like,
        "output/not_a_model_folder.safetensors": tiny_files.kohya_lora,
    }, extra_yaml=EXTRA_YAML)
    return {"comfy": comfy, "a1111": a1111}


@pytest.fixture
def manager() -> ModelManager:
    m = ModelManager()
    yield m
    m.close()


def _by_name(manager: ModelManager) -> dict[str, object]:
    return {r.name: r for r in manager.list(refresh=False)}


def test_a_comfyui_install_is_recognised_with_its_extra_model_paths(manager, installs):
    root = manager.add_root(installs["comfy"])
    assert root.layout == "comfyui" and root.source == "user"
    labels = {f.label for f in root.folders}
    assert {"ComfyUI models/animatediff_models", "extra_model_paths.yaml a111.loras"} <= labels
    assert any("/nonexistent/models/vae" in n and "does not exist" in n for n in root.notes)
    models = _by_name(manager)
    expected = {"dreamshaper": "sd15-base", "sd15-diffusers": "sd15-base", "half-download": "corrupt",
                "mm_tiny_v2": "motion-module", "v2_lora_PanLeft": "motion-lora", "style": "lora",
                "zoom_by_mistake": "motion-lora", "mm_tiny_v3": "motion-module",
                # from the A1111 install, through extra_model_paths.yaml
                "realistic": "sd15-base", "mm_sd15_v2_lora_TiltUp": "motion-lora", "detail": "lora",
                "mm_a1111": "motion-module"}
    assert {n: r.kind for n, r in models.items()} == expected  # output/ is not a model folder: not scanned
    assert "is truncated" in " ".join(models["half-download"].to_dict()["notes"])
    misplaced = models["zoom_by_mistake"].to_dict()["notes"]
    assert any("found in ComfyUI models/loras" in n and "a MotionLoRA" in n for n in misplaced)
    assert models["mm_sd15_v2_lora_TiltUp"].info.camera_move == "tilt-up"
    # Through ComfyUI's yaml, A1111's Lora folder is ComfyUI's `loras`, where AnimateDiff-Evolved does not look.
    assert any("found in extra_model_paths.yaml a111.loras" in n
               for n in models["mm_sd15_v2_lora_TiltUp"].to_dict()["notes"])


def test_an_a1111_install_added_directly(manager, installs):
    root = manager.add_root(installs["a1111"])
    assert root.layout == "a1111"
    kinds = {r.name: r.kind for r in manager.list(refresh=False)}
    assert kinds == {"realistic": "sd15-base", "mm_sd15_v2_lora_TiltUp": "motion-lora", "detail": "lora",
                     "mm_a1111": "motion-module"}
    assert [r.name for r in manager.list("motion-modules", refresh=False)] == ["mm_a1111"]
    assert [r.name for r in manager.list("motion-lora", refresh=False)] == ["mm_sd15_v2_lora_TiltUp"]
    # sd-webui-animatediff keeps MotionLoRAs in models/Lora: not a misplaced file there.
    assert not any("found in" in n for r in manager.list(refresh=False) for n in r.to_dict()["notes"])


def test_rescanning_an_unchanged_tree_hashes_nothing(manager, installs, tiny_files):
    manager.add_root(installs["comfy"])
    first = manager.scan(hash_files=True)
    usable = first.files - 1  # the truncated download is not hashed
    assert first.hashed == usable and first.problems and "half-download" in first.problems[0]
    again = manager.scan(hash_files=True)
    assert (again.hashed, again.hashed_bytes, again.added, again.changed, again.unchanged) == (0, 0, 0, 0, first.files)
    # One file replaced by other content: only it is read again, and its new hash is recorded.
    style = installs["comfy"] / "models/loras/style.safetensors"
    shutil.copyfile(tiny_files.motion_lora_diffusers, style)
    third = manager.scan(hash_files=True)
    assert (third.changed, third.hashed) == (1, 1)
    record = _by_name(manager)["style"]
    assert record.kind == "motion-lora" and record.sha256 == hashlib.sha256(style.read_bytes()).hexdigest()
    # A deleted file is forgotten.
    (installs["comfy"] / "models/loras/zoom_by_mistake.ckpt").unlink()
    assert manager.scan(hash_files=True).removed == 1 and "zoom_by_mistake" not in _by_name(manager)


def test_scan_reports_progress_per_hashed_chunk(manager, installs):
    manager.add_root(installs["a1111"])
    seen = []
    report = manager.scan(hash_files=True, progress=seen.append)
    hashing = [p for p in seen if p.phase == "hashing"]
    assert hashing and hashing[-1].bytes_done == hashing[-1].bytes_total == report.hashed_bytes
    assert seen[-1].phase == "done"


def test_names_in_any_root_resolve_for_requests(manager, installs):
    manager.add_root(installs["comfy"])
    comfy, a1111 = installs["comfy"], installs["a1111"]
    assert resolve_model("dreamshaper", "checkpoints", "base") == comfy / "models/checkpoints/dreamshaper.safetensors"
    assert resolve_model("realistic", "checkpoints", "base") == a1111 / "models/Stable-diffusion/realistic.ckpt"
    assert resolve_model("mm_tiny_v3", "motion-modules", "motion_module").name == "mm_tiny_v3.ckpt"
    assert resolve_camera_move("pan-left") == comfy / "models/animatediff_motion_lora/v2_lora_PanLeft.ckpt"
    # An A1111-style name is matched through what the index knows about the file.
    assert resolve_camera_move("tilt-up") == a1111 / "models/Lora/mm_sd15_v2_lora_TiltUp.ckpt"
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("dreamshapr", "checkpoints", "base")
    assert "did you mean 'dreamshaper'" in err.value.message and err.value.field == "base"


def test_a_file_added_after_the_scan_resolves_at_once(manager, installs, tiny_files):
    manager.add_root(installs["comfy"])
    shutil.copyfile(tiny_files.base_safetensors, installs["comfy"] / "models/checkpoints/new_download.safetensors")
    path = resolve_model("new_download", "checkpoints", "base")
    assert path == installs["comfy"] / "models/checkpoints/new_download.safetensors"
    manager.REFRESH_EVERY_S = 0  # listings refresh at most this often (2 s in the service)
    assert "new_download" in [r.name for r in manager.list()]  # a listing picks new files up without a scan


def test_a_name_used_twice_says_which_file_wins(manager, installs, tiny_files):
    store = store_dir("checkpoints")
    store.mkdir(parents=True)
    shutil.copyfile(tiny_files.base_fp16, store / "dreamshaper.safetensors")
    manager.add_root(installs["comfy"])
    only = [r for r in manager.list("checkpoints", refresh=False) if r.name == "dreamshaper"]
    assert [r.path for r in only] == [str(store / "dreamshaper.safetensors")]  # a picker offers the one that loads
    both = [r for r in manager.list("checkpoints", refresh=False, shadowed=True) if r.name == "dreamshaper"]
    assert [Path(r.path).parent for r in both] == [store, installs["comfy"] / "models/checkpoints"]
    assert not any("is taken by" in n for n in both[0].to_dict()["notes"])
    assert any(f"is taken by {store / 'dreamshaper.safetensors'}" in n for n in both[1].to_dict()["notes"])
    assert resolve_model("dreamshaper", "checkpoints", "base") == store / "dreamshaper.safetensors"


def test_environment_roots_get_the_same_layout_recognition(manager, installs, monkeypatch):
    monkeypatch.setenv("ANIMATEDIFF_STUDIO_MODEL_DIRS", str(installs["comfy"]))
    roots = manager.roots()
    assert [(r.source, r.layout) for r in roots] == [("store", "store"), ("env", "comfyui")]
    assert "mm_tiny_v2" in [r.name for r in manager.list("motion-modules")]


def test_removing_a_root_forgets_its_files_but_keeps_them(manager, installs):
    manager.add_root(installs["a1111"])
    assert manager.list(refresh=False)
    manager.remove_root(installs["a1111"])
    assert manager.list(refresh=False) == [] and (installs["a1111"] / "models/Lora/detail.safetensors").exists()
    with pytest.raises(ModelNotFoundError):
        manager.remove_root(installs["a1111"])


def test_a_broken_extra_model_paths_yaml_is_reported_not_fatal(manager, tmp_path, tiny_files):
    comfy = comfyui_tree(tmp_path / "ComfyUI", {"models/checkpoints/a.safetensors": tiny_files.base_safetensors},
                         extra_yaml="a111:\n  base_path: [unclosed\n")
    root = manager.add_root(comfy)
    assert any("extra_model_paths.yaml could not be read" in n for n in root.notes)
    assert [r.name for r in manager.list(refresh=False)] == ["a"]


def test_the_index_lives_in_sqlite_under_the_data_dir(manager, installs):
    from models.paths import data_dir

    manager.add_root(installs["a1111"])
    db = data_dir() / "models.sqlite3"
    assert db.is_file()
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM models").fetchone()[0] == 4
        assert conn.execute("SELECT path FROM roots").fetchall() == [(str(installs["a1111"]),)]


def test_files_in_a_plain_root_are_found_a_few_levels_deep(manager, tmp_path, tiny_files):
    deep = tmp_path / "models" / "a" / "b"
    save_state({"x": __import__("torch").zeros(1)}, tmp_path / "models" / "noise.safetensors")
    deep.mkdir(parents=True)
    shutil.copyfile(tiny_files.mm_v3_like, deep / "v3.ckpt")
    manager.add_root(tmp_path / "models")
    assert {r.name: r.kind for r in manager.list(refresh=False)} == {"v3": "motion-module", "noise": "unknown"}


def test_concurrent_first_listings_all_see_the_files(installs, tiny_files):
    """A new service's first requests (the desktop asks for every kind at once) must not list an empty index."""
    import threading

    fresh = ModelManager()
    fresh.index.add_user_root(str(installs["comfy"]))  # known, but never scanned yet
    barrier = threading.Barrier(4)
    results: dict[str | None, list[str]] = {}

    def list_kind(kind: str | None) -> None:
        barrier.wait()
        results[kind] = [r.name for r in fresh.list(kind)]

    threads = [threading.Thread(target=list_kind, args=(k,)) for k in (None, "checkpoints", "motion-modules",
                                                                      "motion-loras")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        fresh.close()
    assert "dreamshaper" in results["checkpoints"] and "mm_tiny_v2" in results["motion-modules"]
    assert "v2_lora_PanLeft" in results["motion-loras"] and len(results[None]) >= 6

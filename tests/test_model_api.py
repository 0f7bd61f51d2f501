"""The model manager through a real `serve` process and the stdlib client the front ends use."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from server_fixtures import ServiceProcess, new_service

from backend.client import ApiError, Client
from models.testing.model_zoo import comfyui_tree, write_header_only_safetensors


@pytest.fixture(scope="module")
def models_dir(tiny_files) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ads-api-models-"))
    for name, source in (("tiny_base.safetensors", tiny_files.base_safetensors),
                         ("tiny_mm.ckpt", tiny_files.mm_original_ckpt), ("tiny_v3.ckpt", tiny_files.mm_v3_like),
                         ("zoom_lora.ckpt", tiny_files.motion_lora_original),
                         ("style.safetensors", tiny_files.kohya_lora), ("adapter.ckpt", tiny_files.domain_adapter)):
        shutil.copyfile(source, folder / name)
    return folder


@pytest.fixture(scope="module")
def service(models_dir) -> ServiceProcess:
    service = new_service({"ANIMATEDIFF_STUDIO_MODEL_DIRS": str(models_dir)})
    yield service
    service.stop()


@pytest.fixture(scope="module")
def client(service) -> Client:
    return service.client


def test_models_are_listed_with_what_they_are(client, models_dir):
    by_name = {m.name: m for m in client.models()}
    assert {n: m.kind for n, m in by_name.items()} == {
        "tiny_base": "sd15-base", "tiny_mm": "motion-module", "tiny_v3": "motion-module",
        "zoom_lora": "motion-lora", "style": "lora", "adapter": "domain-adapter"}
    mm = by_name["tiny_mm"]
    assert mm.path == str(models_dir / "tiny_mm.ckpt") and mm.size_bytes == (models_dir / "tiny_mm.ckpt").stat().st_size
    assert (mm.version, mm.format, mm.layout) == ("custom", "zip-pickle", "original") and mm.notes
    assert mm.details["config"]["use_motion_mid_block"] is True


@pytest.mark.parametrize(("kind", "names"), [
    ("checkpoints", ["tiny_base"]), ("sd15-base", ["tiny_base"]), ("motion-modules", ["tiny_mm", "tiny_v3"]),
    ("motion-lora", ["zoom_lora"]), ("loras", ["style"]), ("domain-adapters", ["adapter"]), ("vae", [])])
def test_kind_filters_take_kinds_and_store_folder_names(client, kind, names):
    assert sorted(m.name for m in client.models(kind=kind)) == names


def test_an_unknown_kind_is_422_naming_field_value_and_choices(client):
    with pytest.raises(ApiError) as err:
        client.models(kind="controlnets")
    e = err.value
    assert (e.status, e.code, e.field, e.value) == (422, "invalid_input", "kind", "controlnets")
    assert "motion-modules" in e.message and "sd15-base" in e.message


def test_info_by_name_or_path_and_the_hash_on_request(client, models_dir):
    info = client.model_info("style")
    assert info.kind == "lora" and info.layout == "kohya"
    hashed = client.model_info(str(models_dir / "style.safetensors"), hash=True)
    assert hashed.sha256 == hashlib.sha256((models_dir / "style.safetensors").read_bytes()).hexdigest()
    with pytest.raises(ApiError) as err:
        client.model_info("no_such_model")
    assert (err.value.status, err.value.code, err.value.field) == (404, "model_not_found", "model")


def test_a_long_scan_runs_beside_the_service_and_reports_progress(client, tmp_path):
    """Hashing 2.4 GB must not stall the HTTP loop: health answers quickly while bytes are being hashed."""
    big = tmp_path / "big"
    write_header_only_safetensors({f"x.{i}.weight": (4096, 4096) for i in range(72)}, big / "huge.safetensors")
    client.add_model_root(str(big))
    status = client.scan(hash=True, wait=False)
    assert status.state == "running"
    seen, latencies = [], []
    while status.running:
        t0 = time.perf_counter()
        client.health()
        latencies.append(time.perf_counter() - t0)
        status = client.scan_status()
        seen.append(status)
        time.sleep(0.05)  # polling the scan's status is the protocol
    assert status.state == "done" and status.result["hashed"] >= 1
    assert status.result["hashed_bytes"] >= (big / "huge.safetensors").stat().st_size
    hashing = [s for s in seen if s.phase == "hashing"]
    assert hashing and any(0 < s.bytes_done < s.bytes_total for s in hashing)  # progress while hashing
    assert max(latencies) < 0.5, latencies
    again = client.scan(hash=True)  # waits; nothing changed, so nothing is read again
    assert again.state == "done" and again.result["hashed"] == 0
    client.remove_model_root(str(big))


def test_roots_are_added_recognised_and_removed(client, tmp_path, tiny_files):
    comfy = comfyui_tree(tmp_path / "ComfyUI", {
        "models/animatediff_motion_lora/v2_lora_PanLeft.ckpt": tiny_files.motion_lora_original,
        "models/checkpoints/dreamshaper_8.safetensors": tiny_files.base_safetensors})
    root = client.add_model_root(str(comfy))
    assert (root.path, root.source, root.layout) == (str(comfy), "user", "comfyui")
    assert any(f["label"] == "ComfyUI models/animatediff_motion_lora" and f["exists"] for f in root.folders)
    assert [r.source for r in client.model_roots()] == ["store", "env", "user"]
    assert "dreamshaper_8" in [m.name for m in client.models(kind="checkpoints")]
    pan = next(m for m in client.camera_moves() if m.move == "pan-left")
    assert pan.present and pan.path == str(comfy / "models/animatediff_motion_lora/v2_lora_PanLeft.ckpt")
    assert [r.source for r in client.remove_model_root(str(comfy))] == ["store", "env"]
    assert "dreamshaper_8" not in [m.name for m in client.models()]
    with pytest.raises(ApiError) as err:
        client.add_model_root("relative/path")
    assert (err.value.status, err.value.field) == (422, "path")


def test_import_and_remove_through_the_service(client, service, tiny_files, models_dir):
    imported = client.import_model(str(tiny_files.mm_folder), name="tiny-adapter-folder")
    dest = service.data_dir / "models" / "motion-modules" / "tiny-adapter-folder"
    assert (imported.outcome, imported.kind, imported.path) == ("copied", "motion-module", str(dest))
    assert imported.sha256 and dest.is_dir()
    removed = client.remove_model("tiny-adapter-folder")
    assert removed.path == str(dest) and not dest.exists()
    # A store file named like a file of a later root: pickers get the one the name loads; `all` shows both.
    twin = client.import_model(str(tiny_files.kohya_lora), name="style")
    assert [m.path for m in client.models(kind="loras")] == [twin.path]
    both = client.models(kind="loras", include_shadowed=True)
    assert [m.path for m in both] == [twin.path, str(models_dir / "style.safetensors")]
    assert any(f"is taken by {twin.path}" in n for n in both[1].notes)
    assert client.remove_model("style").path == twin.path
    with pytest.raises(ApiError) as err:
        client.remove_model("style")  # lives in a user folder, not in the store
    assert err.value.status == 409 and (models_dir / "style.safetensors").exists()
    with pytest.raises(ApiError) as err:
        client.remove_model("never-there")
    assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        client.import_model(str(models_dir / "missing.ckpt"))
    assert (err.value.status, err.value.code) == (404, "model_not_found")


def test_check_explains_a_bad_combination(client):
    bad = client.check_models({"prompt": "ignored here", "base": "tiny_base", "motion_module": "tiny_v3",
                               "motion_loras": [{"path": "zoom_lora", "weight": 0.8}],
                               "domain_adapter": {"path": "style", "weight": 0.5},
                               "camera": [{"move": "tilt-down", "strength": 1.0}]})
    assert not bad.ok
    assert [(e.code, e.field) for e in bad.errors] == [
        ("model_not_found", "camera[0]"), ("incompatible_models", "motion_loras[0]"),
        ("wrong_model_kind", "domain_adapter")]
    assert "v2_lora_TiltDown.ckpt" in bad.errors[0].message and "mid block" in bad.errors[1].message
    assert bad.models["motion_module"]["kind"] == "motion-module"
    good = client.check_models({"base": "tiny_base", "motion_module": "tiny_mm",
                                "motion_loras": [{"path": "zoom_lora", "weight": 0.8}], "frames": 16})
    assert good.ok and good.errors == []


def test_catalog_and_camera_moves(client):
    moves = client.camera_moves()
    assert [m.move for m in moves][:2] == ["zoom-in", "zoom-out"] and len(moves) == 8
    zoom = moves[0]
    assert (zoom.file, zoom.present) == ("v2_lora_ZoomIn.ckpt", False)
    assert zoom.url.endswith("/v2_lora_ZoomIn.ckpt") and zoom.store_folder.endswith("motion-loras")
    files = {f.file: f for f in client.model_catalog()}
    assert files["v3_sd15_adapter.ckpt"].kind == "domain-adapter" and not files["mm_sd_v15_v2.ckpt"].present


def test_a_job_with_a_bad_combination_is_refused_at_submission(client, models_dir):
    with pytest.raises(ApiError) as err:
        client.submit({"prompt": "a ball", "base": "tiny_base", "motion_module": "tiny_v3", "width": 64,
                       "height": 64, "frames": 4, "steps": 2, "seed": 1,
                       "motion_loras": [{"path": "zoom_lora", "weight": 1.0}]})
    assert err.value.status == 422 and err.value.code == "incompatible_models"
    assert err.value.field == "motion_loras[0]" and "mid block" in err.value.message


def test_openapi_documents_every_model_route(client):
    spec = client.openapi()
    for route in ("/v1/models", "/v1/models/info", "/v1/models/scan", "/v1/models/import", "/v1/models/roots",
                  "/v1/models/check", "/v1/models/camera-moves", "/v1/models/catalog", "/v1/models/{name}"):
        assert route in spec["paths"], route
    kinds = spec["components"]["schemas"]["ModelFile"]["properties"]["kind"]["enum"]
    assert "motion-lora" in kinds and "corrupt" in kinds

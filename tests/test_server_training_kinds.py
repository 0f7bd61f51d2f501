"""Domain-adapter and motion-module trainings through the real service (tiny models, 64 px, a few steps): each
lands in its own store folder under its own job kind and is used by a generation; fields a kind would ignore are
refused naming them, so nothing a user asked for is silently dropped."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from server_fixtures import BASE_NAME, MOTION_NAME, ServiceProcess, clip_folder, new_service, tiny_request

from backend.client import ApiError

TINY = {"frames": 8, "size": 64, "stride": 1, "learning_rate": 1e-3, "sample_steps": 1}


@pytest.fixture(scope="module")
def service() -> ServiceProcess:
    service = new_service()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return clip_folder(tmp_path_factory.mktemp("kinds") / "clips")


def _progress_of(service: ServiceProcess, job_id: str) -> list[dict]:
    events = list(service.client.events(job_id))
    assert [e.data["phase"] for e in events if e.kind == "phase"] == ["loading", "training", "importing"]
    progress = [e.data for e in events if e.kind == "progress"]
    assert all(math.isfinite(p["loss"]) and p["loss"] > 0 for p in progress)
    return progress


def test_a_domain_adapter_trains_from_clip_frames_and_a_generation_uses_it(service: ServiceProcess, clips) -> None:
    client = service.client
    job_id = client.train("domain-adapter", name="my_footage", base=BASE_NAME, data_path=str(clips), steps=3,
                          rank=4, **TINY)
    assert [p["step"] for p in _progress_of(service, job_id)] == [1, 2, 3]
    job = client.job(job_id)
    assert job.status == "succeeded" and job.kind == "domain-adapter-training" and job.model == "my_footage"
    assert {"domain_adapter.safetensors", "loss.png"} <= set(job.files)
    stored = service.data_dir / "models" / "domain-adapters" / "my_footage.safetensors"
    assert stored.is_file()
    assert {m.name: m.path for m in client.models(kind="domain-adapter")}["my_footage"] == str(stored)
    assert {j.id for j in client.jobs(kind="domain-adapter-training")} == {job_id}
    assert job_id not in {j.id for j in client.jobs(kind="motion-lora-training")}

    generation = client.submit(tiny_request(domain_adapter={"path": "my_footage", "weight": 1.0}))
    assert client.wait(generation).status == "succeeded"
    with pytest.raises(ApiError) as taken:  # the name is taken among domain adapters, not among MotionLoRAs
        client.train("domain-adapter", name="my_footage", base=BASE_NAME, data_path=str(clips), **TINY)
    assert taken.value.field == "name" and "already a domain adapter" in taken.value.message


@pytest.mark.parametrize("variant", ["transformer", "hybrid"])
def test_a_motion_module_trains_from_clips_and_generates(service: ServiceProcess, clips, variant: str) -> None:
    client = service.client
    name = f"my_{variant}_module"
    options = {"motion_module": MOTION_NAME} if variant == "transformer" else {}  # trained on, or from zero
    job_id = client.train("motion-module", name=name, base=BASE_NAME, data_path=str(clips), steps=2,
                          motion_variant=variant, **options, **TINY)
    assert len(_progress_of(service, job_id)) == 2
    job = client.job(job_id)
    assert job.status == "succeeded" and job.kind == "motion-module-training" and job.model == name, job.error
    listed = {m.name: m for m in client.models(kind="motion-module")}
    assert listed[name].path.startswith(str(service.data_dir / "models" / "motion-modules"))

    generation = client.submit(tiny_request(motion_module=name, frames=8))
    done = client.wait(generation)
    assert done.status == "succeeded", done.error
    if variant == "hybrid":  # the variant travels in the file and the engine generates with it
        from backend.engine.motion_variants import read_variant

        assert read_variant(Path(listed[name].path)) == "hybrid"


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"kind": "domain-adapter", "motion_module": MOTION_NAME}, "motion_module", "not used by a domain-adapter"),
    ({"kind": "domain-adapter", "domain_adapter": "x"}, "domain_adapter", "not used by a domain-adapter"),
    ({"kind": "motion-module", "camera_move": "zoom-in"}, "camera_move", "train MotionLoRAs only"),
    ({"kind": "motion-module", "motion_variant": "conv1d"}, "motion_variant", "the conv1d ablation cannot generate"),
    ({"kind": "motion-module", "motion_variant": "lstm"}, "motion_variant", "expected one of transformer, hybrid"),
    ({"kind": "motion-module", "motion_module": BASE_NAME}, "motion_module", "motion_module"),
    ({"kind": "motion-module", "data_path": None}, "data_path", "data_path: missing"),
])
def test_fields_a_kind_does_not_use_are_refused_naming_them(service: ServiceProcess, clips, overrides: dict,
                                                            field: str, words: str) -> None:
    client = service.client
    body = {"name": "refused", "base": BASE_NAME, "data_path": str(clips), "steps": 2, **TINY, **overrides}
    before = len(client.jobs())
    with pytest.raises(ApiError) as refused:
        client.request("POST", "/v1/trainings", body)
    err = refused.value
    assert err.status == 422 and err.field == field, (err.field, err.message)
    assert words in err.message
    assert len(client.jobs()) == before

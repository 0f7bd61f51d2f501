"""MotionLoRA training jobs against a real service process (tiny models, 64 px, 8 frames, a handful of steps):
trained from uploaded pictures and from a folder of clips, the result listed by the model manager and loaded by a
generation; cancel mid-training; bad bodies refused naming the field; a crash mid-training leaves it
`interrupted`; an older history without the new columns still opens."""

from __future__ import annotations

import io
import math
import sqlite3

import numpy as np
import pytest
from PIL import Image
from server_fixtures import BASE_NAME, MOTION_NAME, ServiceProcess, clip_folder, new_service, tiny_request

from backend.client import ApiError, Client, JobEvent

TINY = {"frames": 8, "size": 64, "rank": 4, "learning_rate": 1e-3, "sample_steps": 1}


@pytest.fixture(scope="module")
def service() -> ServiceProcess:
    service = new_service()
    yield service
    service.stop()


def picture(seed: int, size: int = 96) -> bytes:
    """A PNG with structure a crop window visibly moves over (a zoom of flat noise would look like nothing)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([np.sin(8 * x + seed), np.cos(6 * y), np.sin(5 * (x + y))], -1) * 0.4 + 0.5
    rgb += rng.normal(0, 0.05, rgb.shape)
    out = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def train_body(name: str, **overrides: object) -> dict:
    return {"name": name, "base": BASE_NAME, "motion_module": MOTION_NAME, "steps": 4, **TINY, **overrides}


def test_training_from_pictures_lands_in_the_store_and_loads_in_a_generation(service: ServiceProcess) -> None:
    client = service.client
    ids = [client.upload_image(picture(i)).id for i in range(3)]
    job_id = client.train_motion_lora(name="zoom_from_pictures", base=BASE_NAME, motion_module=MOTION_NAME,
                                      images=ids, camera_move="zoom-in", steps=4, caption="a colourful pattern",
                                      **{k: v for k, v in TINY.items()})
    events = list(client.events(job_id))

    kinds = [e.kind for e in events]
    assert kinds[:3] == ["queued", "started", "phase"] and kinds[-2:] == ["phase", "finished"]
    assert [e.data["phase"] for e in events if e.kind == "phase"] == ["loading", "training", "importing"]
    progress = [e.data for e in events if e.kind == "progress"]
    assert [p["step"] for p in progress] == [1, 2, 3, 4] and {p["total"] for p in progress} == {4}
    assert all(math.isfinite(p["loss"]) and p["loss"] > 0 for p in progress)
    assert any("3 loaded, 0 skipped" in e.data["message"] for e in events if e.kind == "log")

    job = client.job(job_id)
    assert job.status == "succeeded" and job.kind == "motion-lora-training" and job.model == "zoom_from_pictures"
    assert events[-1].data == {"files": job.files, "model": "zoom_from_pictures"}
    for name in ("loss.png", "loss.csv", "config.json", "motion_lora.safetensors", "motion_lora_diffusers.safetensors",
                 "samples/step-000004.gif"):
        assert name in job.files
    assert not any(n.startswith(("checkpoints/", "stills/")) for n in job.files)  # state and inputs: not outputs
    assert client.file_bytes(job_id, "loss.png").startswith(b"\x89PNG")
    assert client.file_bytes(job_id, "samples/step-000004.gif").startswith(b"GIF8")
    assert len(client.file_bytes(job_id, "loss.csv").decode().strip().splitlines()) == 5  # header + 4 steps

    listed = {m.name: m for m in client.models(kind="motion-lora")}
    stored = service.data_dir / "models" / "motion-loras" / "zoom_from_pictures.safetensors"
    assert listed["zoom_from_pictures"].path == str(stored) and stored.is_file()
    assert {j.id for j in client.jobs(kind="motion-lora-training")} == {job_id}
    assert job_id not in {j.id for j in client.jobs(kind="generation")}

    generation = client.submit(tiny_request(motion_loras=[{"path": "zoom_from_pictures", "weight": 1.0}]))
    assert client.wait(generation).status == "succeeded"
    with pytest.raises(ApiError) as taken:  # the name is the store's now
        client.train_motion_lora(**train_body("zoom_from_pictures", images=ids, camera_move="zoom-in"))
    assert taken.value.status == 422 and taken.value.field == "name" and "already a MotionLoRA" in taken.value.message


def test_training_from_a_folder_of_clips_reports_the_file_it_skipped(service: ServiceProcess, tmp_path) -> None:
    client = service.client
    folder = clip_folder(tmp_path / "clips")
    job_id = client.train_motion_lora(**train_body("clips_right", data_path=str(folder), stride=1, steps=3))
    events = list(client.events(job_id))
    job = client.job(job_id)
    assert job.status == "succeeded", job.error
    report = "\n".join(e.data["message"] for e in events if e.kind == "log")
    assert "2 loaded, 1 skipped" in report and "broken.mp4: unreadable" in report
    assert "clips_right" in {m.name for m in client.models(kind="motion-lora")}


def test_cancel_mid_training_ends_cancelled_and_keeps_the_loss_plot(service: ServiceProcess) -> None:
    client = service.client
    ids = [client.upload_image(picture(7)).id]
    job_id = client.train_motion_lora(**train_body("never_finished", images=ids, camera_move="pan-left", steps=500))
    seen: list[JobEvent] = []
    for event in client.events(job_id):
        seen.append(event)
        if event.kind == "progress":
            assert client.cancel(job_id).outcome == "cancelling"
            break
    job = client.wait(job_id)
    assert job.status == "cancelled" and job.error.code == "cancelled" and job.model is None
    steps = [e.data["step"] for e in client.events(job_id) if e.kind == "progress"]
    assert 1 <= len(steps) < 10, "the trainer stops within a step or two of the cancel"
    assert f"after step {steps[-1]} of 500" in job.error.message
    assert "loss.png" in job.files and client.file_bytes(job_id, "loss.png").startswith(b"\x89PNG")
    assert (service.data_dir / "jobs" / job_id / "checkpoints").is_dir()  # what a resumed run would start from
    assert "never_finished" not in {m.name for m in client.models(kind="motion-lora")}
    with pytest.raises(ApiError) as late:
        client.cancel(job_id)
    assert late.value.status == 409 and late.value.code == "not_cancellable"


UPLOAD_ID = "0" * 64  # well formed, never uploaded


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"steps": 0}, "steps", "steps: 0 is not accepted; expected a value from 1"),
    ({"rank": 0}, "rank", "rank: 0 is not accepted"),
    ({"learning_rate": 2.0}, "learning_rate", "learning_rate: 2.0 is not accepted"),
    ({"size": 60}, "size", "size: 60 is not accepted; expected a multiple of 8"),
    ({"frames": 1}, "frames", "frames: 1 is not accepted"),
    ({"frames": 40}, "frames", "frames: 40 is more than this motion module's position encoding covers (32 frames)"),
    ({"camera_move": "spin"}, "camera_move", "'spin' is not accepted; expected one of zoom-in"),
    ({"camera_move": None}, "camera_move", "pictures do not move"),
    ({"images": []}, "data_path", "data_path: missing"),
    ({"images": [UPLOAD_ID]}, "images[0]", "is not an upload of this service"),
    ({"images": [], "data_path": "clips"}, "data_path", "'clips' is not accepted; expected the absolute path"),
    ({"data_path": "/tmp"}, "images", "either data_path"),
    ({"base": "no_such_base"}, "base", "'no_such_base' is neither an existing path nor a model name"),
    ({"motion_module": BASE_NAME}, "motion_module", "motion_module"),
    ({"name": "../escape"}, "name", "'../escape' is not accepted"),
    ({"learning_rate": "0.001"}, "learning_rate", "'0.001' is not accepted"),
    ({"epochs": 3}, "epochs", "unknown field; see the TrainingBody schema"),
    ({"motion_module": None}, "motion_module", "motion_module: missing; a MotionLoRA trains on top of"),
    ({"motion_variant": "hybrid"}, "motion_variant", "is for motion-module trainings"),
    ({"kind": "vae"}, "kind", "'vae' is not accepted"),
])
def test_bad_bodies_are_refused_naming_the_field(service: ServiceProcess, overrides: dict, field: str,
                                                 words: str) -> None:
    client = service.client
    body = train_body("refused", images=[client.upload_image(picture(1)).id], camera_move="zoom-in")
    body.update(overrides)
    before = len(client.jobs())
    with pytest.raises(ApiError) as refused:
        client.request("POST", "/v1/trainings", body)
    err = refused.value
    assert err.status == 422 and err.field == field, (err.field, err.message)
    assert words in err.message
    assert len(client.jobs()) == before  # nothing was queued


def test_a_folder_of_pictures_without_a_move_is_refused_with_the_hint(service: ServiceProcess, tmp_path) -> None:
    (tmp_path / "a.png").write_bytes(picture(2))
    with pytest.raises(ApiError) as refused:
        service.client.train_motion_lora(**train_body("pictures_only", data_path=str(tmp_path)))
    assert refused.value.field == "data_path" and "choose a camera_move" in refused.value.message


def test_kill_9_mid_training_then_restart_leaves_it_interrupted() -> None:
    service = new_service()
    try:
        client = service.client
        ids = [client.upload_image(picture(3)).id]
        job_id = client.train_motion_lora(**train_body("crashed", images=ids, camera_move="tilt-up", steps=500))
        queued = client.submit(tiny_request(seed=5))
        for event in client.events(job_id):
            if event.kind == "progress":
                break
        service.kill9()
        client = service.start()
        job = client.job(job_id)
        assert job.status == "interrupted" and job.kind == "motion-lora-training"
        assert list(client.events(job_id))[-1].kind == "interrupted"
        assert client.wait(queued).status == "succeeded"  # the queue behind it survived
        assert "crashed" not in {m.name for m in client.models(kind="motion-lora")}
    finally:
        service.stop()


def test_a_history_written_before_trainings_opens_with_its_jobs_as_generations(tmp_path) -> None:
    from backend.server.job_store import JobStore

    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    db.executescript("""
        CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, status TEXT NOT NULL,
            request TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL, error_code TEXT,
            error_message TEXT, error_field TEXT, files TEXT NOT NULL DEFAULT '[]', seed INTEGER);
        INSERT INTO jobs (id, status, request, created_at) VALUES ('old', 'succeeded', '{"prompt": "x"}', 1.0);
    """)
    db.close()
    store = JobStore(tmp_path)
    try:
        (old,) = store.list_jobs()
        assert old.kind == "generation" and old.model is None and old.request == {"prompt": "x"}
        new = store.create({"name": "t"}, kind="motion-lora-training")
        assert [j.id for j in store.list_jobs("motion-lora-training")] == [new.id]
    finally:
        store.close()


def test_the_client_mirrors_the_training_body() -> None:
    """`Client.train` names the body's main fields; the rest pass through `options`."""
    import inspect

    from backend.server.schema import TrainingBody

    for method in (Client.train, Client.train_motion_lora):
        named = set(inspect.signature(method).parameters) - {"self", "options"}
        assert named <= set(TrainingBody.model_fields), method.__name__

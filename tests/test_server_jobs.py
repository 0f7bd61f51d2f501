"""Jobs end to end against a real service process: submit -> events -> outputs, cancel, many clients."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from server_fixtures import ServiceProcess, session_server, tiny_request

from backend.client import ApiError, Client


@pytest.fixture(scope="session")
def server() -> ServiceProcess:
    return session_server()


def test_submit_follow_events_and_outputs_on_disk(server: ServiceProcess) -> None:
    client = server.client
    job_id = client.submit(tiny_request(frames=4, steps=3, seed=7))

    events = list(client.events(job_id))

    kinds = [e.kind for e in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-2:] == ["decoding", "finished"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    progress = [e.data for e in events if e.kind == "progress"]
    assert [p["step"] for p in progress] == [1, 2, 3] and all(p["total"] == 3 for p in progress)
    previews = [base64.b64decode(p["preview_png_base64"]) for p in progress if "preview_png_base64" in p]
    assert previews and all(png.startswith(b"\x89PNG") for png in previews)
    # The memory plan comes with the start of denoising (and is in metadata.json below).
    denoising = next(e.data for e in events if e.kind == "phase" and e.data["phase"] == "denoising")
    assert denoising["memory_plan"]["cfg"] == "batched" and denoising["memory_plan"]["fits"]

    job = client.job(job_id)
    assert job.status == "succeeded" and job.seed == 7 and job.error is None
    out = server.data_dir / "jobs" / job_id
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"{i:04d}.png" for i in range(4)]
    for name in ("animation.mp4", "animation.gif", "metadata.json"):
        assert (out / name).stat().st_size > 0
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["seed"] == 7 and metadata["memory_plan"] == denoising["memory_plan"]
    assert client.file_bytes(job_id, "frames/0002.png") == (out / "frames" / "0002.png").read_bytes()
    assert set(job.files) == set(events[-1].data["files"])


def test_first_preview_right_after_step_one_then_every_fifth(server: ServiceProcess) -> None:
    client = server.client
    job_id = client.submit(tiny_request(frames=2, steps=10, seed=8))
    progress = [e.data for e in client.events(job_id) if e.kind == "progress"]
    with_preview = [p["step"] for p in progress if "preview_png_base64" in p]
    assert with_preview == [1, 2, 4, 6, 8, 10]


def test_download_all_keeps_layout(server: ServiceProcess, tmp_path) -> None:
    client = server.client
    job_id = client.submit(tiny_request())
    assert client.wait(job_id).status == "succeeded"
    paths = client.download_all(job_id, tmp_path)
    assert (tmp_path / "frames" / "0000.png").read_bytes()[:4] == b"\x89PNG"
    assert len(paths) == len(client.job(job_id).files)


def test_second_job_reuses_the_loaded_pipeline(server: ServiceProcess) -> None:
    client = server.client
    first, second = client.submit(tiny_request(seed=11)), client.submit(tiny_request(prompt="a blue cube", seed=12))
    assert client.wait(first).status == "succeeded" and client.wait(second).status == "succeeded"
    meta = json.loads(client.file_bytes(second, "metadata.json"))
    assert meta["pipeline_cached"] is True and meta["request"]["prompt"] == "a blue cube"


def test_cancel_mid_run_stops_within_a_step_and_writes_nothing(server: ServiceProcess) -> None:
    client = server.client
    job_id = client.submit(tiny_request(frames=8, steps=200))
    steps_seen = []
    outcome = None
    for event in client.events(job_id):
        if event.kind == "progress":
            steps_seen.append(event.data["step"])
            if outcome is None:
                outcome = client.delete(job_id).outcome
    assert outcome == "cancelling"
    assert event.kind == "cancelled" and event.data["code"] == "cancelled"
    # Cancelled on the step after the request (a couple at most with the request in flight), far from 200.
    assert max(steps_seen) <= steps_seen[0] + 3
    job = client.job(job_id)
    assert job.status == "cancelled" and job.files == []
    assert not (server.data_dir / "jobs" / job_id).exists()
    assert not (server.data_dir / "jobs" / f"{job_id}.partial").exists()


def test_cancel_queued_job_and_delete_finished_job(server: ServiceProcess) -> None:
    client = server.client
    running = client.submit(tiny_request(steps=200))
    queued = client.submit(tiny_request())
    assert client.delete(queued).outcome == "cancelled"
    client.delete(running)
    assert client.wait(running).status == "cancelled"
    assert client.job(queued).status == "cancelled"

    done = client.submit(tiny_request())
    assert client.wait(done).status == "succeeded"
    assert client.delete(done).outcome == "deleted"
    assert not (server.data_dir / "jobs" / done).exists()
    with pytest.raises(ApiError) as err:
        client.job(done)
    assert err.value.status == 404 and err.value.field == "id"


def test_two_clients_ten_jobs_each_all_complete(server: ServiceProcess) -> None:
    base = server.client
    results: dict[str, list] = {}

    def run(name: str, seed0: int) -> None:
        client = Client(base.base_url, base._token)  # a second front end: its own client object
        ids = [client.submit(tiny_request(seed=seed0 + i, frames=2)) for i in range(10)]
        results[name] = [client.wait(i) for i in ids]

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in (("a", 100), ("b", 200))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    jobs = results["a"] + results["b"]
    assert len(jobs) == 20 and {j.status for j in jobs} == {"succeeded"}
    assert sorted(j.seed for j in jobs) == [*range(100, 110), *range(200, 210)]
    listed = {j.id for j in base.jobs()}
    assert {j.id for j in jobs} <= listed


def test_extend_a_finished_job_by_its_id(server: ServiceProcess) -> None:
    client = server.client
    source = client.submit(tiny_request(frames=4, seed=21))
    assert client.wait(source).status == "succeeded"
    longer = client.submit(tiny_request(frames=3, seed=22, extend=source, extend_overlap=2, prompt_at=[
        {"frame": 2, "prompt": "a red ball flying away"}], context_length=4, context_overlap=1))
    job = client.wait(longer)
    assert job.status == "succeeded", job.error
    assert len([f for f in job.files if f.startswith("frames/")]) == 4 + 3
    meta = json.loads(client.file_bytes(longer, "metadata.json"))
    assert meta["extend"]["path"] == str(server.data_dir / "jobs" / source)
    with pytest.raises(ApiError) as err:
        client.submit(tiny_request(extend="0" * 32))
    assert err.value.field == "extend" and "succeeded job" in err.value.message


def test_cancel_route_never_removes_a_finished_job(server: ServiceProcess) -> None:
    client = server.client
    running = client.submit(tiny_request(steps=200))
    assert client.cancel(running).outcome in ("cancelling", "cancelled")
    assert client.wait(running).status == "cancelled"
    done = client.submit(tiny_request(seed=31))
    assert client.wait(done).status == "succeeded"
    with pytest.raises(ApiError) as err:
        client.cancel(done)  # a late click
    assert err.value.status == 409 and err.value.code == "not_cancellable" and "succeeded" in err.value.message
    assert client.job(done).status == "succeeded" and (server.data_dir / "jobs" / done / "metadata.json").is_file()

"""Crash and fault recovery of a real service: kill -9 mid-job then restart; a CUDA OOM fails one job only."""

from __future__ import annotations

import pytest
from server_fixtures import ServiceProcess, new_service, tiny_request

from backend.client import Client


def _wait_for_progress(client: Client, job_id: str) -> None:
    for event in client.events(job_id):
        if event.kind == "progress":
            return
    raise AssertionError(f"job {job_id} ended before any denoising step")


def test_kill_9_mid_job_then_restart_keeps_history_and_interrupts_that_job() -> None:
    service = new_service()
    try:
        client = service.client
        done = client.submit(tiny_request(seed=3))
        assert client.wait(done).status == "succeeded"
        running = client.submit(tiny_request(frames=8, steps=200))
        queued = client.submit(tiny_request(seed=4))
        _wait_for_progress(client, running)

        service.kill9()
        client = service.start()  # same data and config folders

        assert client.job(running).status == "interrupted"
        events = list(client.events(running))
        assert events[-1].kind == "interrupted" and any(e.kind == "progress" for e in events)
        assert not (service.data_dir / "jobs" / running).exists()
        first = client.job(done)
        assert first.status == "succeeded" and first.seed == 3
        assert all((service.data_dir / "jobs" / done / name).is_file() for name in first.files)
        assert client.wait(queued).status == "succeeded"  # the queue survived the crash too
        assert [j.id for j in client.jobs()] == [done, running, queued]
    finally:
        service.stop()


@pytest.fixture(scope="module")
def oom_service() -> ServiceProcess:
    service = new_service({"ANIMATEDIFF_STUDIO_FAULTS": "oom_once"})
    yield service
    service.stop()


def test_cuda_oom_fails_that_job_and_the_next_one_succeeds(oom_service: ServiceProcess) -> None:
    client = oom_service.client
    first = client.submit(tiny_request())
    second = client.submit(tiny_request(seed=2))

    failed = client.wait(first)
    assert failed.status == "failed" and failed.error.code == "out_of_memory"
    assert "lower width/height or frames" in failed.error.message
    assert client.wait(second).status == "succeeded"
    assert client.health().status == "ok"

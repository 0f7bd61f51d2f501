"""Long clips in the Generate view against a real service: more frames than the motion module covers, context
windows suggested and set, closed loop, FreeNoise, FreeInit and prompt travel; then Edit in Generate brings
every option back."""

from __future__ import annotations

import json

import pytest
from desktop_fixtures import (
    click,
    desktop_service,
    fill_form,
    job_frames,
    open_window,
    screenshot,
    type_into,
)
from server_fixtures import ServiceProcess

JOB_TIMEOUT_MS = 120_000
OPTIONS = ("context_length", "context_overlap", "context_weighting", "closed_loop", "free_noise", "free_init",
           "prompt_at", "frames")


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def test_long_clip_with_windows_and_prompt_travel(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    long_clip = gen.long_clip
    fill_form(qtbot, window, "a red ball on the beach", frames=40)
    # The tiny motion module covers 32 frames: the panel says so and offers windows of 16.
    assert long_clip.hint.isVisible() and "(32)" in long_clip.hint.text()
    assert not long_clip.closed_loop.isEnabled()  # window options wait for windows
    click(qtbot, long_clip.use_windows)
    assert long_clip.context_length.value() == 16 and long_clip.hint.isHidden()
    type_into(qtbot, long_clip.context_overlap, "6")
    long_clip.context_weighting.setCurrentText("flat")
    click(qtbot, long_clip.closed_loop)
    click(qtbot, long_clip.free_noise)
    type_into(qtbot, long_clip.free_init, "1")
    travel = gen.prompt_travel
    click(qtbot, travel.add_button)
    type_into(qtbot, travel.frame_spin(0), "20")
    qtbot.keyClicks(travel.prompt_edit(0), "a blue ball in the sky")
    click(qtbot, travel.add_button)  # a second row, then removed again
    assert travel.table.rowCount() == 2 and travel.frame_spin(1).value() == 30
    travel.table.selectRow(1)
    click(qtbot, travel.remove_button)
    assert travel.table.rowCount() == 1 and travel.frame_spin(0).value() == 20
    # The pre-flight check looks at one window (16 frames), which the module covers.
    qtbot.waitUntil(lambda: gen.last_check is not None and gen.last_check.ok and gen.preflight.isHidden(),
                    timeout=10_000)
    screenshot(gen.body, "generate-long-clip")

    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: window.watch.job_id is not None or "not" in gen.error.text(), timeout=10_000)
    assert window.watch.job_id is not None, gen.error.text()
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 40, timeout=JOB_TIMEOUT_MS)
    job = service.client.job(window.watch.job_id)
    assert job.status == "succeeded" and job_frames(job) == 40
    expected = {"context_length": 16, "context_overlap": 6, "context_weighting": "flat", "closed_loop": True,
                "free_noise": True, "free_init": 1, "prompt_at": [{"frame": 20, "prompt": "a blue ball in the sky"}],
                "frames": 40}
    assert {k: job.request[k] for k in OPTIONS} == expected
    meta = json.loads(service.client.file_bytes(job.id, "metadata.json"))
    assert {k: meta["request"][k] for k in OPTIONS} == expected
    qtbot.waitUntil(lambda: job.id in window.queue.items, timeout=10_000)
    row = window.queue.items[job.id].text(2)
    assert "windows 16/6 flat, closed loop, FreeNoise" in row and "FreeInit 1" in row and "prompts at 20" in row

    # Edit in Generate: a fresh form takes every option back, and would send the same request.
    window.show_view("queue")
    gen.load_request({"prompt": "reset", "base": "x", "motion_module": "y"})
    assert long_clip.context_length.value() == 0 and travel.table.rowCount() == 0
    window.queue.tree.setCurrentItem(window.queue.items[job.id])
    click(qtbot, window.queue.buttons["edit"])
    assert window.tabs.currentWidget() is gen
    assert long_clip.context_length.value() == 16 and long_clip.closed_loop.isChecked()
    assert travel.table.rowCount() == 1 and travel.prompt_edit(0).text() == "a blue ball in the sky"
    rebuilt = gen.build_request()
    assert {k: rebuilt[k] for k in OPTIONS} == expected

"""Reference pictures in the Generate view against a real service: several pictures at frames (by dialog and by
drag and drop), SparseCtrl, and the values the view refuses before sending anything."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from desktop_fixtures import (
    SPARSECTRL_FILE,
    click,
    desktop_service,
    drop_files,
    fill_form,
    job_frames,
    open_window,
    png_file,
    screenshot,
    type_into,
)
from PySide6.QtWidgets import QFileDialog
from server_fixtures import ServiceProcess

JOB_TIMEOUT_MS = 90_000


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_thumbnails(qtbot, refs) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: all(row.thumb.pixmap() is not None and not row.thumb.pixmap().isNull()
                                for row in refs.rows if row.source.local is not None), timeout=10_000)


def test_reference_pictures_at_frames_by_dialog_and_drop(qtbot, service: ServiceProcess, tmp_path,
                                                         monkeypatch) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    refs = gen.references
    fill_form(qtbot, window, "a sunrise turning into a sunset")
    first = png_file(tmp_path / "first frame.png", 64, 64, "#d04020")
    spare = png_file(tmp_path / "spare.png", 64, 64, "#20d040")
    last = png_file(tmp_path / "last.png", 80, 48, "#2040d0")
    (tmp_path / "notes.txt").write_text("not a picture")
    # Two by the dialog (several files at once), one dropped; a text file is refused at the drag.
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(first), str(spare)], ""))
    click(qtbot, refs.add_button)
    assert not drop_files(refs, [tmp_path / "notes.txt"])
    assert drop_files(refs, [last])
    wait_thumbnails(qtbot, refs)
    # New pictures go to the first frame, the last, then the middle of the widest gap (4 frames).
    assert [row.frame.value() for row in refs.rows] == [0, -1, 1]
    click(qtbot, refs.spread_button)
    assert [row.frame.value() for row in refs.rows] == [0, 2, -1]
    click(qtbot, refs.rows[1].remove)  # the spare one
    qtbot.waitUntil(lambda: len(refs.rows) == 2)
    assert [row.source.local for row in refs.rows] == [first, last]
    refs.strength.slider.setValue(50)
    screenshot(gen.body, "generate-references")

    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 4, timeout=JOB_TIMEOUT_MS)
    job = service.client.job(window.watch.job_id)
    assert job.status == "succeeded" and job_frames(job) == 4
    # Each picture went through POST /v1/uploads: the job names it by the SHA-256 of its bytes, at its frame.
    assert job.request["references"] == [{"image": sha256(first), "frame": 0}, {"image": sha256(last), "frame": -1}]
    assert job.request["reference_strength"] == 0.5 and job.request.get("sparsectrl") is None
    meta = json.loads(service.client.file_bytes(job.id, "metadata.json"))
    assert [(r["frame"], r["sha256"]) for r in meta["references"]] == [(0, sha256(first)), (-1, sha256(last))]
    assert meta["sparsectrl"] is None
    qtbot.waitUntil(lambda: job.id in window.queue.items, timeout=10_000)
    assert "2 reference(s) at frame 0, -1, strength 0.5" in window.queue.items[job.id].text(2)

    # Edit in Generate: the pictures come back by their upload ids (nothing to upload again).
    click(qtbot, refs.clear_button)
    window.show_view("queue")
    window.queue.tree.setCurrentItem(window.queue.items[job.id])
    click(qtbot, window.queue.buttons["edit"])
    assert [row.source.image for row in refs.rows] == [sha256(first), sha256(last)] and not refs.local_pictures()
    rebuilt = gen.build_request()
    assert rebuilt["references"] == job.request["references"] and rebuilt["reference_strength"] == 0.5


def test_sparsectrl_conditions_the_references(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    refs = gen.references
    combo = refs.sparsectrl.combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names[0] == "(none)" and any(SPARSECTRL_FILE.split(".")[0] in n for n in names[1:]), names
    fill_form(qtbot, window, "a lighthouse, keyframed")
    assert drop_files(refs, [png_file(tmp_path / "key.png", 64, 64, "#c0a030")])
    assert refs.strength.isEnabled()
    combo.setCurrentIndex(1)
    refs.sparsectrl.weight.setValue(0.5)
    assert not refs.strength.isEnabled() and "SparseCtrl" in refs.sparsectrl_note.text()  # no strength then
    # The pre-flight check looks at the SparseCtrl file against the base too.
    qtbot.waitUntil(lambda: gen.last_check is not None and "sparsectrl" in gen.last_check.models, timeout=10_000)
    assert gen.last_check.ok and refs.sparsectrl.warning.isHidden()
    wait_thumbnails(qtbot, refs)

    click(qtbot, gen.generate_button)
    qtbot.waitUntil(lambda: window.watch.player.frame_count == 4, timeout=JOB_TIMEOUT_MS)
    job = service.client.job(window.watch.job_id)
    assert job.status == "succeeded", job.error
    assert job.request["sparsectrl"] == {"path": combo.currentData(), "weight": 0.5}
    assert len(job.request["references"]) == 1 and job.request["references"][0]["frame"] == 0
    meta = json.loads(service.client.file_bytes(job.id, "metadata.json"))
    assert meta["sparsectrl"]["path"].endswith(SPARSECTRL_FILE) and meta["sparsectrl"]["weight"] == 0.5


def test_bad_values_are_refused_before_sending(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    gen = window.generate
    refs = gen.references
    jobs_before = len(service.client.jobs())
    fill_form(qtbot, window, "a cat")
    assert drop_files(refs, [png_file(tmp_path / "a.png"), png_file(tmp_path / "b.png", color="#ff0000")])
    wait_thumbnails(qtbot, refs)

    def refused(field_widget, *phrases: str) -> None:  # noqa: ANN001
        click(qtbot, gen.generate_button)
        text = gen.error.text()
        for phrase in phrases:
            assert phrase in text, text
        assert "border" in field_widget.styleSheet(), f"{text}: the field is not framed"
        assert gen.generate_button.text() == "Generate"  # nothing was submitted

    type_into(qtbot, refs.rows[1].frame, "0")
    refused(refs.rows[1].frame, "references[1].frame: 0 is frame 0, which references[0] already sets")
    type_into(qtbot, refs.rows[1].frame, "4")
    refused(refs.rows[1].frame, "references[1].frame: 4 is not accepted; expected a frame from -4 to 3")
    assert "border" not in refs.rows[0].frame.styleSheet()
    type_into(qtbot, refs.rows[1].frame, "-1")
    refs.strength.slider.setValue(30)  # 0.3 of 2 steps: no step left
    refused(refs.strength.slider, "reference_strength: 0.3 leaves no denoising step out of steps=2",
            "expected at least 0.5")
    refs.strength.slider.setValue(80)
    type_into(qtbot, gen.long_clip.free_init, "1")
    refused(gen.long_clip.free_init, "free_init: 1 re-draws the start from noise")
    type_into(qtbot, gen.long_clip.free_init, "0")
    click(qtbot, refs.clear_button)
    refs.sparsectrl.combo.setCurrentIndex(1)
    refused(refs.sparsectrl.combo, "sparsectrl: conditions the frames given in references")
    refs.sparsectrl.combo.setCurrentIndex(0)

    travel = gen.prompt_travel
    click(qtbot, travel.add_button)
    type_into(qtbot, travel.frame_spin(0), "4")
    refused(travel.frame_spin(0), "prompt_at[0].frame: 4 is not a frame of a 4-frame clip", "expected 1 to 3")
    type_into(qtbot, travel.frame_spin(0), "2")
    refused(travel.prompt_edit(0), "prompt_at[0].prompt: '' is not accepted; expected non-empty text")
    click(qtbot, travel.remove_button)

    # More frames than the motion module covers: the panel suggests windows, Generate names the limit.
    long_clip = gen.long_clip
    type_into(qtbot, gen.frames, "40")
    assert long_clip.hint.isVisible() and "40 frames is more than the motion module tiny_mm covers (32)" in \
        long_clip.hint.text()
    refused(gen.frames, "frames: 40 is more than the motion module's position encoding covers (32 frames)",
            "context_length 16")
    click(qtbot, long_clip.use_windows)
    assert long_clip.context_length.value() == 16 and long_clip.hint.isHidden()
    type_into(qtbot, long_clip.context_overlap, "16")
    refused(long_clip.context_overlap, "context_overlap: 16 is not accepted; expected 0 to 15")
    assert len(service.client.jobs()) == jobs_before

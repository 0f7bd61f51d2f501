"""The engine end to end on the tiny model: reproducible, path-independent, cancellable, strict on input."""

from __future__ import annotations

import numpy as np
import pytest

from backend.engine.progress import Cancelled
from backend.engine.request_checks import SCHEDULERS
from models.errors import InvalidInputError, ModelNotFoundError
from models.paths import store_dir


def _frames(result) -> np.ndarray:
    return np.stack([np.asarray(f, dtype=np.int16) for f in result.frames])


def test_same_seed_reproduces_and_another_seed_differs(engine, make_request):
    a = engine.generate(make_request(seed=7))
    b = engine.generate(make_request(seed=7))
    c = engine.generate(make_request(seed=8))
    assert len(a.frames) == 8 and a.frames[0].size == (64, 64)
    assert np.array_equal(_frames(a), _frames(b))
    assert np.abs(_frames(a) - _frames(c)).max() > 10


def test_folder_and_single_file_give_the_same_frames(engine, make_request, tiny_files):
    from_file = engine.generate(make_request())
    from_folder = engine.generate(make_request(base=str(tiny_files.base_folder),
                                               motion_module=str(tiny_files.mm_folder)))
    assert from_folder.pipeline_cached is False
    assert np.abs(_frames(from_file) - _frames(from_folder)).max() <= 1  # ~1e-6 float noise, 8-bit rounding


def test_motion_module_changes_the_clip_and_is_temporal(engine, make_request, tiny_files):
    """Frames differ from each other: the motion module mixes along time (the base alone is per-frame)."""
    result = engine.generate(make_request(motion_module=str(tiny_files.mm_v3_like)))
    frames = _frames(result)
    assert np.abs(frames[0] - frames[-1]).max() > 0


def test_motion_lora_changes_the_output(engine, make_request, tiny_files):
    from backend.engine.request import WeightedFile

    plain = engine.generate(make_request())
    zoom = engine.generate(make_request(motion_loras=(WeightedFile(str(tiny_files.motion_lora_original), 1.0),)))
    assert zoom.pipeline_cached is True  # adapters swap on the cached pipeline
    assert np.abs(_frames(plain) - _frames(zoom)).max() > 0
    again = engine.generate(make_request())  # the MotionLoRA stays loaded for later, but does nothing now
    assert np.array_equal(_frames(plain), _frames(again))


def test_progress_reports_every_step_and_cancel_skips_decode(engine, make_request):
    seen = []
    with pytest.raises(Cancelled):
        engine.generate(make_request(steps=5), on_progress=seen.append,
                        should_cancel=lambda: any(p.step >= 2 for p in seen))
    phases = [p.phase for p in seen]
    assert "decoding" not in phases
    assert [p.step for p in seen if p.phase == "denoising" and p.step] == [1, 2]
    ok = []
    engine.generate(make_request(steps=3), on_progress=ok.append)  # the engine keeps working after a cancel
    assert [p.step for p in ok if p.phase == "denoising" and p.step] == [1, 2, 3]
    assert ok[-1].phase == "decoding"


def test_too_many_frames_for_the_position_encoding_is_rejected(engine, make_request):
    with pytest.raises(InvalidInputError) as info:
        engine.generate(make_request(frames=40))
    assert info.value.field == "frames" and "40" in info.value.message and "32" in info.value.message


def test_camera_move_without_its_file_says_where_it_goes(engine, make_request):
    from models.camera import CameraMove

    with pytest.raises(ModelNotFoundError) as info:
        engine.generate(make_request(camera=(CameraMove("zoom-in", 0.8),)))
    assert "v2_lora_ZoomIn.ckpt" in info.value.message
    assert str(store_dir("motion-loras")) in info.value.message


def test_camera_move_resolves_to_the_motion_lora_in_the_store(engine, make_request, tiny_files):
    from models.camera import CameraMove

    folder = store_dir("motion-loras")
    folder.mkdir(parents=True)
    (folder / "v2_lora_PanLeft.ckpt").write_bytes(tiny_files.motion_lora_original.read_bytes())
    result = engine.generate(make_request(camera=(CameraMove("pan-left", 0.4),)))
    (adapter,) = result.models.adapters
    assert adapter.path.name == "v2_lora_PanLeft.ckpt" and adapter.weight == 0.4 and adapter.kind == "motion-lora"


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_runs(engine, make_request, scheduler):
    result = engine.generate(make_request(scheduler=scheduler, steps=2, frames=4))
    assert len(result.frames) == 4


def test_random_seed_is_drawn_and_recorded(engine, make_request):
    result = engine.generate(make_request(seed=None, steps=1, frames=2))
    assert isinstance(result.request.seed, int)

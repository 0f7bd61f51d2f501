"""Training data: procedural clips and synthesized camera moves move the way they were asked (measured with
the tracker), the watermark is on video frames only, and a user's clip folder loads with bad files reported."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from backend.training import camera_synthesis as cam
from backend.training.clip_folder import load_clip_folder, pick_indices
from backend.training.motion_measure import (
    area_ratio,
    direction,
    displacement,
    foreground,
    is_outlined,
    rotation,
    track,
    watermark_contrast,
)
from backend.training.shapes import (
    DIRECTIONS,
    ShapeState,
    caption,
    random_clip,
    render,
    render_clip,
    still_sample,
)
from models.errors import InvalidInputError


@pytest.mark.parametrize("move", list(DIRECTIONS))
def test_object_clips_move_in_the_captioned_direction(move):
    for seed in range(5):
        spec = random_clip(np.random.default_rng(seed), 64, 16, move)
        tracks = track(render_clip(spec, 64))
        assert all(t.found for t in tracks)
        assert direction(tracks) == move
        dx, dy = displacement(tracks)
        assert abs(np.hypot(dx, dy) - 30) < 3  # 2 px/frame over 15 frames


def test_growing_shrinking_and_rotating_clips_measure_as_such():
    rng = np.random.default_rng(0)
    assert area_ratio(track(render_clip(random_clip(rng, 64, 16, "growing"), 64))) > 2.5  # 1.8x in size
    assert area_ratio(track(render_clip(random_clip(rng, 64, 16, "shrinking"), 64))) < 0.4
    spec = random_clip(rng, 64, 16, "rotating")
    frames = render_clip(spec, 64, trail=False, watermark=False)
    centred = [np.roll(f, (32 - round(spec.start.y), 32 - round(spec.start.x)), axis=(0, 1)) for f in frames]
    assert rotation(centred[0], centred[3]) == pytest.approx(18, abs=2)  # 6 degrees a frame, clockwise


def test_watermark_is_on_video_frames_only_and_the_trail_lies_behind_the_motion():
    rng = np.random.default_rng(1)
    clip = render_clip(random_clip(rng, 64, 16, "right"), 64)
    assert min(watermark_contrast(f) for f in clip) > 100
    still = still_sample(rng, 64)
    assert abs(watermark_contrast(still.frames[0])) < 5
    shape = ShapeState("circle", "red", 40, 32, 8)
    spec = random_clip(np.random.default_rng(2), 64, 16, "right")
    frame = render_clip(spec, 64, watermark=False)[8]
    fg = foreground(frame)
    ys, xs = np.nonzero(fg)
    row = frame[int(ys.mean())].max(axis=-1).astype(int)
    left, right = row[: xs.min()].max(), row[xs.max() + 1:].max()
    assert left > 30 and right < 10  # faint copies behind (left of) a shape moving right, none ahead
    assert caption(shape, "right") == "a red circle moving right"


def test_outlined_style_is_told_from_filled():
    filled = render([(ShapeState("square", "green", 32, 32, 10), 1.0)], 64)
    outlined = render([(ShapeState("square", "green", 32, 32, 10, style="outlined"), 1.0)], 64)
    assert is_outlined(filled) is False and is_outlined(outlined) is True


@pytest.mark.parametrize("kind", ["circle", "square", "triangle"])
def test_outlined_style_is_told_from_filled_in_moving_clips(kind):
    # The motion-blur trail lies across a moving triangle's small hollow; every frame must still read as outlined
    for style, expected in (("outlined", True), ("filled", False)):
        spec = random_clip(np.random.default_rng(5), 64, 16, "right", style=style)
        spec = dataclasses.replace(spec, start=dataclasses.replace(spec.start, kind=kind))
        assert [is_outlined(f) for f in render_clip(spec, 64)] == [expected] * 16, (kind, style)


def _scene() -> np.ndarray:
    """A 96x96 still with one off-centre shape and one centred (for rolls)."""
    return render([(ShapeState("square", "red", 60, 40, 7), 1.0), (ShapeState("circle", "blue", 48, 48, 4), 1.0)],
                  96)


@pytest.mark.parametrize("move,expected", [("pan-left", "right"), ("pan-right", "left"), ("tilt-up", "down"),
                                           ("tilt-down", "up")])
def test_pan_and_tilt_move_the_content_against_the_camera(move, expected):
    still = render([(ShapeState("square", "red", 48, 48, 8), 1.0)], 96)
    clip = cam.synthesize_camera_move(still, move, 16, 64)
    assert clip.shape == (16, 64, 64, 3)
    tracks = track(clip)
    assert direction(tracks) == expected
    dx, dy = displacement(tracks)
    # The window slides PAN of its side; measured in output pixels that is PAN * 64.
    assert np.hypot(dx, dy) == pytest.approx(cam.PAN * 64, rel=0.1)


def test_zoom_in_grows_and_zoom_out_shrinks_the_content_by_the_window_ratio():
    still = render([(ShapeState("circle", "yellow", 48, 48, 8), 1.0)], 96)
    grow = area_ratio(track(cam.synthesize_camera_move(still, "zoom-in", 16, 64)))
    shrink = area_ratio(track(cam.synthesize_camera_move(still, "zoom-out", 16, 64)))
    assert grow == pytest.approx((1 + cam.ZOOM) ** 2, rel=0.12)
    assert shrink == pytest.approx(1 / (1 + cam.ZOOM) ** 2, rel=0.12)


@pytest.mark.parametrize("move,sign", [("roll-clockwise", -1), ("roll-anticlockwise", 1)])
def test_roll_turns_the_content_the_other_way(move, sign):
    clip = cam.synthesize_camera_move(_scene(), move, 16, 64, strength=0.5)
    assert rotation(clip[0], clip[-1]) == pytest.approx(sign * cam.ROLL * 0.5, abs=3)


def test_camera_moves_over_a_clip_follow_its_frames_and_bad_moves_are_named():
    source = np.stack([render([(ShapeState("circle", "red", 30 + 2 * t, 48, 6), 1.0)], 96) for t in range(16)])
    clip = cam.synthesize_camera_move(source, "zoom-in", 16, 64, strength=0.01)
    assert direction(track(clip)) == "right"  # the source's own motion stays
    with pytest.raises(InvalidInputError) as info:
        cam.synthesize_camera_move(source, "dolly-zoom", 16, 64)
    assert "dolly-zoom" in info.value.message and "zoom-in" in info.value.message
    with pytest.raises(InvalidInputError) as info:
        cam.synthesize_camera_move(source[:4], "pan-left", 16, 64)
    assert info.value.field == "frames"


def _numbered_frames(count: int, size: tuple[int, int]) -> list[Image.Image]:
    """Frame i is a flat grey of value 10 * i, with a white column marking the centre."""
    frames = []
    for i in range(count):
        arr = np.full((size[1], size[0], 3), 10 * i, dtype=np.uint8)
        arr[:, size[0] // 2] = 255
        frames.append(Image.fromarray(arr))
    return frames


def _write_mp4(path, frames: list[Image.Image]) -> None:
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), frames[0].size, fps=8, codec="libx264", pix_fmt_out="yuv444p",
                                         macro_block_size=1, quality=10, ffmpeg_log_level="error")
    writer.send(None)
    for f in frames:
        writer.send(np.asarray(f))
    writer.close()


def test_clip_folder_loads_videos_gifs_and_frame_folders_with_captions_and_reports_bad_files(tmp_path):
    frames = _numbered_frames(20, (48, 32))  # not square: centre-cropped
    _write_mp4(tmp_path / "a_video.mp4", frames)
    (tmp_path / "a_video.txt").write_text("a grey clip\n")
    frames[0].save(tmp_path / "b.gif", save_all=True, append_images=frames[1:], duration=100)
    folder = tmp_path / "c_frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        f.save(folder / f"{i:03d}.png")
    (tmp_path / "captions.csv").write_text("file,caption\nb.gif,from the csv\n")
    (tmp_path / "d_broken.mp4").write_bytes(b"not a video at all")
    frames[0].save(tmp_path / "e_short.gif", save_all=True, append_images=frames[1:3], duration=100)
    (tmp_path / "f_notes.pdf").write_bytes(b"%PDF")

    samples, report = load_clip_folder(tmp_path, frames=4, stride=3, size=16)
    assert report.loaded == ["a_video.mp4", "b.gif", "c_frames"]
    assert {name for name, _ in report.skipped} == {"d_broken.mp4", "e_short.gif", "f_notes.pdf"}
    reasons = dict(report.skipped)
    assert "unreadable" in reasons["d_broken.mp4"] and "too short" in reasons["e_short.gif"]
    assert [s.caption for s in samples] == ["a grey clip", "from the csv", "c frames"]
    assert report.named_from_file == ["c_frames"]
    for s in samples:
        assert s.frames.shape == (4, 16, 16, 3)
    # Centred window of 4 frames at stride 3 in 20: indices 5, 8, 11, 14 -> grey 50, 80, 110, 140.
    assert pick_indices(20, 4, 3) == [5, 8, 11, 14]
    greys = samples[2].frames[:, 2, 2, 0].astype(int).tolist()
    assert greys == [50, 80, 110, 140]
    # The centre column survives the centre crop (a left-aligned crop would lose it).
    column = samples[2].frames[0, 8, :, 0].astype(int)
    assert column[7:9].max() > column[0] + 60 and column[0] == column[-1] == 50
    assert "skipped d_broken.mp4" in report.summary()


def test_a_missing_folder_and_a_bad_csv_are_named(tmp_path):
    with pytest.raises(InvalidInputError) as info:
        load_clip_folder(tmp_path / "nope", 4, 1, 16)
    assert info.value.field == "data.path"
    (tmp_path / "captions.csv").write_text("name,text\nx,y\n")
    with pytest.raises(InvalidInputError) as info:
        load_clip_folder(tmp_path, 4, 1, 16)
    assert "file,caption" in info.value.message


_PAIRS = {"zoom-in": "zoom-out", "pan-left": "pan-right", "tilt-up": "tilt-down",
          "roll-clockwise": "roll-anticlockwise"}
OPPOSITE = _PAIRS | {b: a for a, b in _PAIRS.items()}


@pytest.mark.parametrize("move", cam.CAMERA_MOVES)
def test_the_benchmark_recognises_each_synthesized_camera_move_and_not_its_opposite(move):
    from backend.training.paper_benchmark import camera_effect, shows_camera_move

    clip = list(cam.synthesize_camera_move(_scene(), move, 16, 64))
    assert shows_camera_move(move, clip)
    assert not shows_camera_move(OPPOSITE[move], clip)
    assert not shows_camera_move(move, [clip[0]] * 16)  # a still clip shows no move
    # the signed effect the rows compare with their control: the move's way, not the opposite's, none when still
    assert camera_effect(move, clip) > 0 > camera_effect(OPPOSITE[move], clip)
    assert camera_effect(move, [clip[0]] * 16) == pytest.approx(0, abs=1e-6)


def test_a_camera_row_compares_each_seed_with_its_own_control_clip():
    """`paper_benchmark.py --rows pan-left,tilt-up` at 2 seeds x 2 steps: the thresholded shares and the paired
    comparison, with the control clips computed once for both rows."""
    from backend.training.motion_measure import displacement, track
    from backend.training.paper_benchmark import PaperBenchmark

    bench = PaperBenchmark(seeds=2, steps=2, log=lambda _m: None)
    pan, tilt = bench.run(("pan-left", "tilt-up"))
    assert len(bench._plain) == 2  # one control clip per seed, shared by the rows
    for row, unit in ((pan, "px"), (tilt, "px")):
        assert row.seeds == 2 and 0 <= row.value <= 1 and 0 <= row.control <= 1
        assert {"further_than_control", f"mean_effect_{unit}", f"mean_effect_{unit}_control"} <= set(row.details)
    # panning left: the picture travels right (+x); tilting up: it travels down (+y, rows grow downwards)
    travel = np.array([displacement(track(clip)) for clip in bench._plain.values()])
    assert pan.details["mean_effect_px_control"] == pytest.approx(travel[:, 0].mean(), abs=1e-3)
    assert tilt.details["mean_effect_px_control"] == pytest.approx(travel[:, 1].mean(), abs=1e-3)


def test_the_direction_rows_pair_every_colour_and_shape_with_every_direction():
    """A module that drifts by colour (or shape) must not score as if it read the direction word."""
    from backend.training.paper_benchmark import _prompt
    from backend.training.shapes import COLOURS, DIRECTIONS, SHAPES

    pairs = [(p.split()[1], p.split()[2], move) for p, move in (_prompt(seed, True) for seed in range(48))]
    assert all(p[2] in DIRECTIONS for p in pairs)
    assert {(c, m) for c, _, m in pairs} == {(c, m) for c in COLOURS for m in DIRECTIONS}
    assert {(k, m) for _, k, m in pairs} == {(k, m) for k in SHAPES for m in DIRECTIONS}
    # and evenly: each direction a quarter of the seeds within every colour
    for colour in COLOURS:
        assert sorted(m for c, _, m in pairs if c == colour) == sorted(list(DIRECTIONS) * 3)


def test_the_text_response_row_reads_a_model_that_follows_the_word_and_one_that_ignores_it():
    """The row's measurement on two stand-in models: one that draws the prompted move (the data's clips), one that
    draws the same clip whatever the word; the engine's path is covered by the camera row test above."""
    from backend.training import shapes
    from backend.training.paper_benchmark import PaperBenchmark

    class Drawn(PaperBenchmark):
        ignore_word = False

        def _frames(self, req):  # noqa: ANN001, ANN202
            move = "right" if self.ignore_word else req.prompt.rsplit(" ", 1)[-1]
            rng = np.random.default_rng(req.seed)  # same "noise" (shape and start) for both words of a seed
            return list(shapes.render_clip(shapes.random_clip(rng, 64, 16, move), 64))

    bench = Drawn(seeds=6, steps=1, log=lambda _m: None)
    (follows,) = bench.run(("direction-text-response",))
    assert follows.value == 1.0
    assert follows.details["mean_shift_px"] > 40  # 30 px of travel each way, minus where a start was clamped
    bench.ignore_word = True
    (ignores,) = bench.run(("direction-text-response",))
    assert ignores.value == 0.0 and ignores.details["mean_shift_px"] == pytest.approx(0, abs=1e-6)


def test_the_personalized_row_counts_outlined_frames_with_the_module_against_frame_by_frame():
    """A stand-in personalized model that keeps the outlined style with the motion module and loses it frame by
    frame (the zero-initialised module): the row and its control read exactly that, on moving shapes with
    their trails."""
    from backend.training import shapes
    from backend.training.paper_benchmark import PaperBenchmark

    class Drawn(PaperBenchmark):
        def _frames(self, req):  # noqa: ANN001, ANN202
            assert req.base == str(self.model.personalized)
            style = "outlined" if req.motion_module == str(self.model.motion_module) else "filled"
            move = req.prompt.rsplit(" ", 1)[-1]
            return list(shapes.render_clip(shapes.random_clip(np.random.default_rng(req.seed), 64, 16, move,
                                                              style=style), 64))

    (row,) = Drawn(seeds=6, steps=1, log=lambda _m: None).run(("personalized",))
    assert (row.value, row.control) == (1.0, 0.0)
    assert row.details["direction_accuracy"] == 1.0 and row.details["frames_with_a_shape"] == 6 * 16


def test_the_median_jump_is_the_speed_of_one_moving_shape_and_large_for_unrelated_frames():
    from backend.training import shapes
    from backend.training.motion_measure import median_jump, track

    rng = np.random.default_rng(3)
    clip = shapes.render_clip(shapes.random_clip(rng, 64, 16, "right"), 64)
    assert median_jump(track(clip)) == pytest.approx(2.0, abs=0.3)  # the data's 2 px/frame
    unrelated = [shapes.render([(shapes.random_shape(rng, 64), 1.0)], 64) for _ in range(16)]
    assert median_jump(track(unrelated)) > 6
    assert median_jump(track([np.zeros((64, 64, 3), np.uint8)] * 4)) == float("inf")  # nothing found


@pytest.mark.parametrize("move", ["left", "right", "up", "down"])
def test_the_trail_offset_points_behind_a_moving_shape(move):
    from backend.training import shapes
    from backend.training.motion_measure import trail_offset

    rng = np.random.default_rng(5)
    dx, dy = shapes.DIRECTIONS[move]
    for _ in range(4):
        ox, oy = trail_offset(shapes.render_frame(shapes.random_clip(rng, 64, 16, move), 8.0, 64))
        assert ox * dx + oy * dy < -3  # several pixels behind, along the move
    still = shapes.render([(shapes.random_shape(rng, 64), 1.0)], 64)
    offset = trail_offset(still)  # only anti-aliased edges: no side
    assert offset is None or np.hypot(*offset) < 1.5


def test_the_coherence_row_tells_one_clip_from_frames_drawn_one_by_one():
    """A stand-in model draws the data's clip with the motion module and an unrelated picture per frame with the
    zero-initialised one (what the base alone does): the row must rate the first coherent and the second not."""
    from backend.training import shapes
    from backend.training.paper_benchmark import PaperBenchmark

    class Drawn(PaperBenchmark):
        def _frames(self, req):  # noqa: ANN001, ANN202
            rng = np.random.default_rng(req.seed)
            if req.motion_module == self._identity_module():
                return [shapes.render([(shapes.random_shape(rng, 64), 1.0)], 64) for _ in range(16)]
            return list(shapes.render_clip(shapes.random_clip(rng, 64, 16, "left"), 64))

    (row,) = Drawn(seeds=4, steps=1, log=lambda _m: None).run(("coherence",))
    assert (row.value, row.control, row.details["smoother_than_frame_by_frame"]) == (1.0, 0.0, 1.0)
    assert row.details["median_jump_px"] == pytest.approx(2.0, abs=0.3)
    assert row.details["frame_change"] < row.details["frame_change_frame_by_frame"]


def test_camera_scenes_hold_one_to_three_shapes_or_as_many_as_asked():
    from backend.training.datasets import procedural_scenes

    def shapes(scene) -> int:
        return scene.caption.count(" and ") + 1

    assert [shapes(s) for s in procedural_scenes(6, 96, seed=1)] == [1, 2, 3, 1, 2, 3]
    assert {shapes(s) for s in procedural_scenes(6, 96, seed=1, shapes=1)} == {1}

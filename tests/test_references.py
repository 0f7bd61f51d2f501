"""Image-to-video from reference pictures: each conditioned frame is pulled toward its picture's latents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from backend.engine.device import choose_device
from backend.engine.keyframes import interpolate_keyframes
from backend.engine.reference_latents import encode_images, load_reference_image
from backend.engine.request import ReferenceFrame
from backend.engine.resolved_inputs import resolve_models
from models.errors import InvalidInputError


def _picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> Path:
    """A coloured picture with a gradient (so its latents are not flat); deliberately not the clip's size."""
    x = np.linspace(0, 1, size[0])[None, :, None]
    rgb = (np.array(colour)[None, None, :] * (0.5 + 0.5 * x)).astype(np.uint8)
    Image.fromarray(np.repeat(rgb, size[1], axis=0)).save(path)
    return path


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("refs")
    return _picture(d / "red.png", (230, 30, 20)), _picture(d / "blue.png", (20, 40, 230))


def _final_latents(engine, req) -> torch.Tensor:
    seen = []
    engine.generate(req, on_progress=seen.append)
    last = [p for p in seen if p.phase == "denoising" and p.latents is not None][-1]
    return last.latents[0].float()  # (C, F, h, w)


def _reference_latents(engine, req, picture: Path) -> torch.Tensor:
    models = resolve_models(req)
    assembled, _ = engine.cache.get(models.base, models.motion_module, choose_device("fp32", "cpu"))
    return encode_images(assembled.pipe, [load_reference_image(picture, req.width, req.height)])[0]


def _distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean().sqrt())


def test_keyframes_are_pinned_and_blended_between():
    a, b = torch.zeros(4, 2, 2), torch.ones(4, 2, 2)
    out = interpolate_keyframes({1: a, 5: b}, 8)
    assert out.shape == (8, 4, 2, 2)
    assert torch.equal(out[0], a) and torch.equal(out[1], a)  # before the first: the first
    assert torch.allclose(out[3], torch.full((4, 2, 2), 0.5))  # halfway between frame 1 and 5
    assert torch.equal(out[5], b) and torch.equal(out[7], b)  # after the last: the last


def test_first_frame_reference_pulls_the_clip_toward_the_picture(engine, make_request, pictures):
    red, _ = pictures
    plain = make_request(steps=4)
    conditioned = make_request(steps=4, references=(ReferenceFrame(str(red), 0),), reference_strength=0.5)
    target = _reference_latents(engine, conditioned, red)

    without = _final_latents(engine, plain)
    with_ref = _final_latents(engine, conditioned)
    # Strength 0.5 runs the last 2 of 4 steps from the picture's noised latents: every frame starts there.
    assert _distance(with_ref[:, 0], target) < 0.5 * _distance(without[:, 0], target)
    assert _distance(with_ref[:, -1], target) < 0.5 * _distance(without[:, -1], target)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def _swapped_difference(engine, make_request, pictures, frames: list[int], clip_frames: int = 8):
    """Final latents of red/blue/red... at `frames` minus blue/red/blue... (same seed, so the noise cancels)."""
    red, blue = pictures
    order = [red, blue]
    a = make_request(frames=clip_frames, steps=4, reference_strength=0.5,
                     references=tuple(ReferenceFrame(str(order[i % 2]), f) for i, f in enumerate(frames)))
    b = make_request(frames=clip_frames, steps=4, reference_strength=0.5,
                     references=tuple(ReferenceFrame(str(order[(i + 1) % 2]), f) for i, f in enumerate(frames)))
    red_minus_blue = _reference_latents(engine, a, red) - _reference_latents(engine, a, blue)
    return _final_latents(engine, a) - _final_latents(engine, b), red_minus_blue


def test_first_and_last_references_condition_their_own_ends(engine, make_request, pictures):
    diff, red_minus_blue = _swapped_difference(engine, make_request, pictures, [0, -1])
    assert _cosine(diff[:, 0], red_minus_blue) > 0.5  # frame 0 follows its picture...
    assert _cosine(diff[:, -1], red_minus_blue) < -0.5  # ...and the last frame follows the other one
    # Halfway, both runs started from (nearly) the same blend: the swap barely shows there.
    assert diff[:, 3:5].norm() < 0.4 * diff[:, [0, -1]].norm()


def test_three_keyframes_each_pull_their_frame(engine, make_request, pictures):
    diff, red_minus_blue = _swapped_difference(engine, make_request, pictures, [0, 8, 15], clip_frames=16)
    assert _cosine(diff[:, 0], red_minus_blue) > 0.5
    assert _cosine(diff[:, 8], red_minus_blue) < -0.5
    assert _cosine(diff[:, 15], red_minus_blue) > 0.5


def test_references_run_only_the_shortened_schedule_and_reproduce(engine, make_request, pictures):
    red, _ = pictures
    req = make_request(steps=10, references=(ReferenceFrame(str(red), 0),), reference_strength=0.3)
    seen = []
    a = engine.generate(req, on_progress=seen.append)
    assert [p.step for p in seen if p.phase == "denoising" and p.step] == [1, 2, 3]
    b = engine.generate(req)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.frames, b.frames, strict=True))
    assert a.models.references == (red.resolve(),)


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"references": (ReferenceFrame("x.png", 8),)}, "references[0].frame", ["8", "-8 to 7"]),
    ({"references": (ReferenceFrame("x.png", 0), ReferenceFrame("y.png", -8))}, "references[1].frame",
     ["-8", "frame 0", "references[0]"]),
    ({"references": (ReferenceFrame("x.png", 0),), "reference_strength": 1.5}, "reference_strength", ["1.5"]),
    ({"references": (ReferenceFrame("x.png", 0),), "reference_strength": 0.1}, "reference_strength",
     ["no denoising step", "0.333"]),
    ({"references": (ReferenceFrame("", 0),)}, "references[0].image", ["upload id"]),
])
def test_bad_references_are_named(make_request, overrides, field, words):
    from backend.engine.request_checks import check_request

    with pytest.raises(InvalidInputError) as info:
        check_request(make_request(**overrides))
    assert info.value.field == field
    for word in words:
        assert word in info.value.message


def test_missing_reference_picture_is_named(engine, make_request, tmp_path):
    with pytest.raises(InvalidInputError) as info:
        engine.generate(make_request(references=(ReferenceFrame(str(tmp_path / "nope.png"), 0),)))
    assert info.value.field == "references[0].image" and "nope.png" in info.value.message

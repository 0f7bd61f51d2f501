"""The Generate view's own checks (refused before sending) name the same field as the engine's `check_request`
for every clip option they restate, and pass what the engine accepts."""

from __future__ import annotations

from typing import Any

import pytest

from backend.engine.request import GenerationRequest
from backend.engine.request_checks import check_request
from desktop.form_checks import check_extend, check_form
from models.errors import InvalidInputError

REF = {"image": "0" * 64, "frame": 0}
SPARSE = {"path": "tiny_sparsectrl", "weight": 1.0}
WINDOWS = {"context_length": 4, "context_overlap": 1}


def request(**overrides: Any) -> dict[str, Any]:
    return {"prompt": "a cat", "base": "b", "motion_module": "m", "width": 64, "height": 64, "frames": 8,
            "steps": 2, **overrides}


def engine_field(body: dict[str, Any]) -> str | None:
    try:
        check_request(GenerationRequest.from_dict(body))
    except InvalidInputError as exc:
        return exc.field
    return None


BAD = {
    "reference frame past the end": request(references=[{**REF, "frame": 8}]),
    "reference frame before the start": request(references=[{**REF, "frame": -9}]),
    "two references on one frame": request(references=[REF, {**REF, "frame": -8}]),
    "reference strength leaves no step": request(references=[REF], reference_strength=0.3),
    "reference strength above 1": request(references=[REF], reference_strength=1.5),
    "sparsectrl without references": request(sparsectrl=SPARSE),
    "sparsectrl weight above 2": request(references=[REF], sparsectrl={**SPARSE, "weight": 2.5}),
    "prompt at frame 0": request(prompt_at=[{"frame": 0, "prompt": "x"}]),
    "prompt past the end": request(prompt_at=[{"frame": 8, "prompt": "x"}]),
    "two prompts on one frame": request(prompt_at=[{"frame": 2, "prompt": "x"}, {"frame": 2, "prompt": "y"}]),
    "empty travel prompt": request(prompt_at=[{"frame": 2, "prompt": " "}]),
    "window of one frame": request(context_length=1),
    "overlap as long as the window": request(context_length=4, context_overlap=4),
    "closed loop without windows": request(closed_loop=True),
    "free noise without windows": request(free_noise=True),
    "free init above 5": request(free_init=6),
    "free init with references": request(references=[REF], free_init=1),
    "free init with a video": request(video=["v"] * 8, free_init=1),
    "video and references": request(video=["v"] * 8, references=[REF]),
    "video strength leaves no step": request(video=["v"] * 8, video_strength=0.2),
}
GOOD = {
    "first and last frame": request(references=[REF, {**REF, "frame": -1}], reference_strength=0.5),
    "storyboard with sparsectrl": request(references=[REF, {**REF, "frame": 4}, {**REF, "frame": -1}],
                                          sparsectrl=SPARSE),
    "windows, loop, noise, travel": request(frames=40, **WINDOWS, closed_loop=True, free_noise=True,
                                            context_weighting="flat", prompt_at=[{"frame": 20, "prompt": "x"}]),
    "free init text to video": request(free_init=2),
    "video": request(video=["v"] * 8, video_strength=0.6),
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_refused_with_the_engines_field(body: dict[str, Any]) -> None:
    problem = check_form(body)
    assert problem is not None
    assert problem.field == engine_field(body)
    assert problem.message.startswith(problem.field + ":")


@pytest.mark.parametrize("body", GOOD.values(), ids=GOOD.keys())
def test_accepted_like_the_engine(body: dict[str, Any]) -> None:
    assert engine_field(body) is None and check_form(body) is None


def test_module_length_and_video_length() -> None:
    long = request(frames=40)
    problem = check_form(long, module_frames=32)
    assert problem.field == "frames" and "40 is more than" in problem.message and "(32 frames)" in problem.message
    assert check_form({**long, **WINDOWS}, module_frames=32) is None
    assert check_form({**long, "context_length": 40}, module_frames=32).field == "context_length"
    assert check_form(long) is None  # the module's length unknown: the service's check decides
    short_video = check_form(request(video=["v"]), video_frames=6)
    assert short_video.field == "frames" and "holds 6 frames" in short_video.message


def test_extend_values() -> None:
    assert check_extend(16, 4, source_frames=16) is None
    assert check_extend(16, 5, source_frames=4).field == "extend_overlap"
    assert check_extend(0, 2, source_frames=4).field == "frames"

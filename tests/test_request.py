"""Every rejection names the field, the value and what is accepted."""

from __future__ import annotations

import pytest

from backend.engine.request import GenerationRequest
from backend.engine.request_checks import check_request
from models.errors import InvalidInputError

BASE = dict(prompt="a cat", base="b.safetensors", motion_module="m.ckpt")


@pytest.mark.parametrize(
    "field,value,accepted",
    [("width", 500, "multiple of 8"), ("height", 32, "64 to 2048"), ("frames", 0, "1 to 1024"),
     ("steps", 1000, "1 to 200"), ("guidance", -1.0, "0.0 to 30.0"), ("scheduler", "pndm", "ddim"),
     ("fps", 0, "1 to 60"), ("prompt", "  ", "non-empty"), ("seed", -5, "0 to"), ("precision", "fp8", "bf16"),
     ("steps", "25", "an integer"), ("guidance_rescale", 1.5, "0.0 to 1.0")],
)
def test_bad_values_are_named(field, value, accepted):
    with pytest.raises(InvalidInputError) as info:
        check_request(GenerationRequest(**{**BASE, field: value}))
    assert info.value.field == field
    assert repr(value) in info.value.message or str(value) in info.value.message
    assert accepted in info.value.message


def test_unknown_camera_move_lists_the_vocabulary():
    with pytest.raises(InvalidInputError) as info:
        check_request(GenerationRequest.from_dict({**BASE, "camera": [{"move": "dolly", "strength": 1}]}))
    for word in ("dolly", "zoom-in", "roll-anticlockwise"):
        assert word in info.value.message


def test_unknown_field_is_rejected_with_the_accepted_ones():
    with pytest.raises(InvalidInputError) as info:
        GenerationRequest.from_dict({**BASE, "cfg": 7})
    assert info.value.field == "cfg" and "guidance" in info.value.message


def test_round_trip_through_json_data():
    req = GenerationRequest.from_dict({**BASE, "camera": [{"move": "zoom-in", "strength": 0.8}],
                                       "loras": [{"path": "x.safetensors", "weight": 0.5}], "seed": 3})
    assert GenerationRequest.from_dict(req.to_dict()) == req
    check_request(req)

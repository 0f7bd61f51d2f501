"""SparseCtrl keyframes: official-layout files load offline and exactly; only the chosen frames are conditioned."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from backend.engine.device import choose_device
from backend.engine.reference_latents import encode_images, load_reference_image
from backend.engine.request import ReferenceFrame, WeightedFile
from backend.engine.request_checks import check_request
from backend.engine.resolved_inputs import resolve_models
from backend.engine.sparsectrl import load_sparsectrl, sparse_condition
from models.errors import IncompatibleModelsError, InvalidInputError, WrongModelKindError
from models.testing.tiny_sparsectrl import build_tiny_sparsectrl, save_sparsectrl


@pytest.fixture(scope="module")
def sparse_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sparsectrl")
    rgb, scribble = build_tiny_sparsectrl("rgb", 1), build_tiny_sparsectrl("scribble", 2)
    return {
        "rgb": (rgb, save_sparsectrl(rgb, d / "v3_tiny_sparsectrl_rgb.ckpt")),
        "scribble": (scribble, save_sparsectrl(scribble, d / "v3_tiny_sparsectrl_scribble.ckpt")),
        "rgb-diffusers": (rgb, save_sparsectrl(rgb, d / "sparsectrl_rgb_diffusers.safetensors", layout="diffusers")),
        "wide": (None, save_sparsectrl(build_tiny_sparsectrl("rgb", 3, widths=(64, 64)), d / "wide.ckpt")),
    }


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    d = tmp_path_factory.mktemp("keyframes")
    paths = []
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 40, 220))):
        ramp = np.linspace(0.4, 1, 64)[None, :, None] * np.array(colour)[None, None]
        Image.fromarray(ramp.repeat(64, 0).astype(np.uint8)).save(d / f"{name}.png")
        paths.append(d / f"{name}.png")
    return paths


def _unet(engine, make_request):
    models = resolve_models(make_request())
    return engine.cache.get(models.base, models.motion_module, choose_device("fp32", "cpu"))[0].pipe


@pytest.mark.parametrize(("name", "kind"), [("rgb", "rgb"), ("scribble", "scribble"), ("rgb-diffusers", "rgb")])
def test_every_layout_loads_to_exactly_the_saved_weights(engine, make_request, sparse_files, name, kind):
    source, path = sparse_files[name]
    pipe = _unet(engine, make_request)
    model, got_kind = load_sparsectrl(path, pipe.unet, torch.float32)
    assert got_kind == kind
    theirs, ours = source.state_dict(), model.state_dict()
    assert set(theirs) == set(ours)
    assert all(torch.equal(theirs[k], ours[k]) for k in theirs)


def test_files_that_are_not_sparsectrl_or_do_not_fit_are_refused(engine, make_request, sparse_files, tiny_files):
    pipe = _unet(engine, make_request)
    with pytest.raises(WrongModelKindError) as info:
        load_sparsectrl(tiny_files.mm_original_ckpt, pipe.unet, torch.float32)
    assert "not a SparseCtrl" in info.value.message
    with pytest.raises(IncompatibleModelsError) as info:
        load_sparsectrl(sparse_files["wide"][1], pipe.unet, torch.float32)
    assert "does not match this base model" in info.value.message


@pytest.mark.parametrize("indices", [[0], [0, -1], [0, 8, 15]])
def test_condition_sets_exactly_the_chosen_frames(engine, make_request, pictures, indices):
    pipe = _unet(engine, make_request)
    frames = 16
    pairs = [(i % frames, pictures[n % 2]) for n, i in enumerate(indices)]
    condition = sparse_condition(pipe, "rgb", pairs, 64, 64, frames, torch.device("cpu"), torch.float32)
    chosen = {i % frames for i in indices}
    assert [f for f in range(frames) if condition.mask[0, 0, f].all()] == sorted(chosen)
    assert not condition.mask[0, 0, [f for f in range(frames) if f not in chosen]].any()
    for frame, path in pairs:
        expected = encode_images(pipe, [load_reference_image(path, 64, 64)])[0]
        assert torch.allclose(condition.cond[0, :, frame], expected, atol=1e-4)  # batched vs single: float noise
    assert not condition.cond[0, :, [f for f in range(frames) if f not in chosen]].any()


@pytest.mark.parametrize("name", ["rgb", "scribble"])
def test_keyframes_steer_the_clip_and_weight_zero_is_the_plain_clip(engine, make_request, sparse_files, pictures,
                                                                    name):
    path = sparse_files[name][1]
    refs = (ReferenceFrame(str(pictures[0]), 0), ReferenceFrame(str(pictures[1]), -1))
    plain = engine.generate(make_request(steps=2))
    off = engine.generate(make_request(steps=2, references=refs, sparsectrl=WeightedFile(str(path), 0.0)))
    on = engine.generate(make_request(steps=2, references=refs, sparsectrl=WeightedFile(str(path), 1.0)))
    assert torch.equal(off.latents, plain.latents)  # the whole schedule, no latent init: only the ControlNet acts
    assert not torch.equal(on.latents, plain.latents)
    assert on.models.sparsectrl == path.resolve()


def test_sparsectrl_needs_references(make_request, sparse_files):
    with pytest.raises(InvalidInputError) as info:
        check_request(make_request(sparsectrl=WeightedFile(str(sparse_files["rgb"][1]), 1.0)))
    assert info.value.field == "sparsectrl" and "references" in info.value.message

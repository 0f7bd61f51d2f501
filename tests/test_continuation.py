"""Continuing a finished clip, and restyling a video: the source's frames lead into the new ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from backend.engine.device import choose_device
from backend.engine.outputs import write_frames, write_mp4, write_outputs
from backend.engine.reference_latents import encode_images
from backend.engine.video_input import read_video_frames, resolve_video
from models.errors import InvalidInputError


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def _array(frames) -> np.ndarray:
    return np.stack([np.asarray(f, dtype=np.int16) for f in frames])


@pytest.fixture(scope="module")
def source_clip(tmp_path_factory, engine, tiny_files):
    """An 8-frame clip written the way every job writes its outputs (with its final latents)."""
    from backend.engine.request import GenerationRequest

    folder = tmp_path_factory.mktemp("source")
    req = GenerationRequest(prompt="a red circle moving right", base=str(tiny_files.base_safetensors),
                            motion_module=str(tiny_files.mm_original_ckpt), width=64, height=64, frames=8, steps=3,
                            seed=42)
    write_outputs(engine.generate(req), folder)
    return folder


def test_extension_keeps_the_source_and_its_overlap_exactly(engine, make_request, source_clip):
    source = _array(Image.open(p) for p in sorted((source_clip / "frames").glob("*.png")))
    result = engine.generate(make_request(frames=6, seed=5, extend=str(source_clip), extend_overlap=4))
    out = _array(result.frames)
    assert out.shape[0] == 8 + 6
    assert np.array_equal(out[:4], source[:4])  # untouched before the overlap
    # Pinned to the source's saved latents, the overlap decodes to the source's own frames.
    assert np.abs(out[4:8] - source[4:8]).max() <= 2
    assert result.latents_first_frame == 4 and result.latents.shape[2] == 10


def test_extension_without_saved_latents_encodes_the_last_frames(engine, make_request, source_clip, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(source_clip, copy)
    (copy / "latents.safetensors").unlink()
    source = _array(Image.open(p) for p in sorted((copy / "frames").glob("*.png")))
    out = _array(engine.generate(make_request(frames=4, seed=5, extend=str(copy), extend_overlap=4)).frames)
    assert np.array_equal(out[4], source[4])  # the cross-fade starts on the source's own frame
    assert out.shape[0] == 12


def test_the_source_conditions_the_new_frames(engine, make_request, source_clip, tmp_path):
    other = tmp_path / "other"
    write_outputs(engine.generate(make_request(seed=99)), other)
    a = _array(engine.generate(make_request(frames=4, seed=5, extend=str(source_clip))).frames)
    b = _array(engine.generate(make_request(frames=4, seed=5, extend=str(other))).frames)
    assert np.abs(a[-1] - b[-1]).max() > 0  # same seed and prompt: only the source differs


def test_extension_must_match_the_source_size(engine, make_request, source_clip):
    with pytest.raises(InvalidInputError) as info:
        engine.generate(make_request(width=72, extend=str(source_clip)))
    assert info.value.field == "extend" and "width=64" in info.value.message


def test_extending_a_folder_that_is_not_a_clip_is_named(engine, make_request, tmp_path):
    with pytest.raises(InvalidInputError) as info:
        engine.generate(make_request(extend=str(tmp_path)))
    assert info.value.field == "extend" and "metadata.json" in info.value.message


def _video_frames(tmp_path, colours) -> list[Image.Image]:
    frames = []
    for colour in colours:
        x = np.linspace(0.5, 1, 64)[None, :, None]
        frames.append(Image.fromarray((np.array(colour)[None, None] * x).repeat(64, 0).astype(np.uint8)))
    return frames


def test_video_to_video_follows_each_frame_of_the_video(engine, make_request, tmp_path):
    red, blue = (230, 30, 20), (20, 40, 230)
    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    write_frames(_video_frames(tmp_path, [red] * 4 + [blue] * 4), folder_a)
    write_frames(_video_frames(tmp_path, [blue] * 4 + [red] * 4), folder_b)
    seen = []
    a = engine.generate(make_request(steps=4, video=(str(folder_a / "frames"),), video_strength=0.5),
                        on_progress=seen.append)
    b = engine.generate(make_request(steps=4, video=(str(folder_b / "frames"),), video_strength=0.5))
    assert [p.step for p in seen if p.phase == "denoising" and p.step] == [1, 2]
    # In latent space (the tiny VAE's colours mean nothing): a - b follows encode(red) - encode(blue) where
    # video a was red, and the opposite where it was blue.
    pipe = engine.cache.get(a.models.base, a.models.motion_module, choose_device("fp32", "cpu"))[0].pipe
    lat_red, lat_blue = encode_images(pipe, _video_frames(tmp_path, [red, blue]))
    diff = (a.latents - b.latents)[0].float()
    assert _cosine(diff[:, 0], lat_red - lat_blue) > 0.5 and _cosine(diff[:, 7], lat_red - lat_blue) < -0.5
    assert len(a.models.video) == 8


def test_video_file_frames_are_read_and_counted(tmp_path):
    frames = _video_frames(tmp_path, [(200, 50, 50)] * 6)
    path = write_mp4(frames, tmp_path / "in.mp4", fps=8)
    files = resolve_video((str(path),))
    assert files == (path.resolve(),)
    assert len(read_video_frames(files, 6)) == 6 and read_video_frames(files, 6)[0].size == (64, 64)
    with pytest.raises(InvalidInputError) as info:
        read_video_frames(files, 9)
    assert info.value.field == "video" and "6 frames" in info.value.message

"""Safe reading of checkpoint files: formats, wrappers, damaged files and a planted malicious pickle."""

from __future__ import annotations

import pytest
import torch

from models.checkpoint_reader import load_state_dict, sniff_format
from models.errors import CorruptCheckpointError, ModelNotFoundError, UnsafeCheckpointError
from models.testing.files import save_state, write_malicious_ckpt


@pytest.fixture
def state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"a.weight": torch.randn(3, 4, generator=g), "b.bias": torch.randn(5, generator=g)}


@pytest.mark.parametrize("name,fmt", [("m.safetensors", "safetensors"), ("m.ckpt", "zip-pickle")])
def test_round_trip_is_exact(tmp_path, state, name, fmt):
    path = save_state(state, tmp_path / name)
    assert sniff_format(path) == fmt
    loaded = load_state_dict(path)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_state_dict_wrapper_and_non_tensor_entries_are_removed(tmp_path, state):
    path = save_state(state, tmp_path / "wrapped.ckpt", wrap=True)  # {"state_dict": ..., "global_step": 1}
    loaded = load_state_dict(path)
    assert set(loaded) == set(state)


def test_format_comes_from_content_not_extension(tmp_path, state):
    real = save_state(state, tmp_path / "m.safetensors")
    mislabelled = tmp_path / "m.ckpt"
    mislabelled.write_bytes(real.read_bytes())
    assert sniff_format(mislabelled) == "safetensors"
    assert torch.equal(load_state_dict(mislabelled)["a.weight"], state["a.weight"])


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = write_malicious_ckpt(tmp_path / "evil.ckpt", marker)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_state_dict(path)
    assert not marker.exists()
    assert "refused" in info.value.message and str(path) in info.value.message
    assert "exec" in info.value.message  # names what the file asked to run


@pytest.mark.parametrize(
    "content,why",
    [(b"", "empty"), (b"\x00\x01", "truncated"), (b"hello world, not a model", "text"),
     (b"PK\x03\x04garbage-zip-header" * 4, "broken zip")],
)
def test_damaged_files_get_a_clear_error(tmp_path, content, why):
    path = tmp_path / f"{why.replace(' ', '_')}.ckpt"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError) as info:
        load_state_dict(path)
    assert str(path) in info.value.message


def test_truncated_safetensors_is_corrupt(tmp_path, state):
    path = save_state(state, tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CorruptCheckpointError):
        load_state_dict(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelNotFoundError) as info:
        load_state_dict(tmp_path / "nope.safetensors")
    assert "nope.safetensors" in info.value.message


def test_shipped_tokenizer_is_the_real_clip_vocabulary():
    from transformers import CLIPTokenizer

    from models.base_config import SD15_CONFIG_DIR

    tok = CLIPTokenizer.from_pretrained(SD15_CONFIG_DIR / "tokenizer")
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok.model_max_length == 77
    assert len(tok) == 49408

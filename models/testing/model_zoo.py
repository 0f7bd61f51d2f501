"""Model files of every kind the model manager tells apart, damaged files of every sort, and fake installs.

Everything is written in the real on-disk formats from real (tiny) models, so the detector, the index and
the pre-flight check run on what users have. `write_header_only_safetensors` gives full-size layouts for
free: a real safetensors header over a sparse data section (GBs apparent, nothing on disk), which the
detector reads exactly as it reads a downloaded file.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import struct
from collections.abc import Mapping
from pathlib import Path

import torch

from models.testing.files import save_state, write_malicious_ckpt

_ITEMSIZE = {"F16": 2, "F32": 4, "BF16": 2}


def write_header_only_safetensors(shapes: Mapping[str, tuple[int, ...]], path: Path, dtype: str = "F16") -> Path:
    """A valid safetensors file of the given tensor shapes whose data is a hole (sparse): full size, no disk."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in shapes.items():
        n = math.prod(shape) * _ITEMSIZE[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return path


def hotshot_state(original: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HotshotXL's names for an original-layout module (`temporal_attentions.N.`, `positional_encoding`)."""
    out = {}
    for key, value in original.items():
        key = re.sub(r"motion_modules\.(\d+)\.temporal_transformer\.", r"temporal_attentions.\1.", key, count=1)
        out[key.replace("pos_encoder.pe", "pos_encoder.positional_encoding")] = value
    return out


def animatelcm_state(original: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An original-layout module stored the way AnimateLCM's files are: without any position table."""
    return {k: v for k, v in original.items() if "pos_encoder" not in k}


def tiny_sparsectrl(simplified: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """A tiny SparseCtrl (diffusers `SparseControlNetModel`): RGB uses the simplified 1-conv condition embedding."""
    from diffusers import SparseControlNetModel

    torch.manual_seed(seed)
    model = SparseControlNetModel(
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
        layers_per_block=1, cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32,
        conditioning_channels=4 if simplified else 3, conditioning_embedding_out_channels=(16, 32),
        use_simplified_condition_embedding=simplified, concat_conditioning_mask=True, motion_max_seq_length=32,
        motion_num_attention_heads=8)
    return model.state_dict()


def tiny_vae_state(ldm: bool) -> dict[str, torch.Tensor]:
    """A tiny SD-shaped VAE on its own, in diffusers' layout or the LDM layout of `vae-ft-mse-*.safetensors`."""
    from diffusers import AutoencoderKL

    from models.ldm_layout import vae_to_ldm
    from models.testing.tiny_base import TINY_VAE

    torch.manual_seed(0)
    vae = AutoencoderKL(**TINY_VAE)
    state = vae.state_dict()
    if ldm:
        state = {k.removeprefix("first_stage_model."): v for k, v in vae_to_ldm(state, vae.config).items()}
    return state


def embedding_files(folder: Path) -> dict[str, Path]:
    """Textual inversions as A1111 writes them (.pt with string_to_param, and .safetensors), SDXL's and diffusers'."""
    g = torch.Generator().manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    a1111_pt = folder / "bad-hands.pt"
    torch.save({"string_to_token": {"*": torch.tensor(265)}, "string_to_param": {"*": torch.randn(4, 768, generator=g)},
                "name": "bad-hands", "step": 1500}, a1111_pt)
    return {
        "a1111_pt": a1111_pt,
        "a1111_safetensors": save_state({"emb_params": torch.randn(2, 768, generator=g)}, folder / "style.safetensors"),
        "sdxl": save_state({"clip_l": torch.randn(2, 768, generator=g), "clip_g": torch.randn(2, 1280, generator=g)},
                           folder / "sdxl-emb.safetensors"),
        "diffusers": save_state({"<cat-toy>": torch.randn(768, generator=g)}, folder / "learned_embeds.bin"),
    }


def write_damaged_files(folder: Path, good_safetensors: Path, good_ckpt: Path) -> dict[str, Path]:
    """One file per way a model file is broken in the wild, keyed by what is wrong with it."""
    folder.mkdir(parents=True, exist_ok=True)
    st, ck = good_safetensors.read_bytes(), good_ckpt.read_bytes()
    files = {
        "empty": b"",
        "tiny": b"\x00\x01",
        "text": b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1700000000\n",
        "html": b"<!DOCTYPE html><html><body>Sign in to download</body></html>",
        "truncated_safetensors": st[: len(st) // 2],
        "truncated_header": st[:40],
        "bad_json_header": struct.pack("<Q", 12) + b"{not json!!}" + b"\x00" * 64,
        "oversize_header": struct.pack("<Q", 200 * 1024 * 1024) + b'{"a": 1}' + b"\x00" * 64,
        "trailing_bytes": st + b"\x00" * 16,
        "truncated_ckpt": ck[: len(ck) // 2],
        "broken_zip": b"PK\x03\x04" + b"garbage" * 20,
        "plain_pickle": pickle.dumps({"weights": [1.0, 2.0]}, protocol=2),  # a pickle, not a torch checkpoint
    }
    paths = {}
    for name, data in files.items():
        suffix = ".ckpt" if "ckpt" in name or name in ("broken_zip", "plain_pickle") else ".safetensors"
        paths[name] = folder / f"{name}{suffix}"
        paths[name].write_bytes(data)
    return paths


def write_malicious(folder: Path) -> tuple[Path, Path]:
    """(a .ckpt whose unpickling would create a marker file, the marker's path): the marker must never appear."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "PAYLOAD-RAN"
    return write_malicious_ckpt(folder / "evil.ckpt", marker), marker


def comfyui_tree(root: Path, files: Mapping[str, Path], extra_yaml: str | None = None) -> Path:
    """A ComfyUI install: `files` maps "models/<folder>/<name>" (or custom_nodes paths) to a source to copy."""
    (root / "comfy").mkdir(parents=True, exist_ok=True)
    (root / "main.py").write_text("# ComfyUI\n")
    for folder in ("checkpoints", "loras", "vae", "animatediff_models", "animatediff_motion_lora", "embeddings"):
        (root / "models" / folder).mkdir(parents=True, exist_ok=True)
    _place(root, files)
    (root / "output").mkdir(exist_ok=True)
    if extra_yaml is not None:
        (root / "extra_model_paths.yaml").write_text(extra_yaml)
    return root


def a1111_tree(root: Path, files: Mapping[str, Path]) -> Path:
    """An A1111 install with the AnimateDiff extension: `files` maps relative paths to sources to copy."""
    for folder in ("models/Stable-diffusion", "models/Lora", "models/VAE", "embeddings",
                   "extensions/sd-webui-animatediff/model"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "webui.py").write_text("# A1111\n")
    _place(root, files)
    return root


def _place(root: Path, files: Mapping[str, Path]) -> None:
    import shutil

    for rel, source in files.items():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copyfile(source, dest)

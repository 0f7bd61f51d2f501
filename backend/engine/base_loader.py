"""Load an SD1.5-family base (UNet, VAE, CLIP text encoder, tokenizer) from a diffusers folder or a
single LDM-layout file, with no hub access.

Single files: tensors are read once by the safe reader, the architecture is inferred from them
(`models.base_config`), and diffusers' own LDM->diffusers key conversion fills models built from
that config; `load_state_dict(strict=True)` makes any mismatch an error instead of random weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule, read_noise_schedule
from models.base_config import SD15_CONFIG_DIR, check_usable_base, infer_base_architecture
from models.checkpoint_reader import load_state_dict
from models.errors import IncompatibleModelsError, WrongModelKindError


@dataclass
class BaseComponents:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    source_format: str  # "diffusers-folder" or "single-file"
    schedule: NoiseSchedule = SD15_SCHEDULE  # what the UNet predicts (the folder's scheduler config says)


def is_diffusers_folder(path: Path) -> bool:
    return path.is_dir() and (path / "unet" / "config.json").is_file()


def load_base(path: Path, dtype: torch.dtype, field: str = "base") -> BaseComponents:
    if path.is_dir():
        if not is_diffusers_folder(path):
            raise WrongModelKindError(
                f"{field}: folder {path} is not a diffusers pipeline (no unet/config.json); expected a diffusers "
                "folder or a single .safetensors/.ckpt checkpoint",
                field=field,
            )
        return _load_folder(path, dtype, field)
    return _load_single_file(path, dtype, field)


def _load_folder(path: Path, dtype: torch.dtype, field: str) -> BaseComponents:
    schedule = read_noise_schedule(path, field)
    kwargs = {"local_files_only": True, "torch_dtype": dtype}
    tokenizer_dir = path / "tokenizer" if (path / "tokenizer").is_dir() else SD15_CONFIG_DIR / "tokenizer"
    return BaseComponents(
        unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", **kwargs),
        vae=AutoencoderKL.from_pretrained(path, subfolder="vae", **kwargs),
        text_encoder=CLIPTextModel.from_pretrained(path, subfolder="text_encoder", **kwargs),
        tokenizer=CLIPTokenizer.from_pretrained(tokenizer_dir),
        source_format="diffusers-folder",
        schedule=schedule,
    )


def _load_single_file(path: Path, dtype: torch.dtype, field: str) -> BaseComponents:
    state = load_state_dict(path)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    try:
        arch = infer_base_architecture(shapes)
    except (ValueError, KeyError, StopIteration) as exc:
        raise WrongModelKindError(
            f"{field}: {path} is not a Stable Diffusion checkpoint in the original layout ({exc})", field=field
        ) from exc
    check_usable_base(arch, path, field)
    unet_sd = convert_ldm_unet_checkpoint(state, arch.unet)
    vae_sd = convert_ldm_vae_checkpoint(state, arch.vae)
    text_sd = {k.removeprefix("text_model."): v for k, v in convert_ldm_clip_checkpoint(state).items()}
    text_sd.pop("embeddings.position_ids", None)
    with init_empty_weights(include_buffers=False):
        unet = UNet2DConditionModel.from_config(arch.unet)
        vae = AutoencoderKL.from_config(arch.vae)
        text_encoder = CLIPTextModel(CLIPTextConfig(**arch.text_encoder))
    for name, model, sd in (("UNet", unet, unet_sd), ("VAE", vae, vae_sd), ("text encoder", text_encoder, text_sd)):
        _load_strict(model, sd, f"{field}: {path} ({name})")
    return BaseComponents(
        unet=unet.to(dtype).eval(),
        vae=vae.to(dtype).eval(),
        text_encoder=text_encoder.to(dtype).eval(),
        tokenizer=CLIPTokenizer.from_pretrained(SD15_CONFIG_DIR / "tokenizer"),
        source_format="single-file",
    )


def _load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise IncompatibleModelsError(
            f"{what}: the weights do not match the architecture read from the file "
            f"({len(missing)} missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]})"
        )
    model.load_state_dict(state, strict=True, assign=True)

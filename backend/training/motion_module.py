"""Stage 2 of the paper: a motion module trained on clips, the base frozen.

The module is diffusers' `MotionAdapter` (temporal transformers with sinusoidal position encoding after every
spatial block), inflated into the frozen base with `UNetMotionModel.from_unet2d`. As in the paper, each
temporal transformer's output projection starts at zero, so the untrained module is exactly the identity and
the base's pictures are where training starts; diffusers 0.42 does not do this (its `proj_out` is randomly
initialised), so `zero_init_output_projections` does. With a domain adapter given, it is merged into the
frozen base first (AnimateDiff v3 trains the motion module on the adapted base, then drops the adapter).

Outputs: `motion_module.safetensors` (the original AnimateDiff layout, like `mm_sd_v15_v2.ckpt`),
`motion_module_diffusers.safetensors` (one file in diffusers' names) and `motion_adapter/` (a
`MotionAdapter.from_pretrained` folder).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from diffusers import MotionAdapter, UNet2DConditionModel, UNetMotionModel
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from safetensors.torch import save_file

from backend.engine.base_loader import BaseComponents
from backend.engine.motion_variants import METADATA_KEY, apply_motion_variant, file_metadata, variant_of
from backend.training.diffusion import DiffusionObjective
from backend.training.loop import TrainingTask
from backend.training.sampling import ClipSample
from models.motion_config import diffusers_to_original

MOTION_KEY = ".motion_modules."


def new_motion_adapter(unet: UNet2DConditionModel, *, max_seq_length: int = 32, mid_block: bool = True
                       ) -> MotionAdapter:
    """A fresh adapter shaped for `unet` (same level widths and blocks), output projections zeroed."""
    channels = tuple(unet.config.block_out_channels)
    adapter = MotionAdapter(
        block_out_channels=channels, motion_layers_per_block=unet.config.layers_per_block,
        motion_num_attention_heads=8,
        motion_norm_num_groups=32 if all(c % 32 == 0 for c in channels) else math.gcd(*channels),
        motion_max_seq_length=max_seq_length, use_motion_mid_block=mid_block,
    )
    zero_init_output_projections(adapter)
    return adapter


@torch.no_grad()
def zero_init_output_projections(model: torch.nn.Module) -> int:
    """Zero `proj_out` of every temporal transformer (the paper's identity start); returns how many."""
    count = 0
    for module in model.modules():
        if isinstance(module, AnimateDiffTransformer3D):
            module.proj_out.weight.zero_()
            module.proj_out.bias.zero_()
            count += 1
    return count


def motion_state(unet: UNetMotionModel) -> dict[str, torch.Tensor]:
    """The motion-module tensors of an inflated UNet, keyed as in `MotionAdapter.state_dict()`."""
    return {k: v for k, v in unet.state_dict().items() if MOTION_KEY in k}


def export_motion_module(unet: UNetMotionModel, adapter_config: dict, folder: Path, *, fp16: bool = False
                         ) -> dict[str, Path]:
    """Write the trained module in all three forms; the folder goes through `MotionAdapter` itself, so a key
    that does not fit the config fails here rather than in a user's pipeline. The variant is in each file's
    metadata (and `variant.json` in the folder). A conv1d module has no MotionAdapter or original form: it is
    written once, in diffusers' names, as `motion_module.safetensors`."""
    state = {k: v.detach().cpu().contiguous() for k, v in motion_state(unet).items()}
    dtype = torch.float16 if fp16 else torch.float32
    variant = variant_of(unet)
    metadata = file_metadata(variant, adapter_config)
    folder.mkdir(parents=True, exist_ok=True)
    if variant == "conv1d":
        save_file({k: v.to(dtype) for k, v in state.items()}, str(folder / "motion_module.safetensors"), metadata)
        return {"original": folder / "motion_module.safetensors"}
    adapter = MotionAdapter(**adapter_config)
    adapter.load_state_dict(state, strict=True)
    adapter.to(dtype).save_pretrained(folder / "motion_adapter")
    (folder / "motion_adapter" / "variant.json").write_text(json.dumps({METADATA_KEY: variant}))
    weights = {k: v.to(dtype) for k, v in state.items() if not k.endswith("pos_embed.pe")}
    save_file(weights, str(folder / "motion_module_diffusers.safetensors"), metadata)
    original = diffusers_to_original(weights, adapter_config["motion_max_seq_length"])
    save_file({k: v.to(dtype).contiguous() for k, v in original.items()}, str(folder / "motion_module.safetensors"),
              metadata)
    return {"original": folder / "motion_module.safetensors",
            "diffusers": folder / "motion_module_diffusers.safetensors",
            "diffusers_folder": folder / "motion_adapter"}


class MotionModuleTask(TrainingTask):
    """Trains the motion modules of `UNetMotionModel.from_unet2d(base.unet, adapter)`; nothing else moves."""

    name = "motion-module"

    def __init__(self, base: BaseComponents, adapter: MotionAdapter, *,
                 sample_prompt: str = "a red circle moving right", sample_frames: int = 16, sample_size: int = 64,
                 sample_steps: int = 20, variant: str = "transformer", caption_dropout: float = 0.0) -> None:
        self.base, self.adapter_config = base, dict(adapter.config)
        base.text_encoder.requires_grad_(False).eval()
        self.unet = UNetMotionModel.from_unet2d(base.unet, adapter)
        apply_motion_variant(self.unet, variant)  # conv1d: new zero-output modules replace the transformers
        self.unet.freeze_unet2d_params()  # base frozen; only motion_modules.* (of any variant) train
        self.objective = DiffusionObjective(self.unet, base.vae, base.text_encoder, base.tokenizer,
                                            caption_dropout, base.schedule)
        self.clip_sample = ClipSample(sample_prompt, sample_frames, sample_size, sample_steps)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return motion_state(self.unet)

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.unet.load_state_dict(state, strict=False)
        if unexpected or any(MOTION_KEY in k for k in missing):
            raise ValueError(f"resume: checkpoint does not fit this motion module ({unexpected[:2]} {missing[:2]})")

    def sample(self, step: int, folder: Path) -> Path | None:
        return self.clip_sample.render(self.unet, self.base, step, folder)

    def export(self, folder: Path) -> dict[str, Path]:
        return export_motion_module(self.unet, self.adapter_config, folder)

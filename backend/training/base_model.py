"""The built-in model's base, trained from scratch: an SD-architecture VAE, UNet and CLIP text encoder.

Same classes as Stable Diffusion 1.5 (`AutoencoderKL`, `UNet2DConditionModel` with cross-attention,
`CLIPTextModel` with the real CLIP tokenizer), at widths a 2-core CPU trains in minutes: 64x64 pictures,
a 4x VAE (16x16 latents), a two-level UNet of 1 M parameters. Two tasks for `run_training`:

- `VaeTask`: reconstruction MSE plus a small KL term; afterwards `calibrate_scaling_factor` sets the VAE's
  `scaling_factor` so latents have unit variance, as SD's 0.18215 does for its VAE.
- `TextToImageTask`: the UNet (and, for a base trained from scratch, the text encoder) on noise prediction,
  10% empty captions for classifier-free guidance; with the text encoder frozen the same task is the
  "personalized" fine-tune (a DreamBooth-style full UNet fine-tune).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule
from backend.training.diffusion import DiffusionObjective
from backend.training.loop import TrainingTask
from backend.training.sampling import image_pipeline, sample_images, save_grid
from models.base_config import SD15_CONFIG_DIR
from models.testing.tiny_base import TinyBase, save_diffusers_folder

BUILTIN_UNET = dict(
    sample_size=16, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
    # Attention only at 8x8 (and the mid block): at 16x16 it cost two thirds of a training step on the CPU.
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=64, attention_head_dim=8,
    norm_num_groups=32,
)
BUILTIN_VAE = dict(
    block_out_channels=(32, 64, 64), down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3, latent_channels=4, layers_per_block=1, norm_num_groups=32,
    sample_size=64, mid_block_add_attention=False,
)
# One head: what the single-file loader infers for text encoders narrower than 64 per head.
BUILTIN_CLIP = dict(hidden_size=64, intermediate_size=256, num_attention_heads=1, num_hidden_layers=2,
                    vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu")
SAMPLE_PROMPTS = ("a red circle", "a blue square", "a green triangle", "a yellow circle moving right")


def load_tokenizer() -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(SD15_CONFIG_DIR / "tokenizer")


class _VaeObjective(nn.Module):
    """Reconstruction + KL on random `crop` x `crop` windows: the VAE is fully convolutional (no attention),
    so it learns the same on crops at a quarter of the cost of whole 64x64 pictures."""

    def __init__(self, vae: AutoencoderKL, kl_weight: float, crop: int | None) -> None:
        super().__init__()
        self.vae, self.kl_weight, self.crop = vae, kl_weight, crop

    def forward(self, pixels: torch.Tensor, captions: list[str], generator: torch.Generator | None = None
                ) -> torch.Tensor:
        if self.crop and self.crop < pixels.shape[-1]:
            room = pixels.shape[-1] - self.crop
            y, x = (int(v) for v in torch.randint(0, room // 4 + 1, (2,), generator=generator) * 4)
            pixels = pixels[..., y:y + self.crop, x:x + self.crop]
        posterior = self.vae.encode(pixels).latent_dist
        recon = self.vae.decode(posterior.sample(generator)).sample
        return F.mse_loss(recon, pixels) + self.kl_weight * posterior.kl().mean() / pixels[0].numel()


class VaeTask(TrainingTask):
    name = "vae"

    def __init__(self, vae: AutoencoderKL | None = None, kl_weight: float = 1e-4, crop: int | None = 32,
                 decoder_only: bool = False) -> None:
        """`decoder_only`: the encoder (so the latent space every later stage trained on) stays fixed and only
        the decoder learns, on whole pictures: a late fix for colours without retraining anything else."""
        self.vae = vae if vae is not None else AutoencoderKL(**BUILTIN_VAE)
        self.vae.requires_grad_(True)
        if decoder_only:
            self.vae.encoder.requires_grad_(False)
            self.vae.quant_conv.requires_grad_(False)
        self.objective = _VaeObjective(self.vae, kl_weight, crop)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return dict(self.vae.state_dict())

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.vae.load_state_dict(state)

    def export(self, folder: Path) -> dict[str, Path]:
        self.vae.save_pretrained(folder / "vae")
        return {"vae": folder / "vae"}

    def sample(self, step: int, folder: Path) -> Path | None:
        """Originals above, reconstructions below."""
        from backend.training.datasets import ProceduralStills

        data = ProceduralStills(8, seed=12345)
        pixels = torch.stack([data[i]["pixels"] for i in range(8)]).to(self.vae.device, self.vae.dtype)
        recon = self.vae.decode(self.vae.encode(pixels).latent_dist.mode()).sample
        return save_grid(torch.cat([pixels, recon]), 8, folder / f"step-{step:06d}.png")


@torch.no_grad()
def calibrate_scaling_factor(vae: AutoencoderKL, pixels: torch.Tensor) -> float:
    """Set `vae.config.scaling_factor` to 1 / std of the latents of `pixels` (unit-variance latents)."""
    latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode()
    factor = float(1.0 / latents.float().std())
    vae.register_to_config(scaling_factor=factor)
    return factor


def new_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(**BUILTIN_UNET)


def new_text_encoder() -> CLIPTextModel:
    return CLIPTextModel(CLIPTextConfig(**BUILTIN_CLIP))


class TextToImageTask(TrainingTask):
    """Noise prediction on stills; trains the UNet, and the text encoder too when `train_text_encoder`."""

    def __init__(self, unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: CLIPTextModel,
                 tokenizer: CLIPTokenizer, *, train_text_encoder: bool, caption_dropout: float = 0.1,
                 name: str = "base", schedule: NoiseSchedule = SD15_SCHEDULE) -> None:
        self.name, self.schedule = name, schedule
        self.unet, self.vae, self.text_encoder, self.tokenizer = unet, vae, text_encoder, tokenizer
        unet.requires_grad_(True)
        text_encoder.requires_grad_(train_text_encoder)
        self.objective = DiffusionObjective(unet, vae, text_encoder, tokenizer, caption_dropout, schedule)

    def _modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"unet": self.unet}
        if any(p.requires_grad for p in self.text_encoder.parameters()):
            mods["text_encoder"] = self.text_encoder
        return mods

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {f"{name}.{k}": v for name, m in self._modules().items() for k, v in m.state_dict().items()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        for name, module in self._modules().items():
            module.load_state_dict({k.removeprefix(f"{name}."): v for k, v in state.items()
                                    if k.startswith(f"{name}.")})

    def sample(self, step: int, folder: Path) -> Path | None:
        pipe = image_pipeline(self.unet, self.vae, self.text_encoder, self.tokenizer, self.schedule)
        return sample_images(pipe, list(SAMPLE_PROMPTS), folder / f"step-{step:06d}.png")

    def export(self, folder: Path) -> dict[str, Path]:
        """A diffusers pipeline folder in fp16 (the engine and plain diffusers load it)."""
        target = folder / "pipeline"
        parts = TinyBase(unet=_half_copy(self.unet), vae=_half_copy(self.vae),
                         text_encoder=_half_copy(self.text_encoder), tokenizer=self.tokenizer)
        save_diffusers_folder(parts, target)
        write_schedule(target, self.schedule)
        return {"diffusers": target}


@torch.no_grad()
def held_out_loss(unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: CLIPTextModel,
                  tokenizer: CLIPTokenizer, count: int = 512, seed: int = 999, batch: int = 64,
                  schedule: NoiseSchedule = SD15_SCHEDULE) -> float:
    """The denoising loss on `count` procedural stills no stage trains on (their own seed), with fixed noise and
    timesteps: two bases compare on the same draws, unlike the training loss of single batches (+-30%)."""
    from backend.training.datasets import ProceduralStills

    objective = DiffusionObjective(unet.eval(), vae, text_encoder.eval(), tokenizer, schedule=schedule)
    data = ProceduralStills(count, 64, seed, motion_share=0.5)
    losses = []
    for start in range(0, count, batch):
        items = [data[i] for i in range(start, min(start + batch, count))]
        pixels = torch.stack([i["pixels"] for i in items]).to(vae.device, vae.dtype)
        loss = objective(pixels, [i["caption"] for i in items], torch.Generator(vae.device).manual_seed(start))
        losses.append(float(loss) * len(items))
    return sum(losses) / count


def write_schedule(folder: Path, schedule: NoiseSchedule) -> None:
    """Record in the folder's scheduler config what the UNet predicts (the engine and diffusers read it)."""
    path = folder / "scheduler" / "scheduler_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **schedule.config_entries()}, indent=2))


def _half_copy(module: nn.Module) -> nn.Module:
    """fp16 for the shipped files; training keeps its fp32 weights."""
    return copy.deepcopy(module).to(torch.float16)

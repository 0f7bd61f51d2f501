"""Stage 1 of the paper: the domain adapter, a LoRA on the frozen base's attention trained on single video
frames, so that the look of video data (here: a corner watermark) goes into the adapter instead of the motion
module. At generation it is scaled down or left out (`--domain-adapter FILE:SCALE`).

Outputs: `domain_adapter.safetensors` (original layout, like `v3_sd15_adapter.ckpt`) and
`domain_adapter_diffusers.safetensors` (`pipe.load_lora_weights`).
"""

from __future__ import annotations

from pathlib import Path

from backend.engine.base_loader import BaseComponents
from backend.training.diffusion import DiffusionObjective
from backend.training.lora_task import LoraTask
from backend.training.sampling import image_pipeline, sample_images

# Self- and cross-attention projections of every spatial transformer (down, mid and up blocks).
ATTENTION_TARGETS = r".*attentions\.\d+\.transformer_blocks\.\d+\.(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)"


class DomainAdapterTask(LoraTask):
    name = "domain-adapter"

    def __init__(self, base: BaseComponents, rank: int = 8, sample_prompts: tuple[str, ...] = ("a red circle",),
                 sample_steps: int = 20, *, caption_dropout: float = 0.0) -> None:
        self.base, self.sample_prompts, self.sample_steps = base, sample_prompts, sample_steps
        base.text_encoder.requires_grad_(False).eval()
        super().__init__(base.unet, ATTENTION_TARGETS, rank)
        self.objective = DiffusionObjective(base.unet, base.vae, base.text_encoder, base.tokenizer,
                                            caption_dropout, base.schedule)

    def sample(self, step: int, folder: Path) -> Path | None:
        b = self.base
        pipe = image_pipeline(b.unet, b.vae, b.text_encoder, b.tokenizer, b.schedule)
        return sample_images(pipe, list(self.sample_prompts), folder / f"step-{step:06d}.png",
                             steps=self.sample_steps)

    def export(self, folder: Path) -> dict[str, Path]:
        return self.export_lora(folder, "domain_adapter", {"kind": "domain-adapter"})

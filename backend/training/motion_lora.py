"""Stage 3 of the paper: a MotionLoRA, a LoRA on the motion module's self-attention (both temporal attention
blocks of every motion module), trained on a few dozen clips of one camera move with the base and the motion
module frozen.

Outputs: `motion_lora.safetensors` (original layout, like `v2_lora_ZoomIn.ckpt`) and
`motion_lora_diffusers.safetensors` (`pipe.load_lora_weights` on an `AnimateDiffPipeline`).
"""

from __future__ import annotations

from pathlib import Path

from diffusers import MotionAdapter, UNetMotionModel

from backend.engine.base_loader import BaseComponents
from backend.training.diffusion import DiffusionObjective
from backend.training.lora_task import LoraTask
from backend.training.sampling import ClipSample

MOTION_SELF_ATTENTION = r".*motion_modules\.\d+\.transformer_blocks\.\d+\.(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)"


class MotionLoraTask(LoraTask):
    name = "motion-lora"

    def __init__(self, base: BaseComponents, adapter: MotionAdapter, rank: int = 8, move: str = "",
                 sample_prompt: str = "a red circle", sample_frames: int = 16, sample_size: int = 64,
                 sample_steps: int = 20, *, caption_dropout: float = 0.0) -> None:
        self.base, self.move = base, move
        self.clip_sample = ClipSample(sample_prompt, sample_frames, sample_size, sample_steps)
        base.text_encoder.requires_grad_(False).eval()
        self.unet = UNetMotionModel.from_unet2d(base.unet, adapter)
        super().__init__(self.unet, MOTION_SELF_ATTENTION, rank)
        self.objective = DiffusionObjective(self.unet, base.vae, base.text_encoder, base.tokenizer,
                                            caption_dropout, base.schedule)

    def sample(self, step: int, folder: Path) -> Path | None:
        return self.clip_sample.render(self.unet, self.base, step, folder)

    def export(self, folder: Path) -> dict[str, Path]:
        return self.export_lora(folder, "motion_lora", {"kind": "motion-lora", "move": self.move})

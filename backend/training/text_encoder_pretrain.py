"""The built-in text encoder's pretraining: its end-of-text outputs must name every word of the caption.

SD's text encoder comes pretrained (CLIP, frozen): its end-of-text token carries the whole caption, and SD1.5's
tokenizer pads with that same token, so the 60-70 padding positions where the UNet puts most of its
cross-attention carry the caption too. A tiny CLIP trained only through the UNet's denoising loss put the colour
there but not the motion word (left vs right 6% apart on the padding, red vs blue 108%; docs/builtin-model.md
"Why the base ignores the motion words"), so the base drew the same picture for "moving left" and "moving
right", and the motion module, which has no text input, had no direction to follow.

This stage stands in for CLIP's pretraining, on the captions' own grammar: every position from the end-of-text
token on predicts which words the caption holds (multi-label, one logistic output per word, a linear head that
is thrown away). The base then trains with the encoder frozen, as SD's is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import nn
from torch.utils.data import Dataset
from transformers import CLIPTextModel, CLIPTokenizer

from backend.training.diffusion import tokenize
from backend.training.loop import TrainingTask
from backend.training.shapes import COLOURS, OBJECT_MOVES, SHAPES, ShapeState, caption, phrase


def caption_words() -> tuple[str, ...]:
    """Every word the procedural captions use, in a fixed order (the head's outputs)."""
    words = ["a", *COLOURS, *SHAPES]
    for move in OBJECT_MOVES:
        words += [w for w in phrase(move).split() if w not in words]
    return tuple(words)


class GrammarCaptions(Dataset):
    """Captions as the stills and clips write them ("a red circle", "a blue square moving left"), seeded;
    `motion_share` of them name a move. `pixels` is an empty tensor: the loop's batches carry one."""

    def __init__(self, length: int, seed: int = 0, motion_share: float = 0.5) -> None:
        self.length, self.seed, self.motion_share = length, seed, motion_share

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        shape = ShapeState(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))), 0.0, 0.0, 1.0)
        move = str(rng.choice(OBJECT_MOVES)) if rng.random() < self.motion_share else None
        return {"pixels": torch.zeros(0), "caption": caption(shape, move)}


class CaptionWordsObjective(nn.Module):
    """`forward(pixels, captions, generator)` -> binary cross-entropy of "is word w in the caption", predicted
    from each end-of-text/padding position. `caption_dropout` of the captions become "" (no word at all), the
    caption classifier-free guidance uses."""

    def __init__(self, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, words: tuple[str, ...],
                 caption_dropout: float = 0.1) -> None:
        super().__init__()
        self.text_encoder, self.tokenizer, self.words = text_encoder, tokenizer, words
        self.head = nn.Linear(text_encoder.config.hidden_size, len(words))
        self.caption_dropout = caption_dropout

    def forward(self, pixels: torch.Tensor, captions: list[str], generator: torch.Generator | None = None
                ) -> torch.Tensor:
        keep = torch.rand(len(captions), generator=generator, device=generator.device if generator else "cpu")
        captions = [c if float(k) >= self.caption_dropout else "" for c, k in zip(captions, keep, strict=True)]
        device = self.head.weight.device
        ids = tokenize(self.tokenizer, captions).to(device)
        hidden = self.text_encoder(ids)[0]
        # From the first end-of-text token on: the positions that see the whole caption (causal attention).
        first_eos = (ids == self.tokenizer.eos_token_id).int().argmax(dim=1, keepdim=True)
        after = (torch.arange(ids.shape[1], device=device)[None] >= first_eos).float()
        target = torch.tensor([[float(w in c.split()) for w in self.words] for c in captions], device=device)
        logits = self.head(hidden)
        loss = F.binary_cross_entropy_with_logits(logits, target[:, None].expand_as(logits), reduction="none")
        return (loss.mean(-1) * after).sum() / after.sum()


class TextEncoderTask(TrainingTask):
    """Pretrains a CLIP text encoder on `CaptionWordsObjective`; exports the encoder alone (no head)."""

    name = "text-encoder"

    def __init__(self, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer) -> None:
        self.text_encoder = text_encoder.requires_grad_(True)
        self.objective = CaptionWordsObjective(text_encoder, tokenizer, caption_words())

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return dict(self.objective.state_dict())

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.objective.load_state_dict(state)

    def export(self, folder: Path) -> dict[str, Path]:
        self.text_encoder.save_pretrained(folder / "text_encoder")
        return {"text_encoder": folder / "text_encoder"}


@torch.no_grad()
def words_apart(text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, first: str, second: str) -> float:
    """How far apart the encoder puts two captions over the positions after the longer one (relative L2, mean):
    what the UNet's cross-attention mostly reads."""
    ids = tokenize(tokenizer, [first, second]).to(text_encoder.device)
    text = text_encoder(ids)[0]
    start = int((ids == tokenizer.eos_token_id).int().argmax(dim=1).max())
    return float(((text[0] - text[1]).norm(dim=-1) / text[1].norm(dim=-1))[start:].mean())

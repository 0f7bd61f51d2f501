"""The built-in text encoder's pretraining (`backend/training/text_encoder_pretrain.py`): the padding after a
caption, where the UNet's cross-attention mostly looks, must come to tell "moving left" from "moving right"."""

from __future__ import annotations

import pytest
import torch

from backend.training.base_model import load_tokenizer, new_text_encoder
from backend.training.loop import LoopSettings, run_training
from backend.training.shapes import DIRECTIONS
from backend.training.text_encoder_pretrain import GrammarCaptions, TextEncoderTask, caption_words, words_apart


def test_the_grammar_captions_use_only_the_listed_words():
    words = set(caption_words())
    assert {"a", "red", "circle", "moving", *DIRECTIONS, "growing", "rotating"} <= words
    captions = [GrammarCaptions(300, seed=3)[i]["caption"] for i in range(300)]
    assert all(set(c.split()) <= words for c in captions)
    moving = sum(len(c.split()) > 3 for c in captions) / len(captions)
    assert 0.4 < moving < 0.6  # half of them name a move, as the base's stills do
    assert len(set(captions)) > 50


def test_pretraining_puts_the_motion_words_apart_on_the_padding(tmp_path):
    torch.manual_seed(0)
    tokenizer = load_tokenizer()
    task = TextEncoderTask(new_text_encoder(), tokenizer)
    fixed = [GrammarCaptions(64, seed=5)[i]["caption"] for i in range(64)]

    def fixed_loss() -> float:
        with torch.no_grad():
            return float(task.objective(torch.zeros(0), fixed, torch.Generator().manual_seed(0)))

    def apart() -> float:
        task.text_encoder.eval()
        return words_apart(task.text_encoder, tokenizer, "a red circle moving left", "a red circle moving right")

    before, apart_before = fixed_loss(), apart()
    settings = LoopSettings(steps=150, learning_rate=1e-3, batch_size=32, lr_warmup_steps=5, lr_schedule="cosine",
                            seed=2, device="cpu")
    result = run_training(task, GrammarCaptions(10**6, seed=1), settings, tmp_path)
    assert fixed_loss() < before / 3
    assert apart() > max(0.5, 3 * apart_before)  # the shipped jointly-trained encoder: 6%
    lrs = [row.lr for row in result.losses]
    assert max(lrs) == pytest.approx(1e-3, rel=0.05) and lrs[-1] < 1e-5  # cosine, decayed to 0 at the last step
    assert (result.outputs["text_encoder"] / "config.json").is_file()


def test_the_recipe_stage_writes_the_encoder_and_records_how_far_apart_the_words_are(tmp_path):
    import json

    from backend.training.builtin_recipe import RecipeSettings, run_recipe, stage_done

    run_recipe(tmp_path, ["text-encoder"], RecipeSettings(scale=0.01, log=lambda _: None))
    assert stage_done(tmp_path, "text-encoder")
    record = json.loads((tmp_path / "stages.json").read_text())["text-encoder"]
    assert record["steps"] == 6 and set(record["padding_apart"]) == {
        "moving left vs moving right", "moving up vs moving down", "growing vs shrinking"}

"""Does a base draw the motion words? From the base alone (no motion module), over fixed seeds:

1. where the shape sits per motion word (mean centroid);
2. which way its motion-blur trail points, paired: the same noise with "moving right" and "moving left" (and
   "down"/"up"); the data's stills give about -4 px after this VAE's round trip, a base that ignores the word 0;
3. why, if not: how far apart the text encoder puts the two words at each token position (against two colours),
   how much the UNet's noise prediction changes with them, and how much of the cross-attention goes to the
   padding after the caption.

    python scripts/probe_base_motion_words.py [BASE_FOLDER] [--seeds 16]

The motion module has no text input: it can only follow what the frozen base's features say about the prompt.
If every word gives the same picture here, no motion-module training will make the prompt's direction win.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("moving left", "moving right", "moving up", "moving down", "")


def _pictures(pipe, prompt: str, seeds: int) -> list[np.ndarray]:  # noqa: ANN001 - a StableDiffusionPipeline
    images = pipe([prompt] * seeds, num_inference_steps=10, guidance_scale=4.0, height=64, width=64,
                  generator=torch.Generator().manual_seed(0), output_type="np").images
    return [(image * 255).astype(np.uint8) for image in images]


def positions(pipe, seeds: int) -> dict[str, list[np.ndarray]]:  # noqa: ANN001
    from backend.training.motion_measure import track

    pictures = {}
    for word in WORDS:
        pictures[word] = [p for colour in ("red", "blue") for p in _pictures(pipe, f"a {colour} circle {word}".strip(),
                                                                             seeds)]
        found = [t for t in track(pictures[word]) if t.found]
        xs, ys = [t.x for t in found], [t.y for t in found]
        print(f"{word or '(no motion word)':16s} shapes {len(xs):3d}  x {np.mean(xs):5.1f}  y {np.mean(ys):5.1f}"
              f"  (standard error {np.std(xs) / np.sqrt(max(len(xs), 1)):.1f} px)")
    return pictures


def trails(pictures: dict[str, list[np.ndarray]]) -> None:
    from backend.training.motion_measure import trail_offset

    for word, opposite, axis in (("right", "left", 0), ("down", "up", 1)):
        pairs = [(trail_offset(a), trail_offset(b))
                 for a, b in zip(pictures[f"moving {word}"], pictures[f"moving {opposite}"], strict=True)]
        diff = np.array([a[axis] - b[axis] for a, b in pairs if a and b])
        print(f"trail, '{word}' minus '{opposite}' (same noise): {diff.mean():+.2f} px along "
              f"{'x' if axis == 0 else 'y'} (standard error {diff.std() / np.sqrt(len(diff)):.2f}, {len(diff)} pairs)")


@torch.no_grad()
def sensitivity(pipe) -> None:  # noqa: ANN001
    from backend.training.diffusion import tokenize

    captions = ["a red circle moving left", "a red circle moving right", "a blue circle moving left"]
    text = pipe.text_encoder(tokenize(pipe.tokenizer, captions))[0]
    word_at = int((tokenize(pipe.tokenizer, captions[:1])[0] == pipe.tokenizer.eos_token_id).nonzero()[0]) - 1

    def apart(i: int, j: int) -> torch.Tensor:  # relative L2 per token position
        return (text[i] - text[j]).norm(dim=-1) / text[j].norm(dim=-1)

    for name, (i, j) in (("'left' vs 'right'", (1, 0)), ("'red' vs 'blue'", (2, 0))):
        d = apart(i, j)
        print(f"text encoder, {name}: {d[word_at]:.0%} at the direction word's position, {d[word_at + 1:].mean():.0%} "
              "over the positions after it")
    shares: list[torch.Tensor] = []

    def grab(mod, args, kwargs, out) -> None:  # noqa: ANN001 - how much cross-attention goes past the caption
        hidden, context = args[0], kwargs.get("encoder_hidden_states")
        q, k = mod.head_to_batch_dim(mod.to_q(hidden)), mod.head_to_batch_dim(mod.to_k(context))
        shares.append(mod.get_attention_scores(q, k, None)[..., word_at + 2:].sum(-1).mean())

    unet = pipe.unet
    hooks = [m.register_forward_hook(grab, with_kwargs=True) for n, m in unet.named_modules() if n.endswith("attn2")]
    latents = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0)).repeat(3, 1, 1, 1)
    for t in (900, 500, 100):
        out = unet(latents, torch.tensor([t] * 3), encoder_hidden_states=text).sample
        change = [float((out[i] - out[0]).norm() / out[0].norm()) for i in (1, 2)]
        print(f"UNet noise prediction at t={t}: changes {change[0]:.2%} for 'left' -> 'right', {change[1]:.2%} for "
              "'red' -> 'blue'")
    for hook in hooks:
        hook.remove()
    print(f"cross-attention on the padding after the caption: {float(torch.stack(shares).mean()):.0%} "
          f"({pipe.tokenizer.model_max_length - word_at - 2} of {pipe.tokenizer.model_max_length} positions)")


def main() -> None:
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    from backend.training.base_model import load_tokenizer
    from models.builtin import builtin_model_paths

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", nargs="?", type=Path, default=builtin_model_paths().base, help="a diffusers base folder")
    p.add_argument("--seeds", type=int, default=16, help="pictures per word and colour")
    args = p.parse_args()
    torch.set_num_threads(1)
    pipe = StableDiffusionPipeline.from_pretrained(args.base, tokenizer=load_tokenizer(), safety_checker=None,
                                                   feature_extractor=None, requires_safety_checker=False,
                                                   dtype=torch.float32)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    trails(positions(pipe, args.seeds))
    sensitivity(pipe)


if __name__ == "__main__":
    main()

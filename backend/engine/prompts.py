"""Text conditioning per frame: one prompt for the clip, or prompt travel between keyframed prompts."""

from __future__ import annotations

import torch
from diffusers import AnimateDiffPipeline

from backend.engine.keyframes import interpolate_keyframes
from backend.engine.request import GenerationRequest
from backend.engine.sampler import Conditioning


def encode_conditioning(pipe: AnimateDiffPipeline, req: GenerationRequest, frames: int, device: torch.device,
                        offset: int = 0) -> Conditioning:
    """(frames, 77, D) text embeddings: `prompt` from frame 0, each `prompt_at` from its frame (+ `offset`,
    the pinned overlap before a continuation's own frames), linear in between.

    Each distinct prompt goes through the text encoder once; the blend happens on the embeddings.
    """
    guided = req.guidance > 1.0
    keyframes = {0: req.prompt, **{p.frame + offset: p.prompt for p in req.prompt_at}}
    with torch.no_grad():  # not inference_mode: CPU offload may move the text encoder here (see engine._run)
        positive, negative = pipe.encode_prompt(req.prompt, device, 1, guided, req.negative_prompt or None)
        by_frame = {0: positive[0]}
        others = sorted(f for f in keyframes if f != 0)
        if others:
            encoded, _ = pipe.encode_prompt([keyframes[f] for f in others], device, 1, False)
            by_frame.update({f: encoded[i] for i, f in enumerate(others)})
    text = interpolate_keyframes(by_frame, frames) if others else positive.expand(frames, -1, -1)
    return Conditioning(text=text, negative=negative.expand(frames, -1, -1) if guided else None,
                        guidance=req.guidance, guidance_rescale=req.guidance_rescale)

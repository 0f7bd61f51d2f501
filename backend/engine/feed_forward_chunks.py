"""Run every transformer feed-forward of a model in pieces along its first axis, for the span of a `with`.

The feed-forward acts on each token alone, so pieces give the same result while the GEGLU's 8x-wide
intermediate exists for one piece at a time: at full size it is the denoising memory peak (spatial blocks at
64x64 latents, and the motion module's blocks, whose first axis is pixels x batch). diffusers'
`enable_forward_chunking` needs a chunk size that divides that axis in every block, which differs between the
spatial and the temporal blocks; pieces do not.

The module's forward is overridden on the instance and the override deleted on exit, so the cached pipeline's
weights, names and LoRA layers stay as they are.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers.models.attention import FeedForward


def _forward_in_pieces(pieces: int):  # -> a method for FeedForward
    def forward(self: FeedForward, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        out = None
        start = 0
        for part in hidden_states.chunk(pieces, dim=0):
            result = type(self).forward(self, part, *args, **kwargs)
            if out is None:  # written piece by piece: a torch.cat would hold every piece and the result at once
                out = result.new_empty((hidden_states.shape[0], *result.shape[1:]))
            out[start:start + result.shape[0]] = result
            start += result.shape[0]
            del result
        return out

    return forward


@contextmanager
def chunked_feed_forward(model: torch.nn.Module, pieces: int) -> Iterator[int]:
    """Within the block, `model`'s FeedForward modules run in `pieces` (1: unchanged). Yields how many."""
    if pieces <= 1:
        yield 0
        return
    patched = [m for m in model.modules() if isinstance(m, FeedForward)]
    method = _forward_in_pieces(pieces)
    for module in patched:
        module.forward = types.MethodType(method, module)
    try:
        yield len(patched)
    finally:
        for module in patched:
            del module.forward  # back to the class's forward

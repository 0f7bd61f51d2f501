"""DeepCache-style feature caching: reuse the UNet's deep features between denoising steps.

An explicit speed/quality trade, off unless a request asks for it. DeepCache (Ma et al., 2023) observes that a
diffusion UNet's high-level features change little from one step to the next. Every `interval`-th step runs the
whole UNet and keeps the input of its last up block (everything below the outermost resolution level, already
upsampled to it); the steps in between run only `conv_in`, the first down block, the last up block and
`conv_out`, with the kept features standing in for the rest. The motion modules of those two outer blocks
still run on every step, so the frames stay coupled.

The blocks' forwards are overridden on the instance for the span of a `with` (as `feed_forward_chunks` does),
so the cached pipeline's weights, adapters and offload hooks stay as they are. Each UNet call within a step
gets the next slot, in the sampler's fixed order (context windows, then guidance halves), so every window
and every guidance half reuses its own features.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class DeepCache:
    """Which steps run the whole UNet, and the deep features kept from the last one that did."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.skipping = False
        self.full_steps = 0
        self.cached_steps = 0
        self._slot = 0
        self._features: dict[int, torch.Tensor] = {}

    def begin_step(self, index: int) -> None:
        """Step `index` (from 0; every sampling round starts again at 0, with a full step)."""
        if index == 0:
            self.clear()
        self.skipping = index % self.interval != 0 and bool(self._features)
        self._slot = 0
        if self.skipping:
            self.cached_steps += 1
        else:
            self.full_steps += 1

    def kept(self) -> torch.Tensor:
        if self._slot not in self._features:
            raise RuntimeError(f"deep cache: no features kept for UNet call {self._slot} of this step "
                               "(the calls per step changed between steps)")
        return self._features[self._slot]

    def keep(self, features: torch.Tensor) -> None:
        self._features[self._slot] = features

    def next_call(self) -> None:
        self._slot += 1

    @property
    def slots(self) -> int:
        """UNet calls per step whose features are kept."""
        return len(self._features)

    def kept_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self._features.values())

    def clear(self) -> None:
        self._features.clear()


def _residual_count(block: torch.nn.Module) -> int:
    """How many skip features a down block hands to the up blocks: one per resnet, one per downsampler."""
    downsamplers = getattr(block, "downsamplers", None)
    return len(block.resnets) + (len(downsamplers) if downsamplers is not None else 0)


def _hidden(args: tuple, kwargs: dict) -> torch.Tensor:
    return kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]


def _skippable_down(gate: DeepCache, count: int):  # -> a method for a down block
    def forward(self, *args, **kwargs):
        if gate.skipping:  # placeholders: the up blocks that would read them are skipped too
            hidden = _hidden(args, kwargs)
            return hidden, (hidden,) * count
        return type(self).forward(self, *args, **kwargs)
    return forward


def _skippable_mid(gate: DeepCache):
    def forward(self, *args, **kwargs):
        if gate.skipping:
            return _hidden(args, kwargs)
        return type(self).forward(self, *args, **kwargs)
    return forward


def _skippable_up(gate: DeepCache):
    def forward(self, *args, **kwargs):
        if gate.skipping:
            return gate.kept()
        return type(self).forward(self, *args, **kwargs)
    return forward


def _outermost_up(gate: DeepCache):
    def forward(self, *args, **kwargs):
        if not gate.skipping:
            gate.keep(_hidden(args, kwargs))
        try:
            return type(self).forward(self, *args, **kwargs)
        finally:
            gate.next_call()
    return forward


@contextmanager
def deep_cache(unet: torch.nn.Module, interval: int) -> Iterator[DeepCache | None]:
    """Within the block, `unet` (a `UNetMotionModel`) reuses its deep features on all but every `interval`-th
    step; the sampler calls `begin_step` before each step. `interval` <= 1: unchanged, yields None."""
    if interval <= 1:
        yield None
        return
    gate = DeepCache(interval)
    patched: list[torch.nn.Module] = []

    def patch(module: torch.nn.Module, method) -> None:  # noqa: ANN001
        module.forward = types.MethodType(method, module)
        patched.append(module)

    for block in unet.down_blocks[1:]:
        patch(block, _skippable_down(gate, _residual_count(block)))
    if unet.mid_block is not None:
        patch(unet.mid_block, _skippable_mid(gate))
    for block in unet.up_blocks[:-1]:
        patch(block, _skippable_up(gate))
    patch(unet.up_blocks[-1], _outermost_up(gate))
    try:
        yield gate
    finally:
        for module in patched:
            del module.forward  # back to the class's forward
        gate.clear()


def deep_cache_bytes(unet: torch.nn.Module, frames_per_half: int, halves: int, latent_h: int, latent_w: int) -> int:
    """What the kept features take: the last up block's input (the second-to-last up block's output, at the
    latent size) for every frame of every window (`frames_per_half`), times the guidance halves."""
    channels = unet.up_blocks[-2].resnets[-1].out_channels
    element = next(unet.parameters()).element_size()
    return halves * frames_per_half * channels * latent_h * latent_w * element

"""VRAM planning: predict a job's peak memory before it runs and choose the set-up that fits.

The prediction is resident weights + the larger of the denoising and the decoding peaks, each a dry run of the
real model on the `meta` device (`memory_trace.py`) at the job's exact shapes, so it follows the architecture
instead of a fitted curve. The candidates are tried in order, cheapest in speed and quality first; the first
whose prediction fits the budget wins:

1. batched classifier-free guidance (one UNet call with both halves), the asked decode chunk;
2. + feed-forward in 4 pieces (the GEGLU transient at 64x64 latents is the peak: 2.0 -> 1.2 GiB at full size);
3. sequential guidance (two calls of half the batch);
4. + decode chunks of 2, then of 1 frame;
5. on a GPU: the same again with model CPU offload (one model on the GPU at a time: the text encoder, the
   UNet, the VAE; the weights move once per job, so warm jobs lose their head start);
6. context windows of 8 frames (this one changes the clip, and only if the request has none).

Sequential (layer-by-layer) offload is not a candidate: with accelerate 1.15 its hooks turned the CLIP text
encoder's token embedding into a plain tensor and the next call failed (seen on the CPU, not checked on a GPU).

When nothing fits, the last one is used and the plan says so (the job may still fail with out_of_memory,
which never stops the service).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from backend.engine.context_windows import plan_windows
from backend.engine.deep_cache import deep_cache_bytes
from backend.engine.feed_forward_chunks import chunked_feed_forward
from backend.engine.memory_trace import meta_copy, peak_activation_bytes

FF_PIECES = 4  # pieces of the feed-forward when chunked: the peak moves elsewhere beyond 4 (measured)
FALLBACK_WINDOW = 8  # context length of the last candidate: half the usual training length
TOKENS = 77  # CLIP's text length: the cross-attention keys


@dataclass(frozen=True)
class MemoryPlan:
    """What a job runs with, and why; recorded in its events and metadata.json."""

    cfg: str  # "batched" or "sequential" classifier-free guidance ("none" without guidance)
    ff_pieces: int  # 1: feed-forward in one piece
    decode_chunk: int  # frames per VAE decode call
    context_length: int  # 0: the whole clip at once
    predicted_peak_bytes: int
    weights_bytes: int
    budget_bytes: int | None  # None: unknown (no limit applied)
    fits: bool
    note: str = ""
    offload: str = "none"  # "none": every model stays on the device; "model": model CPU offload

    def to_dict(self) -> dict:
        data = asdict(self)
        data["predicted_peak_mib"] = round(self.predicted_peak_bytes / 2**20, 1)
        data["budget_mib"] = None if self.budget_bytes is None else round(self.budget_bytes / 2**20, 1)
        return data


@dataclass(frozen=True)
class SetUp:
    """One candidate: how guidance is batched, the feed-forward pieces, the decode chunk, the context windows
    and where the weights live."""

    cfg: str
    ff_pieces: int
    decode_chunk: int
    context_length: int
    offload: str = "none"


@dataclass(frozen=True)
class JobShape:
    width: int
    height: int
    frames: int  # frames the UNet denoises (a continuation's overlap included)
    context_length: int  # as asked: 0 for none
    guided: bool  # classifier-free guidance (guidance > 1)
    decode_chunk: int
    deep_cache: int = 0  # the request's DeepCache interval: its kept features live through the denoising
    context_overlap: int = 4  # as asked (windows the plan adds itself overlap by half)
    closed_loop: bool = False


class MemoryEstimator:
    """Dry-run peaks of one pipeline's UNet and VAE; cached per shape, so a warm job with the same size costs
    a dictionary lookup (the first costs ~1-3 s at full size on a CPU, nothing on the GPU)."""

    def __init__(self, unet: torch.nn.Module, vae: torch.nn.Module, resident: list[torch.nn.Module],
                 vae_scale: int) -> None:
        self._unet, self._vae = unet, vae
        self._meta_unet: torch.nn.Module | None = None
        self._meta_vae: torch.nn.Module | None = None
        self._scale = vae_scale
        self._resident = resident
        self._cache: dict[tuple, int] = {}

    def weights_bytes(self) -> int:
        """Parameters and buffers of every model the job keeps on the device (adapters' LoRA weights too)."""
        return sum(_bytes(m) for m in self._resident)

    def model_weights_bytes(self) -> tuple[int, int, int]:
        """(UNet with its motion module and adapters, VAE, the rest: the text encoder): what model CPU offload
        puts on the device one at a time."""
        unet, vae = _bytes(self._unet), _bytes(self._vae)
        return unet, vae, self.weights_bytes() - unet - vae

    def unet_bytes(self, batch: int, frames: int, height: int, width: int, ff_pieces: int) -> int:
        key = ("unet", batch, frames, height, width, ff_pieces)
        if key not in self._cache:
            if self._meta_unet is None:
                self._meta_unet = meta_copy(self._unet)
            model, dtype = self._meta_unet, next(self._meta_unet.parameters()).dtype
            h, w = height // self._scale, width // self._scale
            sample = torch.empty(batch, model.config.in_channels, frames, h, w, device="meta", dtype=dtype)
            text = torch.empty(batch * frames, TOKENS, model.config.cross_attention_dim, device="meta", dtype=dtype)
            t = torch.tensor(500, device="meta")
            with chunked_feed_forward(model, ff_pieces):
                self._cache[key] = peak_activation_bytes(
                    lambda: model(sample, t, encoder_hidden_states=text).sample)
        return self._cache[key]

    def decode_bytes(self, chunk: int, height: int, width: int) -> int:
        key = ("vae", chunk, height, width)
        if key not in self._cache:
            if self._meta_vae is None:
                self._meta_vae = meta_copy(self._vae)
            model, dtype = self._meta_vae, next(self._meta_vae.parameters()).dtype
            z = torch.empty(chunk, model.config.latent_channels, height // self._scale, width // self._scale,
                            device="meta", dtype=dtype)
            self._cache[key] = peak_activation_bytes(lambda: model.decode(z).sample)
        return self._cache[key]

    def predict(self, shape: JobShape, setup: SetUp) -> int:
        window = min(setup.context_length or shape.frames, shape.frames)
        batch = 2 if setup.cfg == "batched" else 1
        denoise = self.unet_bytes(batch, window, shape.height, shape.width, setup.ff_pieces) \
            + self.deep_cache_bytes(shape, setup)
        decode = self.decode_bytes(min(setup.decode_chunk, shape.frames), shape.height, shape.width)
        clip = self.clip_bytes(shape)
        if setup.offload == "model":  # each phase holds its own model only (text encoding's activations are small)
            unet, vae, rest = self.model_weights_bytes()
            return clip + max(unet + denoise, vae + decode, rest)
        return self.weights_bytes() + clip + max(denoise, decode)

    def deep_cache_bytes(self, shape: JobShape, setup: SetUp) -> int:
        """The DeepCache features kept for every window and guidance half (0 without the cache)."""
        if shape.deep_cache <= 1:
            return 0
        frames = shape.frames
        if setup.context_length and setup.context_length < shape.frames:
            asked = setup.context_length == shape.context_length
            overlap = shape.context_overlap if asked else setup.context_length // 2  # as the engine's windows
            windows = plan_windows(shape.frames, setup.context_length, overlap, shape.closed_loop).windows
            frames = sum(len(w) for w in windows)
        return deep_cache_bytes(self._unet, frames, 2 if shape.guided else 1, shape.height // self._scale,
                                shape.width // self._scale)

    def clip_bytes(self, shape: JobShape) -> int:
        """The whole clip's latent-sized buffers that live through the run: latents, the noise, the fused noise
        prediction and the scheduler's output (what grows with frames when windows bound the rest)."""
        channels = self._unet.config.in_channels
        h, w = shape.height // self._scale, shape.width // self._scale
        return 4 * channels * shape.frames * h * w * next(self._unet.parameters()).element_size()


def candidates(shape: JobShape, offload_possible: bool = False) -> list[SetUp]:
    """The set-ups in the order they are tried; offload ones only where there is a GPU to offload from."""
    if not shape.guided:
        modes = [("none", 1), ("none", FF_PIECES)]
    else:
        modes = [("batched", 1), ("batched", FF_PIECES), ("sequential", FF_PIECES)]
    chunk = shape.decode_chunk
    resident = [SetUp(cfg, ff, chunk, shape.context_length) for cfg, ff in modes]
    cfg, ff = modes[-1]
    resident += [SetUp(cfg, ff, c, shape.context_length) for c in (2, 1) if c < chunk]
    out = resident + ([replace(s, offload="model") for s in resident] if offload_possible else [])
    if not shape.context_length and shape.frames > FALLBACK_WINDOW:
        out.append(replace(out[-1], context_length=FALLBACK_WINDOW))
    return out


def choose_plan(shape: JobShape, estimator: MemoryEstimator, budget: int | None,
                offload_possible: bool = False) -> MemoryPlan:
    """The first candidate predicted to fit `budget` (the first of all when the budget is unknown)."""
    options = candidates(shape, offload_possible)
    if budget is None:
        options = options[:1]
    weights = estimator.weights_bytes()
    for i, setup in enumerate(options):
        peak = estimator.predict(shape, setup)
        last = i == len(options) - 1
        if budget is None or peak <= budget or last:
            fits = budget is None or peak <= budget
            notes = ([] if setup.context_length == shape.context_length
                     else [f"context windows of {setup.context_length} frames to fit"])
            if setup.offload != "none":
                notes.append(f"{setup.offload} CPU offload to fit")
            if not fits:
                notes.append(f"predicted {peak / 2**20:.0f} MiB is over the {budget / 2**20:.0f} MiB budget with every "
                             "set-up; this is the smallest (lower width/height or frames if it runs out of memory)")
            return MemoryPlan(setup.cfg, setup.ff_pieces, setup.decode_chunk, setup.context_length, peak, weights,
                              budget, fits, "; ".join(notes), setup.offload)
    raise AssertionError("candidates() always returns at least one plan")


def _bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def device_budget(device: torch.device, limit_mb: int = 0, in_use: int = 0,
                  free_memory: Callable[[], int | None] | None = None) -> int | None:
    """Bytes this job may use: what the device has free now, plus `in_use` (our own models, already counted
    in the prediction), less a margin for the allocator and kernel workspaces; capped by `limit_mb`."""
    free = (free_memory or (lambda: _free_bytes(device)))()
    budget = None if free is None else int((free + in_use) * 0.92) - 256 * 2**20
    if limit_mb:
        budget = limit_mb * 2**20 if budget is None else min(budget, limit_mb * 2**20)
    return budget


def _free_bytes(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        try:  # MemAvailable counts the page cache the kernel gives back; "free" pages alone would not
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return None  # MPS and others: unified memory, no reliable figure; no limit applied

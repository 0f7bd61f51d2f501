"""LoRA files: which layout a file uses, what it adapts, and which layers it needs, from tensor names and shapes.

One module for the loader (`backend.engine.adapters`, which converts and loads) and the detector / pre-flight
check (which must tell a MotionLoRA from a domain adapter from an image LoRA without loading anything).

Layouts: AnimateDiff's own (`...attention_blocks.0.processor.to_q_lora.down.weight`; on motion modules a
MotionLoRA, on the base's attention the v3 domain adapter), kohya/CivitAI (`lora_unet_..._to_q.lora_down.
weight` + `.alpha`), diffusers/peft (`unet....to_q.lora_A.weight`, `....to_q.lora.down.weight`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from models.motion_config import diffusers_key

DOWN_SUFFIXES = ("lora.down.weight", "lora_down.weight", "lora_A.weight")
UP_SUFFIXES = ("lora.up.weight", "lora_up.weight", "lora_B.weight")
_KOHYA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")
_LYCORIS_MARKERS = ("hada_w1_a", "lokr_w1", "lokr_w1_a", ".oft_blocks", ".diff")


def lora_layout(keys: Iterable[str]) -> str:
    """"original-motion", "original-base", "kohya", "diffusers" or "none" (not a LoRA)."""
    keys = list(keys)
    if any(k.startswith(_KOHYA_PREFIXES) for k in keys):
        return "kohya"
    if not any(k.endswith(DOWN_SUFFIXES) for k in keys):
        return "none"
    if any("_lora.down." in k for k in keys):
        return "original-motion" if any(".motion_modules." in k for k in keys) else "original-base"
    return "diffusers"


def targets_motion_modules(keys: Iterable[str]) -> bool:
    """Whether the LoRA adapts motion-module layers (a MotionLoRA), in any layout (kohya writes `motion_modules_`)."""
    return any("motion_modules" in k for k in keys)


def lora_kind(keys: Iterable[str]) -> str | None:
    """"motion-lora", "domain-adapter", "lora", or None when the keys are not a LoRA at all."""
    keys = list(keys)
    layout = lora_layout(keys)
    if layout == "none":
        return None
    if targets_motion_modules(keys):
        return "motion-lora"
    return "domain-adapter" if layout == "original-base" else "lora"


def is_lycoris(keys: Iterable[str]) -> bool:
    """LoHa/LoKr/OFT files share kohya's prefixes but not its low-rank pairs."""
    return any(any(m in k for m in _LYCORIS_MARKERS) for k in keys)


@dataclass(frozen=True)
class LoraPair:
    """One adapted layer: the weight it changes is (out_features, in_features); rank is the pair's width."""

    target: str
    in_features: int
    out_features: int
    rank: int


def _target_name(key: str, suffix: str) -> str:
    """The adapted module's name, in diffusers naming without a `unet.` prefix (kohya names kept as written)."""
    name = key[: -len(suffix)].rstrip("._")
    if ".processor." in name:  # AnimateDiff: `...attention_blocks.0.processor.to_q_lora.down.weight`
        head, proj = name.rsplit(".processor.", 1)
        name = f"{head}.{'to_out.0' if proj == 'to_out' else proj}"
    for prefix in ("base_model.model.", "unet."):
        name = name.removeprefix(prefix)
    return diffusers_key(name) if ".temporal_transformer." in name or ".attention_blocks." in name else name


def lora_pairs(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, LoraPair]:
    """Every down/up pair of the file, keyed by the layer it adapts."""
    pairs: dict[str, LoraPair] = {}
    for key, shape in shapes.items():
        suffix = next((s for s in DOWN_SUFFIXES if key.endswith(s)), None)
        if suffix is None or len(shape) < 2:
            continue
        up_key = key[: -len(suffix)] + UP_SUFFIXES[DOWN_SUFFIXES.index(suffix)]
        up = shapes.get(up_key)
        if up is None or len(up) < 2:
            continue
        target = _target_name(key, suffix)
        pairs[target] = LoraPair(target, in_features=shape[1], out_features=up[0], rank=shape[0])
    return pairs


_CROSS_KEY = re.compile(r"attn2[._]to_k")
_SELF_Q_KEY = re.compile(r"attn1[._]to_q")


def lora_widths(pairs: Mapping[str, LoraPair]) -> tuple[set[int], set[int]]:
    """(self-attention widths, cross-attention context widths) the LoRA was made for, from its UNet layers.

    A LoRA made for SD1.5 has self-attention widths within {320, 640, 1280} and a context width of 768 (CLIP-L);
    SD2 1024 (OpenCLIP-H), SDXL 2048. Text-encoder layers are skipped: they do not say which UNet fits.
    """
    unet = {t: p for t, p in pairs.items() if not t.startswith(("lora_te", "text_encoder", "te_"))}
    selfs = {p.in_features for t, p in unet.items() if _SELF_Q_KEY.search(t)}
    cross = {p.in_features for t, p in unet.items() if _CROSS_KEY.search(t)}
    return selfs, cross


def family_from_context_width(width: int) -> str | None:
    """The base family whose text encoder emits context vectors of this width."""
    return {768: "sd15", 1024: "sd2", 2048: "sdxl"}.get(width)

"""LoRA-type adapters on the inflated UNet: MotionLoRAs, the domain adapter and image LoRAs.

diffusers/peft do the work (adapters stay unfused, so they swap without reloading the base). What this
module owns is what diffusers gets wrong: original AnimateDiff layouts (`...attention_blocks.0.processor.
to_q_lora.down.weight`) load as *nothing* unless renamed, so every file is converted and, after
loading, the number of layers wrapped by the adapter is checked against the number of LoRA pairs.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AnimateDiffPipeline

from models.checkpoint_reader import load_state_dict
from models.errors import IncompatibleModelsError, WrongModelKindError
from models.lora_layout import DOWN_SUFFIXES, lora_layout
from models.motion_config import original_to_diffusers


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter to activate: `kind` is "motion-lora", "domain-adapter" or "lora"."""

    path: Path
    kind: str
    weight: float
    field: str

    @property
    def name(self) -> str:
        stat = self.path.stat()
        digest = hashlib.sha1(f"{self.path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
        return f"{self.kind.replace('-', '_')}_{digest}"


def _convert(spec: AdapterSpec, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    layout = lora_layout(list(state))
    on_motion = any(".motion_modules." in k for k in state)
    if layout == "none":
        raise WrongModelKindError(f"{spec.field}: {spec.path} holds no LoRA weights", field=spec.field)
    if spec.kind == "motion-lora" and not on_motion:
        raise WrongModelKindError(
            f"{spec.field}: {spec.path} is a LoRA on the image layers, not a MotionLoRA; pass it as "
            f"{'a domain adapter' if layout == 'original-base' else 'an image LoRA'}",
            field=spec.field,
        )
    if spec.kind != "motion-lora" and on_motion:
        raise WrongModelKindError(
            f"{spec.field}: {spec.path} is a MotionLoRA (it targets motion-module layers); pass it as a motion LoRA",
            field=spec.field,
        )
    if layout.startswith("original"):
        state = {"unet." + k: v for k, v in original_to_diffusers(state).items()}
    elif layout == "diffusers" and not any(k.startswith(("unet.", "text_encoder.")) for k in state):
        state = {"unet." + k: v for k, v in state.items()}
    return state


def _wrapped_layers(pipe: AnimateDiffPipeline, name: str) -> int:
    count = 0
    for model in (pipe.unet, pipe.text_encoder):
        count += sum(1 for _, m in model.named_modules() if name in getattr(m, "lora_A", {}))
    return count


class AdapterSet:
    """The adapters loaded into one pipeline; `activate` makes exactly the requested ones active.

    The last `KEEP_LOADED` adapters stay loaded but inactive when a request drops them, so switching camera
    moves back and forth costs a `set_adapters` call instead of a file read and a peft injection.
    """

    KEEP_LOADED = 8  # official MotionLoRAs are ~75 MB in fp32: 8 of them are ~0.3 GB in fp16 on a GPU

    def __init__(self, pipe: AnimateDiffPipeline) -> None:
        self.pipe = pipe
        self.loaded: OrderedDict[str, None] = OrderedDict()  # least recently used first

    def activate(self, specs: list[AdapterSpec]) -> list[str]:
        wanted = {spec.name: spec for spec in specs}
        for name, spec in wanted.items():
            if name not in self.loaded:
                self._load(name, spec)
            self.loaded.move_to_end(name)
        stale = [name for name in self.loaded if name not in wanted][: max(0, len(self.loaded) - self.KEEP_LOADED)]
        if stale:
            self.pipe.delete_adapters(stale)
            for name in stale:
                del self.loaded[name]
        if wanted:
            self.pipe.enable_lora()
            self.pipe.set_adapters(list(wanted), adapter_weights=[s.weight for s in wanted.values()])
        elif self.loaded:
            self.pipe.disable_lora()  # kept for later, doing nothing now
        return list(wanted)

    def _load(self, name: str, spec: AdapterSpec) -> None:
        state = _convert(spec, load_state_dict(spec.path))
        pairs = sum(1 for k in state if k.endswith(DOWN_SUFFIXES))
        try:
            self.pipe.load_lora_weights(state, adapter_name=name)
        except (ValueError, KeyError, RuntimeError) as exc:
            self._discard(name)
            raise IncompatibleModelsError(
                f"{spec.field}: {spec.path} does not fit this base/motion module: {exc}", field=spec.field
            ) from exc
        wrapped = _wrapped_layers(self.pipe, name)
        exact = lora_layout(list(state)) != "kohya"  # kohya files may carry layers diffusers skips on purpose
        if wrapped == 0 or (exact and wrapped != pairs):
            self._discard(name)
            raise IncompatibleModelsError(
                f"{spec.field}: only {wrapped} of the {pairs} layers in {spec.path} exist in the loaded models; "
                + ("this MotionLoRA was made for another motion-module version (v2 MotionLoRAs need the v2 module)"
                   if spec.kind == "motion-lora" else "it was made for another base architecture"),
                field=spec.field,
            )
        self.loaded[name] = None

    def _discard(self, name: str) -> None:
        """Remove a half-loaded adapter so a failed load leaves the pipeline as it was."""
        if any(name in names for names in self.pipe.get_list_adapters().values()):
            self.pipe.delete_adapters([name])

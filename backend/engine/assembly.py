"""Assemble diffusers' `AnimateDiffPipeline` from a base and a motion module, and cache it.

The cache keeps one assembled pipeline (base + motion module on the device) between runs; only a
change of base, motion module, device or precision rebuilds it. Adapters are swapped on the cached
pipeline by `AdapterSet`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AnimateDiffPipeline, SparseControlNetModel

from backend.engine.adapters import AdapterSet
from backend.engine.base_loader import load_base
from backend.engine.device import DeviceChoice
from backend.engine.memory_plan import MemoryEstimator
from backend.engine.motion_loader import check_adapter_fits_base, load_motion_module
from backend.engine.motion_variants import apply_motion_variant
from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule
from backend.engine.placement import mark_unplaced
from backend.engine.schedulers import make_scheduler
from backend.engine.sparsectrl import load_sparsectrl
from models.motion_config import MotionModuleInfo


@dataclass
class AssembledPipeline:
    pipe: AnimateDiffPipeline
    adapters: AdapterSet
    motion_info: MotionModuleInfo
    base_format: str
    schedule: NoiseSchedule = SD15_SCHEDULE  # the base's prediction type; every sampler of a job is built for it
    _estimator: MemoryEstimator | None = None

    def memory_estimator(self) -> MemoryEstimator:
        """Built on first use and kept with the pipeline: its dry runs are cached per job shape."""
        if self._estimator is None:
            pipe = self.pipe
            self._estimator = MemoryEstimator(pipe.unet, pipe.vae, [pipe.unet, pipe.vae, pipe.text_encoder],
                                              pipe.vae_scale_factor)
        return self._estimator


def _file_key(path: Path) -> tuple[str, int]:
    return (str(path), path.stat().st_mtime_ns)


def assemble(base: Path, motion_module: Path, choice: DeviceChoice) -> AssembledPipeline:
    components = load_base(base, choice.dtype)
    motion = load_motion_module(motion_module, choice.dtype)
    check_adapter_fits_base(motion.info, components.unet)
    pipe = AnimateDiffPipeline(
        vae=components.vae,
        text_encoder=components.text_encoder,
        tokenizer=components.tokenizer,
        unet=components.unet,  # inflated to UNetMotionModel by the pipeline with the adapter's modules
        motion_adapter=motion.adapter,
        scheduler=make_scheduler("ddim", components.schedule),
    )
    apply_motion_variant(pipe.unet, motion.variant)  # hybrid: global attention on the odd modules
    pipe.to(dtype=choice.dtype)
    mark_unplaced(pipe)  # still on the CPU: the first job's memory plan decides where the weights go
    pipe.set_progress_bar_config(disable=True)
    return AssembledPipeline(pipe, AdapterSet(pipe), motion.info, components.source_format, components.schedule)


class PipelineCache:
    """Holds the last assembled pipeline (and SparseCtrl model); each is rebuilt only when its key changes."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: AssembledPipeline | None = None
        self._sparse_key: tuple | None = None
        self._sparse: tuple[SparseControlNetModel, str] | None = None

    def get(self, base: Path, motion_module: Path, choice: DeviceChoice) -> tuple[AssembledPipeline, bool]:
        """The assembled pipeline and whether it came from the cache."""
        key = (_file_key(base), _file_key(motion_module), str(choice.device), str(choice.dtype))
        if self._key == key and self._value is not None:
            return self._value, True
        self.clear()
        self._value = assemble(base, motion_module, choice)
        self._key = key
        return self._value, False

    def sparsectrl(self, path: Path, choice: DeviceChoice) -> tuple[SparseControlNetModel, str]:
        """The SparseCtrl model at `path` (and its kind, rgb or scribble), fitted to the cached pipeline's UNet."""
        assert self._value is not None, "get() the pipeline first: SparseCtrl takes its config from the base"
        key = (_file_key(path), self._key)
        if self._sparse_key != key or self._sparse is None:
            self._sparse = None
            model, kind = load_sparsectrl(path, self._value.pipe.unet, choice.dtype)
            self._sparse, self._sparse_key = (model.to(choice.device), kind), key
        return self._sparse

    def clear(self) -> None:
        self._key, self._value = None, None
        self._sparse_key, self._sparse = None, None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

"""The pre-flight check: will this base, motion module and set of adapters work together? Answered from file
headers before anything is loaded, with errors and warnings a person can act on.

It catches the mix-ups users report most: a domain adapter passed as a MotionLoRA, an SD1.5 module on an
SDXL checkpoint, v2 MotionLoRAs (which adapt the mid block) on the v3 module (which has none), an SDXL LoRA on
an SD1.5 base, more frames than the module's position table covers. The rules are the loaders' own
(`base_config.base_problems`, `motion_config.fit_problems`, `lora_layout`), run on names and shapes; the
engine calls `check_files(...).raise_first()` before every load, the CLI and the service expose `check_names`.

Example:
    >>> report = check_names(base="dreamshaper_8", motion_module="v3_sd15_mm", camera=[("zoom-in", 0.8)])
    >>> [e.message for e in report.errors]
    ["camera[0]: .../v2_lora_ZoomIn.ckpt is a MotionLoRA made for a motion module with a mid block (v2) ..."]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.base_config import base_problems, infer_base_architecture
from models.builtin import camera_folders_for
from models.detect import DETECTOR_VERSION, ModelInfo, detect, read_model_tensors, signature
from models.errors import (
    CorruptCheckpointError,
    IncompatibleModelsError,
    InvalidInputError,
    ModelNotFoundError,
    StudioError,
    UnsafeCheckpointError,
    WrongModelKindError,
)
from models.kinds import BASE_KINDS, describe_kind
from models.lora_layout import lora_pairs, lora_widths
from models.motion_config import (
    MotionModuleInfo,
    diffusers_key,
    fit_problems,
    hotshot_to_original,
    is_hotshot_layout,
    motion_module_info,
)
from models.resolve import resolve_camera_move, resolve_model
from models.tensor_index import CheckpointIndex

_ERRORS: dict[str, type[StudioError]] = {e.code: e for e in (
    ModelNotFoundError, WrongModelKindError, IncompatibleModelsError, UnsafeCheckpointError, CorruptCheckpointError,
    InvalidInputError)}
# Where a file of each kind goes in a request (the API's field names; the CLI's options are the same words).
_FIELD_FOR_KIND = {"sd15-base": "base", "motion-module": "motion_module", "motion-lora": "motion_loras",
                   "lora": "loras", "domain-adapter": "domain_adapter", "sparsectrl": "sparsectrl"}


@dataclass(frozen=True)
class CheckIssue:
    """One finding: `code` as in the API's errors, `field` the request field it is about."""

    code: str
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class AdapterRef:
    """An adapter of the request, resolved: `kind` is motion-lora, lora or domain-adapter."""

    path: Path
    kind: str
    field: str
    weight: float = 1.0


@dataclass(frozen=True)
class CheckedModel:
    path: Path
    info: ModelInfo


@dataclass
class CheckReport:
    errors: list[CheckIssue] = field(default_factory=list)
    warnings: list[CheckIssue] = field(default_factory=list)
    models: dict[str, CheckedModel] = field(default_factory=dict)  # field -> what it resolved to

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, code: str, field_name: str, message: str) -> None:
        self.errors.append(CheckIssue(code, field_name, message))

    def warn(self, code: str, field_name: str, message: str) -> None:
        self.warnings.append(CheckIssue(code, field_name, message))

    def raise_first(self) -> None:
        """Raise the first error as the matching `StudioError` (what the engine does before loading)."""
        if self.errors:
            issue = self.errors[0]
            raise _ERRORS.get(issue.code, IncompatibleModelsError)(issue.message, field=issue.field)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": [e.to_dict() for e in self.errors],
                "warnings": [w.to_dict() for w in self.warnings],
                "models": {f: {"path": str(m.path), **m.info.to_dict()} for f, m in self.models.items()}}


@dataclass(frozen=True)
class _BaseFacts:
    family: str
    widths: tuple[int, ...]
    layers_per_block: int
    context_width: int
    attention_widths: frozenset[int]


@dataclass(frozen=True)
class _ModuleFacts:
    path: Path
    version: str
    info: MotionModuleInfo
    targets: dict[str, tuple[int, ...]]  # diffusers layer name -> weight shape (out, in)


# -- reading, cached by (path, size, mtime): the engine checks every job, the files rarely change ---------------


@lru_cache(maxsize=128)
def _detect_cached(path: str, _size: int, _mtime: int, _version: int) -> ModelInfo:
    return detect(Path(path))


@lru_cache(maxsize=16)
def _tensors_cached(path: str, _size: int, _mtime: int) -> CheckpointIndex:
    return read_model_tensors(Path(path))


def _detect(path: Path) -> ModelInfo:
    return _detect_cached(str(path), *signature(path), DETECTOR_VERSION)


def _shapes(path: Path) -> dict[str, tuple[int, ...]]:
    index = _tensors_cached(str(path), *signature(path))
    shapes = {k.removeprefix("module."): v.shape for k, v in index.tensors.items()}
    return hotshot_to_original(shapes) if is_hotshot_layout(shapes) else shapes


# -- the check --------------------------------------------------------------------------------------------------


def check_files(*, base: Path | None = None, motion_module: Path | None = None, adapters: Sequence[AdapterRef] = (),
                sparsectrl: Path | None = None, frames: int | None = None, scheduler: str | None = None
                ) -> CheckReport:
    """Check resolved files; what the engine runs before it loads anything.

    `frames`: how many frames the motion module attends over at once (the clip, or its context window).
    """
    report = CheckReport()
    base_facts = module = None
    # 1. Each file is of the kind its field needs (and readable, and safe)
    if base is not None and (info := _usable(report, "base", base, BASE_KINDS)):
        base_facts = _check_base(report, base, info)
    if motion_module is not None and (info := _usable(report, "motion_module", motion_module, {"motion-module"})):
        # 2. The module fits the base, covers the frames, and gets the scheduler it needs
        module = _check_module(report, motion_module, info, base_facts, frames, scheduler)
    # 3. Each adapter's layers exist, with the right widths, in what it adapts
    for adapter in adapters:
        info = _usable(report, adapter.field, adapter.path, {adapter.kind})
        if info is None:
            continue
        if adapter.weight == 0:
            report.warn("no_effect", adapter.field, f"{adapter.field}: weight 0 makes {adapter.path.name} do nothing")
        if adapter.kind == "motion-lora":
            _check_motion_lora(report, adapter, info, module)
        else:
            _check_base_lora(report, adapter, info, base_facts, module)
    # 4. SparseCtrl: made for SD1.5 and trained with the v3 module
    if sparsectrl is not None and (info := _usable(report, "sparsectrl", sparsectrl, {"sparsectrl"})):
        if info.base_family not in (None, "sd15"):
            report.error("incompatible_models", "sparsectrl", f"sparsectrl: {sparsectrl} is made for "
                                                              f"{info.base_family.upper()}; the base is SD1.5")
        if module is not None and module.version in ("v1", "v2", "animatelcm"):
            report.warn("sparsectrl_version", "sparsectrl",
                        f"sparsectrl: SparseCtrl was trained with the v3 module; with {module.version} the keyframes "
                        "steer less (use v3_sd15_mm.ckpt)")
    return report


def check_names(*, base: str | None = None, motion_module: str | None = None,
                motion_loras: Sequence[tuple[str, float]] = (), camera: Sequence[tuple[str, float]] = (),
                loras: Sequence[tuple[str, float]] = (), domain_adapter: tuple[str, float] | None = None,
                sparsectrl: tuple[str, float] | None = None, frames: int | None = None,
                scheduler: str | None = None) -> CheckReport:
    """Resolve what a user typed (names or paths, as in a generation request) and check the combination."""
    report = CheckReport()

    def resolve(value: str, kind: str, field_name: str) -> Path | None:
        try:
            return resolve_model(value, kind, field_name)
        except StudioError as exc:
            report.error(exc.code, field_name, exc.message)
            return None

    base_path = resolve(base, "checkpoints", "base") if base else None
    module_path = resolve(motion_module, "motion-modules", "motion_module") if motion_module else None
    adapters: list[AdapterRef] = []
    for i, (move, strength) in enumerate(camera):
        try:
            path = resolve_camera_move(move, f"camera[{i}]", camera_folders_for(base_path))
            adapters.append(AdapterRef(path, "motion-lora", f"camera[{i}]", strength))
        except StudioError as exc:
            report.error(exc.code, f"camera[{i}]", exc.message)
    for group, kind, folder in (("motion_loras", "motion-lora", "motion-loras"), ("loras", "lora", "loras")):
        for i, (value, weight) in enumerate(motion_loras if group == "motion_loras" else loras):
            if (path := resolve(value, folder, f"{group}[{i}]")) is not None:
                adapters.append(AdapterRef(path, kind, f"{group}[{i}]", weight))
    if domain_adapter is not None and (path := resolve(domain_adapter[0], "domain-adapters", "domain_adapter")):
        adapters.append(AdapterRef(path, "domain-adapter", "domain_adapter", domain_adapter[1]))
    sparse_path = resolve(sparsectrl[0], "sparsectrl", "sparsectrl") if sparsectrl else None
    files = check_files(base=base_path, motion_module=module_path, adapters=adapters, sparsectrl=sparse_path,
                        frames=frames, scheduler=scheduler)
    report.errors += files.errors
    report.warnings += files.warnings
    report.models.update(files.models)
    return report


def _usable(report: CheckReport, field_name: str, path: Path, expected: set[str] | frozenset[str]) -> ModelInfo | None:
    info = _detect(path)
    report.models[field_name] = CheckedModel(path, info)
    reason = info.notes[0] if info.notes else ""
    if info.kind == "unsafe":
        report.error("unsafe_checkpoint", field_name, f"{field_name}: {reason}")
    elif info.kind == "corrupt":
        report.error("corrupt_checkpoint", field_name, f"{field_name}: {reason}")
    elif info.kind not in expected:
        wanted = "an SD1.5 base model" if expected == BASE_KINDS else describe_kind(next(iter(expected)))
        where = _FIELD_FOR_KIND.get(info.kind)
        report.error("wrong_model_kind", field_name,
                     f"{field_name}: {path} is {describe_kind(info.kind)}, not {wanted}"
                     + (f" ({reason})" if info.kind == "unknown" and reason else "")
                     + (f"; pass it as {where}" if where else ""))
    else:
        return info
    return None


def _check_base(report: CheckReport, path: Path, info: ModelInfo) -> _BaseFacts | None:
    errors_before = len(report.errors)
    if info.format == "diffusers-folder":
        unet = json.loads((path / "unet" / "config.json").read_text(encoding="utf-8"))
        # The detector already wrote the folder's problems as notes, with the same words as base_problems.
        for reason in (n for n in info.notes if n.startswith(("is an ", "takes "))):
            report.error("incompatible_models", "base", f"base: {path} {reason}")
        attention = [t.startswith("CrossAttn") for t in unet.get("down_block_types", ())]
    else:
        try:
            arch = infer_base_architecture(_shapes(path))
        except (ValueError, KeyError, StopIteration) as exc:
            report.error("wrong_model_kind", "base", f"base: {path}: the UNet's layout could not be read ({exc})")
            return None
        for error, reason in base_problems(arch):
            report.error(error.code, "base", f"base: {path} {reason}")
        unet = arch.unet
        attention = [t.startswith("CrossAttn") for t in unet["down_block_types"]]
    if len(report.errors) > errors_before:
        return None  # one clear error about the base; comparisons against it would only add noise
    widths = tuple(unet["block_out_channels"])
    # The mid block attends at the last width too (SD's UNetMidBlock2DCrossAttn).
    attention_widths = frozenset({w for w, a in zip(widths, attention, strict=False) if a} | {widths[-1]})
    return _BaseFacts(info.base_family or "sd15", widths, unet["layers_per_block"], unet["cross_attention_dim"],
                      attention_widths)


def _check_module(report: CheckReport, path: Path, info: ModelInfo, base: _BaseFacts | None, frames: int | None,
                  scheduler: str | None) -> _ModuleFacts | None:
    shapes = _shapes(path)
    try:
        mm = motion_module_info(shapes)
    except (ValueError, KeyError) as exc:
        report.error("wrong_model_kind", "motion_module", f"motion_module: {path}: layout could not be read ({exc})")
        return None
    version = info.version or mm.version
    if info.base_family == "sdxl":
        report.error("incompatible_models", "motion_module",
                     f"motion_module: {path} is an SDXL motion module ({version}); this tool animates SD1.5 bases, "
                     "which need an SD1.5 module (v1, v2 or v3, e.g. mm_sd_v15_v2.ckpt or v3_sd15_mm.ckpt)")
    elif base is not None:
        for problem in fit_problems(mm, base.widths, base.layers_per_block):
            report.error("incompatible_models", "motion_module", f"motion_module: {problem}")
    max_frames = mm.config["motion_max_seq_length"]
    if frames is not None and frames > max_frames:
        report.error("invalid_input", "frames",
                     f"frames: {frames} is more than this motion module's position encoding covers ({max_frames} "
                     f"frames); ask for at most {max_frames} frames, or set context_length (e.g. 16) for sliding "
                     "context windows")
    if version == "animatelcm" and scheduler not in (None, "lcm"):
        report.warn("scheduler_mismatch", "scheduler",
                    f"scheduler: {scheduler!r} with an AnimateLCM module gives blurry clips; use 'lcm' with 4-8 steps "
                    "and guidance 1-2")
    targets = {diffusers_key(k.removesuffix(".weight")): s for k, s in shapes.items()
               if k.endswith(".weight") and len(s) == 2}
    return _ModuleFacts(path, version, mm, targets)


def _check_motion_lora(report: CheckReport, adapter: AdapterRef, info: ModelInfo, module: _ModuleFacts | None) -> None:
    f, path = adapter.field, adapter.path
    if info.layout == "kohya":
        report.error("incompatible_models", f, f"{f}: {path} is a MotionLoRA in A1111/kohya naming, which the engine "
                                               "does not load; use the original-layout file (e.g. v2_lora_ZoomIn.ckpt)")
        return
    if module is None:
        return
    pairs = lora_pairs(_shapes(path))
    missing = [t for t in pairs if t not in module.targets]
    wrong = [t for t, p in pairs.items() if t in module.targets
             and tuple(module.targets[t]) != (p.out_features, p.in_features)]
    has_mid = module.info.config["use_motion_mid_block"]
    if missing and not wrong and all(t.startswith("mid_block.") for t in missing) and not has_mid:
        report.error("incompatible_models", f,
                     f"{f}: {path} is a MotionLoRA made for a motion module with a mid block (v2, mm_sd_v15_v2.ckpt); "
                     f"the motion module {module.path.name} is {module.version} without one, so {len(missing)} of its "
                     f"{len(pairs)} layers have nowhere to go. Use the v2 module with this MotionLoRA")
    elif missing or wrong:
        example = (missing or wrong)[0]
        report.error("incompatible_models", f,
                     f"{f}: only {len(pairs) - len(missing) - len(wrong)} of the {len(pairs)} layers of {path} fit the "
                     f"motion module {module.path.name} ({module.version}), e.g. not {example}; this MotionLoRA was "
                     "made for another motion-module version or width")


def _check_base_lora(report: CheckReport, adapter: AdapterRef, info: ModelInfo, base: _BaseFacts | None,
                     module: _ModuleFacts | None) -> None:
    f, path = adapter.field, adapter.path
    if adapter.kind == "domain-adapter" and module is not None and module.version in ("v1", "v2", "animatelcm"):
        report.warn("domain_adapter_version", f,
                    f"{f}: the domain adapter was trained with the v3 module; with {module.version} it loads but the "
                    "look it corrects for is not the one that module learned (use v3_sd15_mm.ckpt, or drop it)")
    if base is None:
        return
    selfs, cross = lora_widths(lora_pairs(_shapes(path)))
    if cross and not cross <= {base.context_width}:
        made_for = info.base_family.upper() if info.base_family else f"a base with context width {sorted(cross)[0]}"
        report.error("incompatible_models", f,
                     f"{f}: {path} was made for {made_for} (text context width {sorted(cross)[0]}); the base's is "
                     f"{base.context_width}. Use {describe_kind(info.kind)} made for SD1.5")
    elif selfs and not selfs <= base.attention_widths:
        report.error("incompatible_models", f,
                     f"{f}: {path} adapts attention layers of widths {sorted(selfs)}; the base has "
                     f"{sorted(base.attention_widths)}. It was made for another base architecture")

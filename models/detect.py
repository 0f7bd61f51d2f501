"""Tell what a model file or folder is, from its contents (never its name), without loading a tensor.

`detect(path)` reads a safetensors header or a pickle's object tree (`models.tensor_index`) and classifies
the tensor names and shapes with the same functions the loaders use (`base_config`, `motion_config`,
`lora_layout`), so the detector and the engine can never disagree about what a file is. It never raises for
a file's content: damaged, empty, truncated and oversize-header files come back as `corrupt`, pickles that
ask for code as `unsafe`, anything else unrecognised as `unknown` — each with the reason in `notes`.

Example:
    >>> info = detect(Path("~/ComfyUI/models/animatediff_models/mm_sd_v15_v2.ckpt").expanduser())
    >>> info.kind, info.version, info.base_family
    ('motion-module', 'v2', 'sd15')
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from models.base_config import base_family as ldm_base_family
from models.base_config import base_problems, infer_base_architecture
from models.camera import move_from_file_name
from models.errors import CorruptCheckpointError, StudioError, UnsafeCheckpointError
from models.lora_layout import (
    family_from_context_width,
    is_lycoris,
    lora_kind,
    lora_layout,
    lora_pairs,
    lora_widths,
)
from models.motion_config import (
    hotshot_to_original,
    is_hotshot_layout,
    is_motion_module,
    motion_family,
    motion_module_info,
)
from models.tensor_index import CheckpointIndex, read_checkpoint_index, sniff_format

# Bump when a rule changes: the index re-detects every file whose record carries an older number.
DETECTOR_VERSION = 1
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft")
_PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
_PRECISIONS = {"F16": "fp16", "F32": "fp32", "BF16": "bf16", "F64": "fp64", "F8_E4M3": "fp8", "F8_E5M2": "fp8"}
# diffusers component folders: the weights file names, in the order diffusers prefers them.
_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin",
                 "pytorch_model.bin")


@dataclass(frozen=True)
class ModelInfo:
    """What a model file is. `notes` are sentences for a person (evidence, warnings, the reason for a problem)."""

    kind: str  # one of models.kinds.DETECTED_KINDS
    format: str | None = None  # safetensors, zip-pickle, legacy-pickle, diffusers-folder
    layout: str | None = None  # ldm, diffusers, original, kohya, peft
    version: str | None = None  # motion modules: v1/v2/v3/sdxl/animatelcm/hotshotxl/custom; SparseCtrl: rgb/scribble
    base_family: str | None = None  # sd15, sd2, sdxl: the base this file is made for (None: cannot be told)
    camera_move: str | None = None  # MotionLoRAs, when the file name says which move
    precision: str | None = None  # fp16, fp32, bf16
    notes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # evidence: widths, config, counts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "notes": tuple(known.get("notes") or ())})


def detect(path: str | Path) -> ModelInfo:
    """Classify a file or a diffusers folder; problems are reported in the result, never raised."""
    path = Path(path)
    try:
        if path.is_dir():
            return detect_folder(path) or ModelInfo(
                "unknown", notes=("a folder without model_index.json or a diffusers config.json: not a model folder",))
        info = classify(read_checkpoint_index(path), path.name)
    except UnsafeCheckpointError as exc:
        return ModelInfo("unsafe", format=_format_or_none(path), notes=(exc.message,))
    except CorruptCheckpointError as exc:
        return ModelInfo("corrupt", format=_format_or_none(path), notes=(exc.message,))
    except OSError as exc:
        return ModelInfo("corrupt", notes=(f"{path} cannot be read: {exc.strerror or exc}",))
    return replace(info, notes=info.notes + _extension_notes(path, info.format))


def signature(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a file; for a folder the sum of its files' sizes and their latest mtime.

    What the index and the pre-flight cache key on: a changed file changes its signature.
    """
    if not path.is_dir():
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns
    size = mtime = 0
    for f in path.rglob("*"):
        if f.is_file():
            stat = f.stat()
            size, mtime = size + stat.st_size, max(mtime, stat.st_mtime_ns)
    return size, mtime


def read_model_tensors(path: Path) -> CheckpointIndex:
    """The tensor table of a model file, or of a diffusers folder's weights (all shards)."""
    return _folder_tensors(path) if path.is_dir() else read_checkpoint_index(path)


def _format_or_none(path: Path) -> str | None:
    try:
        return sniff_format(path)
    except (StudioError, OSError):
        return None


def _extension_notes(path: Path, fmt: str | None) -> tuple[str, ...]:
    suffix = path.suffix.lower()
    if fmt == "safetensors" and suffix in _PICKLE_SUFFIXES:
        return (f"named {suffix} but its content is safetensors; it is read as what it is",)
    if fmt in ("zip-pickle", "legacy-pickle") and suffix in (".safetensors", ".sft"):
        return (f"named {suffix} but its content is a torch pickle ({fmt}); it is read as what it is, safely",)
    return ()


def classify(index: CheckpointIndex, file_name: str = "") -> ModelInfo:
    """The kind of model a tensor table describes; pure (tests feed it full-size layouts built on `meta`)."""
    shapes = {k.removeprefix("module."): v.shape for k, v in index.tensors.items()}
    params = sum(math.prod(s) for s in shapes.values())
    common = {"format": index.format, "precision": _PRECISIONS.get(index.precision or "", index.precision)}
    info = None
    for rule in (_base, _sparsectrl, _motion_module, _lora, _vae):
        if shapes and (info := rule(shapes, file_name)) is not None:
            break
    info = info or _embedding(index) or _unknown(shapes, index)
    return replace(info, **common, details={**info.details, "tensors": len(shapes), "parameters": params})


# -- rules, each returns None when the tensors are not its kind ------------------------------------------------


def _base(shapes: Mapping[str, tuple[int, ...]], _name: str) -> ModelInfo | None:
    family = ldm_base_family(shapes)
    if family is None:
        return None
    kind = f"{family}-base"
    try:
        arch = infer_base_architecture(shapes)
    except (ValueError, KeyError, StopIteration) as exc:
        return ModelInfo(kind, layout="ldm", base_family=family,
                         notes=(f"the UNet's layout could not be read fully ({exc}); the loader will refuse it",))
    notes = [reason for _error, reason in base_problems(arch)]
    if any(k.startswith("model_ema.") for k in shapes):
        notes.append("also holds EMA weights (a larger file; the loader uses the main weights)")
    unet = arch.unet
    details = {"unet": {k: unet[k] for k in ("block_out_channels", "layers_per_block", "cross_attention_dim",
                                              "in_channels")},
               "has_vae": arch.vae is not None, "has_text_encoder": arch.text_encoder is not None}
    return ModelInfo(kind, layout="ldm", base_family=family, notes=tuple(notes), details=details)


# SparseCtrl's condition encoder: RGB files have one conv over latents (+ mask), scribble files a conv tower over
# pixels; the key tells them apart.
SPARSECTRL_EMBEDDING = {"rgb": "controlnet_cond_embedding.weight",
                        "scribble": "controlnet_cond_embedding.conv_in.weight"}


def sparsectrl_variant(shapes: Mapping[str, tuple[int, ...]]) -> str | None:
    """"rgb", "scribble", or None when the state dict has no SparseCtrl condition encoder."""
    for variant, key in SPARSECTRL_EMBEDDING.items():
        if key in shapes:
            return variant
    return None


def _sparsectrl(shapes: Mapping[str, tuple[int, ...]], _name: str) -> ModelInfo | None:
    if not any(k.startswith("controlnet_cond_embedding.") for k in shapes):
        return None
    if not any(".motion_modules." in k for k in shapes):
        return ModelInfo("unknown", layout="diffusers",
                         notes=("a ControlNet without motion modules (not SparseCtrl); this tool does not use it",))
    variant = sparsectrl_variant(shapes)
    first = shapes.get(SPARSECTRL_EMBEDDING[variant]) or (0, 0)
    layout = "original" if any(".temporal_transformer." in k for k in shapes) else "diffusers"
    widths = _level_widths(shapes, r"down_blocks\.(\d+)\.motion_modules\.0\.(?:temporal_transformer\.)?proj_in\.weight")
    note = (f"SparseCtrl {'RGB (image)' if variant == 'rgb' else 'scribble'} condition encoder with {first[1]} input "
            "channels; keyframe conditioning made for the v3 motion module")
    return ModelInfo("sparsectrl", layout=layout, version=variant, base_family=motion_family(widths), notes=(note,),
                     details={"conditioning_channels": first[1]})


def _motion_module(shapes: Mapping[str, tuple[int, ...]], _name: str) -> ModelInfo | None:
    hotshot = is_hotshot_layout(shapes)
    if hotshot:
        shapes = hotshot_to_original(shapes)
    if not is_motion_module(shapes):
        return None
    try:
        mm = motion_module_info(shapes)
    except (ValueError, KeyError) as exc:
        return ModelInfo("unknown", notes=(f"motion-module tensors in a layout that could not be read ({exc})",))
    version = "hotshotxl" if hotshot else mm.version
    notes = [f"{version}: {mm.evidence()}"]
    if version == "animatelcm":
        notes.append("AnimateLCM: generate with the lcm scheduler, 4-8 steps and guidance 1-2")
    if any(k.startswith("img_encoder.") for k in shapes):
        notes.append("carries AnimateLCM-I2V's image encoder, which this tool does not use")
    if version == "custom":
        notes.append("not one of the official widths: it fits only a base with the same level widths")
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in mm.config.items()}
    return ModelInfo("motion-module", layout="hotshotxl" if hotshot else mm.layout, version=version,
                     base_family=mm.base_family, notes=tuple(notes), details={"config": config})


def _lora(shapes: Mapping[str, tuple[int, ...]], name: str) -> ModelInfo | None:
    keys = list(shapes)
    kind = lora_kind(keys)
    if kind is None:
        return None
    layout = lora_layout(keys).removesuffix("-motion").removesuffix("-base")  # "original", "kohya", "diffusers"
    layout = "peft" if any(k.startswith("base_model.model.") for k in keys) else layout
    pairs = lora_pairs(shapes)
    ranks = sorted({p.rank for p in pairs.values()})
    details: dict[str, Any] = {"layers": len(pairs), "ranks": ranks}
    notes: list[str] = []
    if kind == "motion-lora":
        mid = any(t.startswith("mid_block.") for t in pairs)
        widths = _level_widths({t: (p.in_features,) for t, p in pairs.items()},
                               r"down_blocks\.(\d+)\.motion_modules\.0\.transformer_blocks\.0\.attn1\.to_q")
        notes.append(f"adapts {len(pairs)} motion-module layers" + (
            ", mid block included: made for a module with a mid block (v2)" if mid else
            ", no mid-block layers: fits modules without a mid block (v1/v3-style)"))
        if layout == "kohya":
            notes.append("A1111/kohya-style names: the engine loads MotionLoRAs in AnimateDiff's or diffusers' layout")
        move = move_from_file_name(name)
        if move:
            notes.append(f"camera move {move} (from the file name)")
        return ModelInfo(kind, layout=layout, version="v2" if mid else "v1/v3", base_family=motion_family(widths),
                         camera_move=move, notes=tuple(notes), details=details)
    selfs, cross = lora_widths(pairs)
    family = next((f for w in sorted(cross) if (f := family_from_context_width(w))), None)
    if family is None and any(k.startswith(("lora_te1_", "lora_te2_")) for k in keys):
        family = "sdxl"  # SDXL's two text encoders
    details.update(attention_widths=sorted(selfs), context_widths=sorted(cross))
    if kind == "domain-adapter":
        notes.append(f"AnimateDiff domain adapter: LoRA on {len(pairs)} base attention layers (made with v3)")
        return ModelInfo(kind, layout="original", version="v3", base_family=family, notes=tuple(notes),
                         details=details)
    if is_lycoris(keys):
        notes.append("LyCORIS (LoHa/LoKr) weights: the engine loads plain LoRA pairs only")
    if not cross and not selfs and pairs:
        notes.append("adapts only the text encoder")
    return ModelInfo("lora", layout=layout, base_family=family, notes=tuple(notes), details=details)


def _vae(shapes: Mapping[str, tuple[int, ...]], _name: str) -> ModelInfo | None:
    prefix = "first_stage_model." if "first_stage_model.encoder.conv_in.weight" in shapes else ""
    if f"{prefix}encoder.conv_in.weight" not in shapes or f"{prefix}decoder.conv_out.weight" not in shapes:
        return None
    latent = shapes[f"{prefix}encoder.conv_out.weight"][0] // 2 if f"{prefix}encoder.conv_out.weight" in shapes else 0
    layout = "diffusers" if any(".down_blocks." in k for k in shapes) else "ldm"
    if latent == 4:
        note = ("a 4-channel latent VAE: SD1.x, SD2 and SDXL VAEs share this shape, so the family cannot be told "
                "from the tensors")
    else:
        note = f"a {latent}-channel latent VAE (SD3/Flux-style): it does not fit SD1.5's 4-channel latents"
    return ModelInfo("vae", layout=layout, notes=(note,), details={"latent_channels": latent})


def _embedding(index: CheckpointIndex) -> ModelInfo | None:
    tensors = {k: v.shape for k, v in index.tensors.items()}
    nested = {k: v.shape for k, v in index.nested.items() if k.startswith("string_to_param.")}
    if "clip_l" in tensors and "clip_g" in tensors:
        return _embedding_info("sdxl", tensors["clip_l"], "clip_l + clip_g (SDXL)")
    for source in (nested, {k: v for k, v in tensors.items() if k == "emb_params"}):
        if len(source) == 1:
            (shape,) = source.values()
            return _embedding_info(family_from_context_width(shape[-1]), shape, "A1111 textual inversion")
    if len(tensors) == 1:  # diffusers' learned_embeds: {"<token>": (dim,) or (vectors, dim)}
        ((token, shape),) = tensors.items()
        if 1 <= len(shape) <= 2 and shape[-1] in (768, 1024) and (len(shape) == 1 or shape[0] <= 75):
            return _embedding_info(family_from_context_width(shape[-1]), shape, f"diffusers token {token}")
    return None


def _embedding_info(family: str | None, shape: tuple[int, ...], what: str) -> ModelInfo:
    vectors = shape[0] if len(shape) == 2 else 1
    return ModelInfo("embedding", base_family=family, notes=(f"{what}: {vectors} vector(s) of width {shape[-1]}",),
                     details={"vectors": vectors, "width": shape[-1]})


def _unknown(shapes: Mapping[str, tuple[int, ...]], index: CheckpointIndex) -> ModelInfo:
    if not shapes:
        keys = ", ".join(index.top_keys[:6]) or "none"
        return ModelInfo("unknown", notes=(f"holds no tensors at the top level (keys: {keys})",))
    hints = (("double_blocks.", "a Flux model"), ("joint_blocks.", "an SD3 model"),
             ("control_model.", "a ControlNet"), ("conditioner.embedders", "an SDXL text encoder"),
             ("down_blocks.0.resnets.0.conv1.weight", "a diffusers UNet alone (use its whole pipeline folder)"),
             (".motion_modules.0.conv_in.weight", "the 1D-convolution ablation of a motion module (train "
              "--motion-variant conv1d), which scripts/paper_benchmark.py measures; it is not for generation"))
    what = next((text for marker, text in hints if any(marker in k for k in shapes)), None)
    sample = ", ".join(sorted(shapes)[:3])
    reason = f"looks like {what}; this tool does not use it" if what else \
        f"{len(shapes)} tensors in none of the known layouts (e.g. {sample})"
    return ModelInfo("unknown", notes=(reason,))


def _level_widths(shapes: Mapping[str, tuple[int, ...]], pattern: str) -> tuple[int, ...]:
    rx = re.compile(pattern)
    found = {int(m.group(1)): shape[0] for k, shape in shapes.items() if (m := rx.fullmatch(k))}
    return tuple(found[i] for i in sorted(found))


# -- diffusers folders -----------------------------------------------------------------------------------------


def is_model_folder(path: Path) -> bool:
    """A diffusers pipeline folder or a single diffusers component folder (the scanner does not descend into it)."""
    return (path / "model_index.json").is_file() or _component_class(path) is not None


def _component_class(path: Path) -> str | None:
    config = _read_json(path / "config.json")
    name = config.get("_class_name") if isinstance(config, dict) else None
    return name if isinstance(name, str) and _weights_files(path) else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _weights_files(folder: Path) -> list[Path]:
    for name in _WEIGHT_FILES:
        index = folder / f"{name}.index.json"
        if index.is_file():  # sharded: every shard the index names
            data = _read_json(index) or {}
            return sorted({folder / shard for shard in (data.get("weight_map") or {}).values()})
        if (folder / name).is_file():
            return [folder / name]
    return []


def _folder_tensors(folder: Path) -> CheckpointIndex:
    files = _weights_files(folder)
    if not files:
        raise CorruptCheckpointError(f"{folder} has no weights file ({', '.join(_WEIGHT_FILES)})", field="path")
    merged: CheckpointIndex | None = None
    for f in files:
        part = read_checkpoint_index(f)
        merged = part if merged is None else replace(merged, tensors={**merged.tensors, **part.tensors})
    assert merged is not None
    return merged


def detect_folder(path: Path) -> ModelInfo | None:
    """A diffusers folder's kind, or None if the folder is not a model. Problems come back as corrupt/unsafe."""
    if (path / "model_index.json").is_file():
        return _pipeline_folder(path)
    class_name = _component_class(path)
    if class_name is None:
        return None
    info = classify(_folder_tensors(path), path.name)
    return replace(info, format="diffusers-folder",
                   notes=info.notes + ((f"a diffusers {class_name} folder",) if info.kind != "unknown" else
                                       (f"a diffusers {class_name} folder, which this tool does not use",)))


def _pipeline_folder(path: Path) -> ModelInfo:
    index = _read_json(path / "model_index.json")
    if not isinstance(index, dict):
        return ModelInfo("corrupt", format="diffusers-folder", notes=(f"{path}/model_index.json is not valid JSON",))
    unet = _read_json(path / "unet" / "config.json")
    missing = [part for part in ("unet", "vae", "text_encoder") if not _weights_files(path / part)]
    if not isinstance(unet, dict) or missing:
        return ModelInfo("corrupt", format="diffusers-folder",
                         notes=(f"{path} is a diffusers pipeline with no weights for {', '.join(missing) or 'unet'}",))
    class_name = str(index.get("_class_name", ""))
    cross = unet.get("cross_attention_dim")
    if "XL" in class_name or unet.get("addition_embed_type") == "text_time" or cross == 2048:
        family = "sdxl"
    elif cross == 1024:
        family = "sd2"
    else:  # 768, and the narrow widths of test models
        family = "sd15"
    notes = [f"a diffusers {class_name or 'pipeline'} folder"]
    if family != "sd15":
        notes.append(f"is an {family.upper()} base; AnimateDiff SD1.5 motion modules need an SD1.5-family base model")
    if unet.get("in_channels", 4) != 4:
        notes.append(f"takes {unet['in_channels']} input channels (an inpainting or instruct model); AnimateDiff "
                     "needs a text-to-image base with 4 latent channels")
    scheduler = _read_json(path / "scheduler" / "scheduler_config.json")
    scheduler = scheduler if isinstance(scheduler, dict) else {}
    prediction = scheduler.get("prediction_type", "epsilon")
    zero_snr = bool(scheduler.get("rescale_betas_zero_snr", False))
    if prediction != "epsilon":  # the engine samples it as its scheduler config says (backend/engine/noise_schedule.py)
        notes.append(f"predicts {prediction}" + (" on zero-terminal-SNR betas" if zero_snr else ""))
    unet_index = _folder_tensors(path / "unet")
    details = {"unet": {k: unet.get(k) for k in ("block_out_channels", "layers_per_block", "cross_attention_dim",
                                                  "in_channels")}, "has_vae": True, "has_text_encoder": True,
               "prediction_type": prediction, "zero_terminal_snr": zero_snr}
    return ModelInfo(f"{family}-base", format="diffusers-folder", layout="diffusers", base_family=family,
                     precision=_PRECISIONS.get(unet_index.precision or "", unet_index.precision), notes=tuple(notes),
                     details=details)


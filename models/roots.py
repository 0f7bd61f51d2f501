"""Where model files live: the tool's store, `ANIMATEDIFF_STUDIO_MODEL_DIRS`, and roots the user added.

A root the user adds is often a whole ComfyUI or A1111 install. Its layout is recognised so that only its
model folders are scanned (not `venv/`, `output/` or `custom_nodes/*/node_modules`), and each folder carries
the kinds it is meant for, so a file in the wrong folder can be pointed out:

- ComfyUI: `models/checkpoints`, `models/animatediff_models`, `models/animatediff_motion_lora`, `models/loras`,
  `models/vae`, `models/embeddings`, `models/controlnet` (SparseCtrl), AnimateDiff-Evolved's own
  `custom_nodes/ComfyUI-AnimateDiff-Evolved/{models,motion_lora}`, and every folder its
  `extra_model_paths.yaml` adds (typically a whole A1111 install);
- A1111: `models/Stable-diffusion`, `models/Lora` (MotionLoRAs live here too in sd-webui-animatediff),
  `models/VAE`, `embeddings`, `models/ControlNet`, `extensions/sd-webui-animatediff/model`;
- anything else: the whole folder, a bounded number of levels deep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.kinds import BASE_KINDS, STORE_FOLDER_KINDS
from models.paths import STORE_KINDS, data_dir, extra_model_dirs, store_dir

_ANY: frozenset[str] = frozenset()
# ComfyUI folder names (also the category names of extra_model_paths.yaml) -> kinds they hold.
COMFYUI_CATEGORIES: dict[str, frozenset[str]] = {
    "checkpoints": BASE_KINDS, "diffusers": BASE_KINDS, "animatediff_models": frozenset({"motion-module"}),
    "animatediff_motion_lora": frozenset({"motion-lora"}), "loras": frozenset({"lora"}),
    "vae": frozenset({"vae"}), "embeddings": frozenset({"embedding"}), "controlnet": frozenset({"sparsectrl"}),
}
_COMFYUI_EXTRA = (("custom_nodes/ComfyUI-AnimateDiff-Evolved/models", frozenset({"motion-module"})),
                  ("custom_nodes/ComfyUI-AnimateDiff-Evolved/motion_lora", frozenset({"motion-lora"})))
_A1111_FOLDERS = (("models/Stable-diffusion", BASE_KINDS), ("models/Lora", frozenset({"lora", "motion-lora"})),
                  ("models/LyCORIS", frozenset({"lora"})), ("models/VAE", frozenset({"vae"})),
                  ("embeddings", frozenset({"embedding"})), ("models/ControlNet", frozenset({"sparsectrl"})),
                  ("extensions/sd-webui-animatediff/model", frozenset({"motion-module"})),
                  ("extensions/sd-webui-controlnet/models", frozenset({"sparsectrl"})))


@dataclass(frozen=True)
class ModelFolder:
    """A folder to scan, what it is meant to hold (empty: anything) and how to name it to a person."""

    path: Path
    kinds: frozenset[str]
    label: str


@dataclass(frozen=True)
class ModelRoot:
    """A place models are found. `source`: store, env (ANIMATEDIFF_STUDIO_MODEL_DIRS) or user (added)."""

    path: Path
    source: str
    layout: str  # store, comfyui, a1111, plain
    folders: tuple[ModelFolder, ...]
    notes: tuple[str, ...] = ()

    @property
    def recursive_limit(self) -> int | None:
        """How deep to look: a plain folder may be a home directory, the known layouts are bounded already."""
        return 6 if self.layout == "plain" else None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "source": self.source, "layout": self.layout, "notes": list(self.notes),
                "folders": [{"path": str(f.path), "kinds": sorted(f.kinds), "label": f.label,
                             "exists": f.path.is_dir()} for f in self.folders]}


def store_root() -> ModelRoot:
    folders = tuple(ModelFolder(store_dir(k), STORE_FOLDER_KINDS.get(k, _ANY), f"the store's {k} folder")
                    for k in STORE_KINDS)
    return ModelRoot(data_dir() / "models", "store", "store", folders)


def describe_root(path: Path, source: str = "user") -> ModelRoot:
    """Recognise a ComfyUI / A1111 install (or its `models` folder); anything else is scanned as a plain folder."""
    path = Path(os.path.expandvars(str(path))).expanduser().absolute()
    comfy_models = next((p for p in (path / "models", path)
                         if (p / "checkpoints").is_dir() or (p / "animatediff_models").is_dir()), None)
    if (path / "models" / "Stable-diffusion").is_dir() or (path / "Stable-diffusion").is_dir():
        top = path if (path / "models" / "Stable-diffusion").is_dir() else path.parent
        folders = tuple(ModelFolder(top / rel, kinds, f"A1111 {rel}") for rel, kinds in _A1111_FOLDERS)
        return ModelRoot(path, source, "a1111", folders)
    if comfy_models is not None:
        top = comfy_models.parent if comfy_models.name == "models" else path
        folders = [ModelFolder(comfy_models / name, kinds, f"ComfyUI models/{name}")
                   for name, kinds in COMFYUI_CATEGORIES.items()]
        folders += [ModelFolder(top / rel, kinds, f"ComfyUI {rel}") for rel, kinds in _COMFYUI_EXTRA]
        notes: list[str] = []
        yaml_path = top / "extra_model_paths.yaml"
        if yaml_path.is_file():
            extra, notes = read_extra_model_paths(yaml_path)
            folders += extra
        return ModelRoot(path, source, "comfyui", tuple(folders), tuple(notes))
    return ModelRoot(path, source, "plain", (ModelFolder(path, _ANY, f"{path}"),))


def read_extra_model_paths(yaml_path: Path) -> tuple[list[ModelFolder], list[str]]:
    """The model folders ComfyUI's `extra_model_paths.yaml` adds, and notes on what could not be used.

    Each top-level section has an optional `base_path` (relative to the YAML file's folder, as ComfyUI
    reads it) and categories whose value is one path or several, one per line.
    """
    import yaml  # PyYAML: only needed when a ComfyUI root is described

    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [], [f"{yaml_path} could not be read ({str(exc).splitlines()[0]}); its folders are not scanned"]
    if not isinstance(data, dict):
        return [], [f"{yaml_path} is not a mapping of sections; its folders are not scanned"]
    folders: list[ModelFolder] = []
    notes: list[str] = []
    for section, conf in data.items():
        if not isinstance(conf, dict):
            notes.append(f"{yaml_path}: section {section!r} is not a mapping; skipped")
            continue
        base = _yaml_path(conf.get("base_path") or ".", yaml_path.parent)
        for category, value in conf.items():
            kinds = COMFYUI_CATEGORIES.get(str(category))
            if kinds is None or value is None:
                continue  # base_path, is_default, upscale_models, ...: nothing this tool uses
            for line in str(value).splitlines():
                if line.strip():
                    folder = _yaml_path(line.strip(), base)
                    folders.append(ModelFolder(folder, kinds, f"extra_model_paths.yaml {section}.{category}"))
                    if not folder.is_dir():
                        notes.append(f"{folder} (extra_model_paths.yaml {section}.{category}) does not exist")
    return folders, notes


def _yaml_path(text: str, relative_to: Path) -> Path:
    path = Path(os.path.expandvars(str(text))).expanduser()
    return path if path.is_absolute() else (relative_to / path)


def current_roots(user_roots: list[str]) -> list[ModelRoot]:
    """Every root in search order: the store, then ANIMATEDIFF_STUDIO_MODEL_DIRS, then the user's roots."""
    roots = [store_root(), *(describe_root(p, "env") for p in extra_model_dirs()),
             *(describe_root(Path(p), "user") for p in user_roots)]
    seen: set[Path] = set()
    unique = []
    for root in roots:
        if root.path not in seen:
            seen.add(root.path)
            unique.append(root)
    return unique

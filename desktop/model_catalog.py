"""What the views need to know about model files: the groups they are shown in, their labels, sizes.

Pure functions over `backend.client.ModelFile` lists (no Qt, no I/O), shared by the Generate and Models views.
The service names a file's kind in one of two vocabularies: the store folder it sits in (`checkpoints`, ...)
or, with the model manager, what its contents are (`sd15-base`, `motion-lora`, ... and `unknown`/`unsafe`/
`corrupt` for files it cannot use). Both map to the same groups here.
"""

from __future__ import annotations

from collections.abc import Iterable

from backend.client import ModelFile

# Store folders (the groups a file can be imported into, and the `?kind=` a picker asks for), in the order a
# user needs them, with the words the UI shows.
FOLDER_LABELS: dict[str, str] = {
    "checkpoints": "Checkpoints (SD1.5 base)",
    "motion-modules": "Motion modules",
    "motion-loras": "MotionLoRAs (camera moves)",
    "loras": "Image LoRAs",
    "domain-adapters": "Domain adapters",
    "sparsectrl": "SparseCtrl",
    "vae": "VAEs",
}
FOLDERS: tuple[str, ...] = tuple(FOLDER_LABELS)
# Detected kinds -> their folder group; the others get a group of their own (labels below).
DETECTED_FOLDER: dict[str, str] = {
    "sd15-base": "checkpoints", "motion-module": "motion-modules", "motion-lora": "motion-loras", "lora": "loras",
    "domain-adapter": "domain-adapters", "sparsectrl": "sparsectrl", "vae": "vae",
}
OTHER_LABELS: dict[str, str] = {
    "sdxl-base": "SDXL checkpoints (AnimateDiff here needs SD1.5)",
    "sd2-base": "SD2 checkpoints (AnimateDiff here needs SD1.5)",
    "embedding": "Textual-inversion embeddings", "embeddings": "Textual-inversion embeddings",
    "unknown": "Not recognised", "unsafe": "Refused: unsafe pickles", "corrupt": "Damaged files",
}


KIND_WORDS: dict[str, str] = {
    "sd15-base": "SD1.5 checkpoint", "sdxl-base": "SDXL checkpoint", "sd2-base": "SD2 checkpoint",
    "motion-module": "motion module", "motion-lora": "MotionLoRA", "domain-adapter": "domain adapter",
    "lora": "image LoRA", "sparsectrl": "SparseCtrl model", "vae": "VAE", "embedding": "embedding",
}


def kind_words(kind: str) -> str:
    """What a detected kind is, in words: `motion-lora` -> "MotionLoRA"."""
    return KIND_WORDS.get(kind, kind)


def group_of(kind: str) -> str:
    """The group a listed kind belongs to: its store folder, or the kind itself (SDXL, unknown, ...)."""
    return DETECTED_FOLDER.get(kind, kind)


def group_label(group: str) -> str:
    return FOLDER_LABELS.get(group) or OTHER_LABELS.get(group) or group


def group_by_kind(models: Iterable[ModelFile]) -> dict[str, list[ModelFile]]:
    """Every store folder (empty ones too: they are where a dropped file goes), then any other group listed."""
    groups: dict[str, list[ModelFile]] = {folder: [] for folder in FOLDERS}
    for model in models:
        groups.setdefault(group_of(model.kind), []).append(model)
    for files in groups.values():
        files.sort(key=lambda m: m.name.lower())
    return groups


def human_size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size_bytes} B"

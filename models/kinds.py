"""The vocabulary of model kinds: what the detector reports, and the store-folder names that alias them.

Two naming schemes meet here. The detector reports what a file *is* (`sd15-base`, `motion-lora`, ...);
the tool's store and the request fields name *folders* (`checkpoints`, `motion-loras`, ...), and the front
ends already filter pickers by folder name. Both are accepted wherever a kind is asked for.
"""

from __future__ import annotations

from models.errors import InvalidInputError

# What `detect` reports. The last three are not models a request can use: they say why.
DETECTED_KINDS: tuple[str, ...] = (
    "sd15-base", "sdxl-base", "sd2-base", "motion-module", "motion-lora", "domain-adapter", "lora", "sparsectrl",
    "vae", "embedding", "unknown", "unsafe", "corrupt",
)
BASE_KINDS = frozenset({"sd15-base", "sdxl-base", "sd2-base"})
PROBLEM_KINDS = frozenset({"unknown", "unsafe", "corrupt"})

# Store folder (also the `kind` argument of `resolve_model`) -> the detected kinds it holds.
STORE_FOLDER_KINDS: dict[str, frozenset[str]] = {
    "checkpoints": BASE_KINDS,
    "motion-modules": frozenset({"motion-module"}),
    "motion-loras": frozenset({"motion-lora"}),
    "loras": frozenset({"lora"}),
    "domain-adapters": frozenset({"domain-adapter"}),
    "sparsectrl": frozenset({"sparsectrl"}),
    "vae": frozenset({"vae"}),
    "embeddings": frozenset({"embedding"}),
}

# `?kind=<folder>` in a listing filters to what a picker for that field can use: SDXL/SD2 bases are left
# out of `checkpoints` (they are listed under their own kind and explained by the pre-flight check).
LIST_ALIASES: dict[str, frozenset[str]] = {
    **STORE_FOLDER_KINDS, "checkpoints": frozenset({"sd15-base"}),
}


def store_folder_for(kind: str) -> str | None:
    """The store folder a file of this detected kind is imported into; None for problem kinds."""
    for folder, kinds in STORE_FOLDER_KINDS.items():
        if kind in kinds:
            return folder
    return None


def kinds_for_filter(kind: str, field: str = "kind") -> frozenset[str]:
    """The detected kinds a `kind` filter selects: a detected kind itself, or a store-folder alias."""
    if kind in DETECTED_KINDS:
        return frozenset({kind})
    if kind in LIST_ALIASES:
        return LIST_ALIASES[kind]
    raise InvalidInputError(
        f"{field}: {kind!r} is not accepted; expected a model kind ({', '.join(DETECTED_KINDS)}) or a store folder "
        f"({', '.join(LIST_ALIASES)})",
        field=field,
    )


def describe_kind(kind: str) -> str:
    """A few words for messages: 'a MotionLoRA', 'an SDXL base model', ..."""
    return {
        "sd15-base": "an SD1.5 base model", "sdxl-base": "an SDXL base model", "sd2-base": "an SD2 base model",
        "motion-module": "a motion module", "motion-lora": "a MotionLoRA", "domain-adapter": "a domain adapter",
        "lora": "an image LoRA", "sparsectrl": "a SparseCtrl model", "vae": "a VAE", "embedding":
        "a textual-inversion embedding", "unknown": "not a model this tool knows", "unsafe": "an unsafe pickle",
        "corrupt": "a damaged file",
    }.get(kind, kind)

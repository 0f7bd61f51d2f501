"""The official AnimateDiff files: names, kinds, sizes and where to get them, and whether each is on disk.

So that a missing camera move (or module) says exactly which file to fetch and where it goes. Files come from
the authors' Hugging Face repository `guoyww/animatediff`. Sizes are approximate (as the hub lists them) and
only shown to the user before a download; detection never relies on a file's name or size.

Downloads go through `huggingface_hub` and only when the user asks and is online: the tool runs with
`HF_HUB_OFFLINE=1` by default, so `HF_HUB_OFFLINE=0 animatediff-studio models download zoom-in` is the
explicit opt-in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.camera import CAMERA_MOVES, OFFICIAL_MOTION_LORAS
from models.errors import DownloadUnavailableError, InvalidInputError
from models.kinds import store_folder_for
from models.paths import store_dir

HF_REPO = "guoyww/animatediff"
_MB = 1_000_000


@dataclass(frozen=True)
class OfficialFile:
    file: str
    kind: str
    version: str | None
    approx_size_bytes: int
    description: str
    camera_move: str | None = None

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{HF_REPO}/resolve/main/{self.file}"

    @property
    def store_folder(self) -> Path:
        folder = store_folder_for(self.kind)
        assert folder is not None
        return store_dir(folder)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "kind": self.kind, "version": self.version, "camera_move": self.camera_move,
                "approx_size_bytes": self.approx_size_bytes, "description": self.description, "url": self.url,
                "store_folder": str(self.store_folder)}


OFFICIAL_FILES: tuple[OfficialFile, ...] = (
    OfficialFile("mm_sd_v14.ckpt", "motion-module", "v1", 1_670 * _MB, "first release, 24-frame position table"),
    OfficialFile("mm_sd_v15.ckpt", "motion-module", "v1", 1_670 * _MB, "v1 trained on SD1.5"),
    OfficialFile("mm_sd_v15_v2.ckpt", "motion-module", "v2", 1_820 * _MB,
                 "v2 with a mid-block module; the official MotionLoRAs are made for it"),
    OfficialFile("v3_sd15_mm.ckpt", "motion-module", "v3", 1_670 * _MB,
                 "v3, used with the domain adapter and SparseCtrl"),
    OfficialFile("mm_sdxl_v10_beta.ckpt", "motion-module", "sdxl", 950 * _MB, "SDXL beta (not usable with SD1.5)"),
    *(OfficialFile(file, "motion-lora", "v2", 77 * _MB, f"camera move {move} for the v2 module", camera_move=move)
      for move, file in OFFICIAL_MOTION_LORAS.items()),
    OfficialFile("v3_sd15_adapter.ckpt", "domain-adapter", "v3", 102 * _MB, "v3 domain adapter (LoRA on the base)"),
    OfficialFile("v3_sd15_sparsectrl_rgb.ckpt", "sparsectrl", "rgb", 1_990 * _MB, "SparseCtrl with RGB keyframes"),
    OfficialFile("v3_sd15_sparsectrl_scribble.ckpt", "sparsectrl", "scribble", 1_990 * _MB,
                 "SparseCtrl with scribble keyframes"),
)


def find_official(name: str, field: str = "name") -> OfficialFile:
    """An official file by file name, name without extension, or camera move."""
    for entry in OFFICIAL_FILES:
        if name in (entry.file, entry.file.rsplit(".", 1)[0], entry.camera_move):
            return entry
    raise InvalidInputError(
        f"{field}: {name!r} is not an official AnimateDiff file or camera move; accepted: "
        f"{', '.join(e.file for e in OFFICIAL_FILES)}, or a camera move ({', '.join(CAMERA_MOVES)})",
        field=field,
    )


def official_for_move(move: str) -> OfficialFile:
    return next(e for e in OFFICIAL_FILES if e.camera_move == move)


def where_to_get(entry: OfficialFile) -> str:
    """The sentence that ends every 'missing file' message."""
    return (f"download {entry.file} (about {entry.approx_size_bytes / 1e6:,.0f} MB) from {entry.url} into "
            f"{entry.store_folder}, or run `HF_HUB_OFFLINE=0 animatediff-studio models download {entry.file}`")


def offline() -> bool:
    """huggingface_hub's own reading of HF_HUB_OFFLINE (1/true/yes/on), which the CLI sets by default."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def download_official(entry: OfficialFile) -> Path:
    """Fetch an official file into its store folder through huggingface_hub; refuses while offline."""
    if offline():
        raise DownloadUnavailableError(
            f"name: {entry.file} cannot be downloaded while offline (HF_HUB_OFFLINE is set; this tool sets it by "
            f"default so nothing is fetched behind your back). {where_to_get(entry)}",
            field="name",
        )
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - a dependency of diffusers, so always there in practice
        raise DownloadUnavailableError(f"name: huggingface_hub is not installed; {where_to_get(entry)}",
                                       field="name") from exc
    entry.store_folder.mkdir(parents=True, exist_ok=True)
    return Path(hf_hub_download(repo_id=HF_REPO, filename=entry.file, local_dir=entry.store_folder))

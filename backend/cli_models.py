"""`animatediff-studio models ...`: the model manager from the command line.

    models scan [--no-hash]                  index every root (hashes what changed)
    models list [--kind K] [--json]          indexed models (kinds or store-folder names: checkpoints, motion-modules)
    models info FILE|NAME [--json]           kind, base family, version, size, sha256, notes
    models roots | add-root DIR | remove-root DIR
    models import FILE [--link] [--name N]   into the tool's store, filed by detected kind
    models remove NAME [--kind K]            from the store only
    models check --base X --motion-module Y [--motion-lora F[:W]] [--camera MOVE[:S]] ...   pre-flight
    models camera-moves | catalog            the official files and which are here
    models download NAME|MOVE                an official file (needs HF_HUB_OFFLINE=0: the tool is offline by default)

Exit status: 0 fine; 1 `check` found errors; 2 the command itself failed (the error names field and value).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.cli_generate import weighted  # FILE:WEIGHT, the same syntax as `generate`


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="find, identify, import and check model files",
                       description="The model manager: what model files are on this machine, what each one is, and "
                                   "whether a combination will work.")
    cmds = p.add_subparsers(dest="models_command", required=True)

    s = cmds.add_parser("scan", help="index every root; hash new and changed files")
    s.add_argument("--no-hash", action="store_true", help="detect only (SHA-256s stay empty until a later scan)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_scan)

    s = cmds.add_parser("list", help="indexed models")
    s.add_argument("--kind", help="a kind (sd15-base, motion-module, motion-lora, ...) or store folder (checkpoints, "
                                  "motion-modules, ...)")
    s.add_argument("--all", action="store_true", help="also files whose name an earlier root already uses")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_list)

    s = cmds.add_parser("info", help="what a file is: kind, base family, version, size, sha256, notes")
    s.add_argument("model", help="a path, or a model name from `models list`")
    s.add_argument("--no-hash", action="store_true", help="skip the SHA-256 (instant for multi-GB files)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_info)

    s = cmds.add_parser("roots", help="where models are searched, in order")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_roots)
    s = cmds.add_parser("add-root", help="search a folder too (a ComfyUI or A1111 install is recognised)")
    s.add_argument("path", type=Path)
    s.set_defaults(func=_add_root)
    s = cmds.add_parser("remove-root", help="stop searching a folder added with add-root (its files stay)")
    s.add_argument("path", type=Path)
    s.set_defaults(func=_remove_root)

    s = cmds.add_parser("import", help="copy (or link) a model into the tool's store, in the folder of its kind")
    s.add_argument("path", type=Path)
    s.add_argument("--link", action="store_true", help="a symbolic link instead of a copy")
    s.add_argument("--name", help="store it under this name (default: the file's own name)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_import)

    s = cmds.add_parser("remove", help="delete a model from the tool's store (never from other roots)")
    s.add_argument("name")
    s.add_argument("--kind", help="which one, when the name is used by models of several kinds")
    s.set_defaults(func=_remove)

    s = cmds.add_parser("check", help="will these models work together? (nothing is loaded)")
    s.add_argument("--base")
    s.add_argument("--motion-module")
    s.add_argument("--motion-lora", action="append", default=[], metavar="FILE:STRENGTH")
    s.add_argument("--camera", action="append", default=[], metavar="MOVE:STRENGTH")
    s.add_argument("--lora", action="append", default=[], metavar="FILE:WEIGHT")
    s.add_argument("--domain-adapter", metavar="FILE:SCALE")
    s.add_argument("--sparsectrl", metavar="FILE:STRENGTH")
    s.add_argument("--frames", type=int, help="frames the module attends over at once (the clip or its window)")
    s.add_argument("--scheduler")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_check)

    s = cmds.add_parser("camera-moves", help="each camera move, the MotionLoRA it needs, and whether it is here")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_camera_moves)
    s = cmds.add_parser("catalog", help="the official AnimateDiff files, and which are here")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_catalog)
    s = cmds.add_parser("download", help="fetch an official file into the store (run with HF_HUB_OFFLINE=0)")
    s.add_argument("name", help="file name (v3_sd15_mm.ckpt) or camera move (zoom-in)")
    s.set_defaults(func=_download)


def _manager():  # noqa: ANN202 - imported late: `--help` must not open the index
    from models.manager import ModelManager

    return ModelManager()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _byte_bar(what: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A byte progress bar on stderr (shown on terminals only) and its closer."""
    from tqdm import tqdm

    bar = tqdm(desc=what, unit="B", unit_scale=True, file=sys.stderr, disable=None, leave=False)
    return bar.update, bar.close


def _scan(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    bar = tqdm(desc="hashing", unit="B", unit_scale=True, file=sys.stderr, disable=None, leave=False)

    def show(p: Any) -> None:
        if p.phase == "hashing":
            bar.total = p.bytes_total
            bar.n = p.bytes_done
            bar.set_postfix_str(Path(p.path).name if p.path else "", refresh=True)

    manager = _manager()
    try:
        report = manager.scan(hash_files=not args.no_hash, progress=show)
    finally:
        bar.close()
        manager.close()
    if args.json:
        _print_json(report.to_dict())
        return 0
    print(f"{report.files} model files: {report.added} new, {report.changed} changed, {report.unchanged} unchanged, "
          f"{report.removed} gone; hashed {report.hashed} ({_size(report.hashed_bytes)}) in {report.seconds:.1f} s")
    for problem in report.problems:
        print(f"  ! {problem}")
    return 0


def _list(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        records = manager.list(args.kind, shadowed=args.all)
    finally:
        manager.close()
    if args.json:
        _print_json([r.to_dict() for r in records])
        return 0
    rows = [(r.name, r.kind, r.info.version or "", r.info.base_family or "", _size(r.size_bytes), r.path)
            for r in records]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(("NAME", "KIND", "VERSION",
                                                                                   "FAMILY", "SIZE"))]
    for row in [("NAME", "KIND", "VERSION", "FAMILY", "SIZE", "PATH"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
    if not rows:
        print("(no models; add a folder with `animatediff-studio models add-root DIR`)")
    return 0


def _info(args: argparse.Namespace) -> int:
    manager = _manager()
    update, close = _byte_bar("hashing")
    try:
        record = manager.info(args.model, hash_file=not args.no_hash, progress=update)
    finally:
        close()
        manager.close()
    data = record.to_dict()
    if args.json:
        _print_json(data)
        return 0
    for key in ("name", "kind", "version", "base_family", "camera_move", "format", "layout", "precision", "path",
                "sha256"):
        if data.get(key) is not None:
            print(f"{key:12} {data[key]}")
    print(f"{'size':12} {_size(record.size_bytes)} ({record.size_bytes} bytes)")
    for note in data["notes"]:
        print(f"  - {note}")
    return 0


def _roots(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        roots = manager.roots()
    finally:
        manager.close()
    if args.json:
        _print_json([r.to_dict() for r in roots])
        return 0
    for root in roots:
        print(f"{root.path}  ({root.source}, {root.layout})")
        for folder in root.folders:
            if folder.path.is_dir():
                print(f"    {folder.path}  [{', '.join(sorted(folder.kinds)) or 'any kind'}]")
        for note in root.notes:
            print(f"    ! {note}")
    return 0


def _add_root(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        root = manager.add_root(args.path)
        found = [r for r in manager.list(refresh=False) if r.root == str(root.path)]
    finally:
        manager.close()
    print(f"added {root.path} ({root.layout}): {len(found)} model files; `models scan` computes their hashes")
    for note in root.notes:
        print(f"  ! {note}")
    return 0


def _remove_root(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        manager.remove_root(args.path)
    finally:
        manager.close()
    print(f"removed {args.path} from the roots (its files are untouched)")
    return 0


def _import(args: argparse.Namespace) -> int:
    manager = _manager()
    update, close = _byte_bar("copying")
    try:
        result = manager.import_file(args.path, link=args.link, name=args.name, progress=update)
    finally:
        close()
        manager.close()
    if args.json:
        _print_json({"outcome": result.outcome, **result.record.to_dict()})
        return 0
    print(f"{result.outcome}: {result.record.path} ({result.record.kind}); use it as {result.record.name!r}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        record = manager.remove(args.name, args.kind)
    finally:
        manager.close()
    print(f"removed {record.path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from models.preflight import check_names

    report = check_names(
        base=args.base, motion_module=args.motion_module, motion_loras=[weighted(m) for m in args.motion_lora],
        camera=[weighted(c) for c in args.camera], loras=[weighted(lo) for lo in args.lora],
        domain_adapter=weighted(args.domain_adapter) if args.domain_adapter else None,
        sparsectrl=weighted(args.sparsectrl) if args.sparsectrl else None, frames=args.frames,
        scheduler=args.scheduler)
    if args.json:
        _print_json(report.to_dict())
    else:
        for name, model in report.models.items():
            print(f"{name:18} {model.info.kind} {model.info.version or ''}  {model.path}")
        for issue in report.errors:
            print(f"error [{issue.code}] {issue.message}")
        for issue in report.warnings:
            print(f"warning [{issue.code}] {issue.message}")
        print("OK: these models work together" if report.ok else f"{len(report.errors)} error(s): fix them first")
    return 0 if report.ok else 1


def _camera_moves(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        moves = manager.camera_moves()
    finally:
        manager.close()
    if args.json:
        _print_json(moves)
        return 0
    for m in moves:
        where = m["path"] if m["present"] else f"missing: get {m['url']} into {m['store_folder']}"
        print(f"{m['move']:20} {m['file']:34} {where}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        entries = manager.catalog()
    finally:
        manager.close()
    if args.json:
        _print_json([{**entry.to_dict(), "present": path is not None, "path": path} for entry, path in entries])
        return 0
    for entry, path in entries:
        print(f"{entry.file:34} {entry.kind:15} {entry.version or '':9} ~{_size(entry.approx_size_bytes):9} "
              f"{path or 'not here: ' + entry.url}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from models.catalog import download_official, find_official

    path = download_official(find_official(args.name))
    manager = _manager()
    try:
        record = manager.info(str(path))
    finally:
        manager.close()
    print(f"downloaded {record.path} ({record.kind} {record.info.version or ''})")
    return 0

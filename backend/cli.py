"""`animatediff-studio` command line. Sub-commands import their heavy modules only when they run."""

from __future__ import annotations

import argparse
import sys

from backend import __version__
from backend.cli_build_addon import add_build_addon_parser
from backend.cli_generate import add_generate_parser
from backend.cli_models import add_models_parser
from backend.cli_serve import add_serve_parser
from backend.cli_train import add_train_parser
from backend.runtime import configure_offline_runtime
from desktop.cli import add_desktop_parser
from models.errors import StudioError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="animatediff-studio", description="Animate your SD1.5 models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_generate_parser(sub)
    add_serve_parser(sub)
    add_train_parser(sub)
    add_models_parser(sub)
    add_build_addon_parser(sub)
    add_desktop_parser(sub)
    from backend.bench import add_bench_parser
    from backend.bench_frames import add_bench_frames_parser
    from backend.bench_memory import add_bench_memory_parser

    add_bench_parser(sub)
    add_bench_frames_parser(sub)
    add_bench_memory_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_offline_runtime()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StudioError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`animatediff-studio desktop`: open the desktop app (standard library only until it runs).

Registered by `backend.cli.build_parser`; parsing must not import Qt or torch, so `run_desktop` imports the
app only once the sub-command was chosen.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_desktop_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `desktop` sub-command to the `animatediff-studio` parser."""
    p = sub.add_parser("desktop", help="open the desktop app",
                       description="Open the desktop app; it attaches to a running service or starts one.")
    p.add_argument("--selftest", type=Path, metavar="DIR",
                   help="open every view against the backend, run one short generation, save a screenshot of "
                        "each view to DIR and exit (0 when everything worked)")
    p.add_argument("--selftest-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="give up the self-test after this long (default 600)")
    p.add_argument("--settings", type=Path, metavar="FILE",
                   help="settings file (default: desktop.ini in the user config directory)")
    p.set_defaults(func=run_desktop)


def run_desktop(args: argparse.Namespace) -> int:
    """Run the Qt app until its window closes (or the self-test ends); returns the exit status."""
    from desktop.app import run_app

    return run_app(selftest_dir=args.selftest, selftest_timeout=args.selftest_timeout, settings_path=args.settings)

"""`python -m desktop` and the PyInstaller bundle's entry point.

With no sub-command it opens the app (`desktop`), so a double-click starts it; with one (`serve`, `generate`,
`bench`, `desktop --selftest DIR`) it runs the CLI, which is how the app starts its embedded backend from the
bundle (`<bundle>/AnimateDiffStudio serve --port 7865`).
"""

from __future__ import annotations

import sys

from backend.cli import main


def entry(argv: list[str] | None = None) -> int:
    """Run the CLI; no arguments, or only the app's options, mean `desktop`."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Sub-commands never start with "-": `AnimateDiffStudio --selftest DIR` is `... desktop --selftest DIR`.
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "desktop")
    return main(args)


if __name__ == "__main__":
    sys.exit(entry())

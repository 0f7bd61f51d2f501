#!/usr/bin/env bash
# Set up everything (a virtualenv in .venv with torch, the package and its test tools) and run the
# whole test suite. Safe to run again: an existing .venv and torch are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
# torch first, by itself: a CPU machine takes the CPU wheel; GPU users set TORCH_SPEC (see README).
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install -q "$TORCH_SPEC"
python -m pip install -q -e ".[test]"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
ruff check .
python -m pytest -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Set up .venv if needed, then run `animatediff-studio` with these arguments, offline.
# e.g. bash scripts/run.sh generate "a red circle moving right" --out clip   (the built-in model)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "${VENV:-.venv}/bin/animatediff-studio" "$@"

#!/usr/bin/env bash
# Set up everything and run the whole test suite. Safe to run again: existing venvs and torch are kept.
#   .venv          torch + the package + test tools: the backend, the client, the desktop app
#   .venv-blender  Blender's Python module (bpy 4.5 LTS from PyPI) + pytest: the add-on, as Blender runs it
# With arguments, they go to pytest: tests under tests/addon run in .venv-blender, the others in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
BLENDER_VENV="${BLENDER_VENV:-.venv-blender}"
PYTHON="${PYTHON:-python3}"
BPY_SPEC="${BPY_SPEC:-bpy==4.5.*}"

bash scripts/setup.sh

# The add-on runs inside Blender's own Python, never beside torch: its tests get a venv of their own.
[ -x "$BLENDER_VENV/bin/python" ] || "$PYTHON" -m venv "$BLENDER_VENV"
"$BLENDER_VENV/bin/python" -c "import bpy" 2>/dev/null || "$BLENDER_VENV/bin/python" -m pip install -q "$BPY_SPEC" pytest

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 QT_QPA_PLATFORM=offscreen
# The add-on tests start the backend with this interpreter, as a user's add-on preferences would.
export ANIMATEDIFF_STUDIO_BACKEND_PYTHON="$PWD/$VENV/bin/python"
"$VENV/bin/ruff" check .

main_args=() addon_args=()
for arg in "$@"; do
  case "$arg" in tests/addon*) addon_args+=("$arg") ;; *) main_args+=("$arg") ;; esac
done
if [ $# -eq 0 ]; then
  main_args=() addon_args=(tests/addon)
fi
status=0
if [ $# -eq 0 ] || [ ${#main_args[@]} -gt 0 ]; then
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${main_args[@]}" || status=$?
fi
if [ ${#addon_args[@]} -gt 0 ] && [ -d tests/addon ]; then
  # bpy 4.5 hangs at exit if a timer is left registered: a hang must fail the run, not stall CI.
  timeout 1200 "$BLENDER_VENV/bin/python" -m pytest -q -p no:cacheprovider "${addon_args[@]}" || status=$?
fi
exit $status

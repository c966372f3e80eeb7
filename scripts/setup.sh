#!/usr/bin/env bash
# Creates .venv and installs the project into it (with the dev extras when asked: `setup.sh dev`).
# Re-running is cheap: it reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv 2>/dev/null || python3 -m venv --without-pip .venv
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setting up .venv (${extras:-runtime}) ..." >&2
  .venv/bin/python -m pip install -q --upgrade pip >&2
  if [ -n "$extras" ]; then
    .venv/bin/python -m pip install -q -e ".[$extras]" >&2
  else
    .venv/bin/python -m pip install -q -e . >&2
  fi
  touch "$stamp"
fi

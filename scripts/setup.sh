#!/usr/bin/env bash
# Creates .venv and installs the project into it at the exact versions of a lock file (hashes checked):
#   setup.sh       the demo: the control tower with its dashboard on SQLite (requirements/demo.lock)
#   setup.sh full  every extra: PostgreSQL, the llm planner, the dashboard (requirements/full.lock)
#   setup.sh dev   what CI runs: every extra and the development tools (requirements/dev.lock)
#   setup.sh mutation  dev and mutmut, for scripts/mutation.sh (requirements/mutation.lock)
# scripts/lock.sh writes the locks from pyproject.toml. Re-running is cheap: it reinstalls only when
# pyproject.toml or the lock changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-demo}"
lock="requirements/$profile.lock"
if [ ! -f "$lock" ]; then
  echo "setup.sh: no lock file $lock; the profiles are: $(cd requirements && ls -- *.lock | sed 's/\.lock$//' | xargs)" >&2
  exit 2
fi
python3 -m venv .venv 2>/dev/null || python3 -m venv --without-pip .venv
stamp=".venv/.installed-$profile"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  echo "setting up .venv ($profile, from $lock) ..." >&2
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q --require-hashes -r "$lock" >&2
  .venv/bin/python -m pip install -q --no-deps -e . >&2  # the project itself; its dependencies came from the lock
  touch "$stamp"
fi

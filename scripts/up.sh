#!/usr/bin/env bash
# Sets up and runs the control tower on its embedded defaults: SQLite, the rules planner, a seeded simulation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tower up --seed 7 --orders 300 --scenario hub-disruption --db sqlite:///tower.db "$@"

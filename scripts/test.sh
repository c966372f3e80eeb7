#!/usr/bin/env bash
# Sets up and runs every check CI runs: lint, the test suite, the example eval suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== pytest" >&2
.venv/bin/pytest "$@"
if [ -d ../shared/cases ]; then
  echo "== tower eval run ../shared/cases" >&2
  .venv/bin/tower eval run ../shared/cases --report artifacts/eval-shared.json
  echo "== tower eval run ../shared/cases --planner llm (replayed from cassettes, no network)" >&2
  .venv/bin/tower eval run ../shared/cases --planner llm --cassettes evals/cassettes/shared \
    --report artifacts/eval-shared-llm.json
fi

#!/usr/bin/env bash
# Sets up and runs every check CI runs: lint, the type checker, the example eval suites, the test suite (browser
# tests on Debian's Chromium, installed here when missing and we are root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  echo "== apt-get install chromium (for the dashboard's browser tests)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== mypy (core, policies, tools, agents; settings in pyproject.toml)" >&2
.venv/bin/mypy
if [ -d ../shared/cases ]; then
  echo "== tower eval run ../shared/cases" >&2
  .venv/bin/tower eval run ../shared/cases --report artifacts/eval-shared.json
  echo "== tower eval run ../shared/cases --planner llm (replayed from cassettes, no network)" >&2
  .venv/bin/tower eval run ../shared/cases --planner llm --cassettes evals/cassettes/shared \
    --report artifacts/eval-shared-llm.json
fi
if [ -d ../shared/cases-then ]; then
  echo "== tower eval run ../shared/cases-then (cases that go on: OMS events and supervisors' decisions)" >&2
  .venv/bin/tower eval run ../shared/cases-then --report artifacts/eval-shared-then.json
  echo "== tower eval run ../shared/cases-then --planner llm (replayed from cassettes, no network)" >&2
  .venv/bin/tower eval run ../shared/cases-then --planner llm --cassettes evals/cassettes/then \
    --report artifacts/eval-shared-then-llm.json
fi
echo "== tower eval run evals/suites/then (the project's own cases that go on: events re-plan through the consumer)" >&2
.venv/bin/tower eval run evals/suites/then --report artifacts/eval-then.json
.venv/bin/tower eval run evals/suites/then --planner llm --cassettes evals/cassettes/suite-then \
  --report artifacts/eval-then-llm.json
if [ -d ../shared/cases-proposals ]; then
  echo "== tower eval run ../shared/cases-proposals (scripted planners: the judge against careless or hostile plans)" >&2
  .venv/bin/tower eval run ../shared/cases-proposals --report artifacts/eval-shared-proposals.json
fi
echo "== tower eval run evals/suites/redteam (the project's own scripted-planner cases, both planners)" >&2
.venv/bin/tower eval run evals/suites/redteam --report artifacts/eval-redteam.json
.venv/bin/tower eval run evals/suites/redteam --planner llm --report artifacts/eval-redteam-llm.json
# pytest runs last so that its summary line ends the output: that is the count CI reads.
echo "== pytest" >&2
.venv/bin/pytest "$@"

#!/usr/bin/env bash
# Mutation testing of the judge and the tools' guarded effects (issue 11): mutmut 3 over one source file at a
# time, each mutant run against the tests that reach it, then the score per file. Slow (minutes to hours a
# file on two cores): run it by hand before closing a change to policies/ or tools/, not in CI.
#
#   bash scripts/mutation.sh                        # every file of policies/, tools/effects.py, tools/runner.py
#   bash scripts/mutation.sh policies/preconditions.py policies/messages.py
#
# Each file is tested in a scratch copy of the tracked tree (nothing is written here but artifacts/mutation/):
# artifacts/mutation/<file>.survivors lists the surviving mutants (`mutmut show NAME` in the copy shows one);
# scripts/mutation-equivalent.txt names the survivors that are equivalent or unreachable, with a reason, and
# the score leaves them out. Environment: MUTATION_CHILDREN (parallel mutants, default 2), MUTATION_TESTS
# (the pytest selection, default by package below), MUTATION_KEEP=1 keeps the scratch copies.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/setup.sh mutation  # the dev tools and mutmut 3, at the versions of requirements/mutation.lock
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(policies/*.py tools/effects.py tools/runner.py)
fi
out="$ROOT/artifacts/mutation"
mkdir -p "$out"
children="${MUTATION_CHILDREN:-2}"
table="$out/scores.tsv"
printf 'file\tmutants\tkilled\tsurvived\tequivalent\tother\tscore\n' > "$table"

tests_for() {
  if [ -n "${MUTATION_TESTS:-}" ]; then echo "$MUTATION_TESTS"; return; fi
  case "$1" in
    policies/*) echo "tests/policies tests/agents/test_rules_planner.py tests/evals/test_proposals.py" ;;
    tools/*) echo "tests/tools tests/policies tests/agents/test_graph.py" ;;
    *) echo "tests" ;;
  esac
}

for file in "${files[@]}"; do
  case "$file" in */__init__.py) continue ;; esac
  [ -f "$file" ] || { echo "$file: no such file" >&2; exit 2; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/mutation.XXXXXX")
  git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work"
  [ -d "$ROOT/../shared" ] && ln -s "$(cd "$ROOT/../shared" && pwd)" "$work/shared"  # tests look for ../shared of the tree
  selection=$(tests_for "$file")
  {
    echo
    echo "[tool.mutmut]"
    echo "source_paths = [\"$(dirname "$file")\"]"
    echo "only_mutate = [\"$file\"]"
    echo 'also_copy = ["core", "policies", "tools", "agents", "evals", "api", "ui", "scripts"]'
    echo 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:xdist"]'
    printf 'pytest_add_cli_args_test_selection = [%s]\n' "$(printf '"%s", ' $selection | sed 's/, $//')"
  } >> "$work/pyproject.toml"
  name=$(echo "$file" | tr '/' '_')
  echo "== mutmut: $file (tests: $selection)" >&2
  started=$(date +%s)
  (cd "$work" && "$ROOT/.venv/bin/mutmut" run --max-children "$children" > "$out/$name.log" 2>&1) || {
    echo "$file: mutmut failed, see $out/$name.log" >&2; continue; }
  (cd "$work" && "$ROOT/.venv/bin/mutmut" results --all true > "$out/$name.results" 2>&1)
  seconds=$(( $(date +%s) - started ))
  "$ROOT/.venv/bin/python" - "$file" "$out/$name.results" "$ROOT/scripts/mutation-equivalent.txt" \
      "$out/$name.survivors" "$seconds" >> "$table" <<'EOF'
import sys
from collections import Counter
from pathlib import Path

file, results, equivalent_file, survivors_file, seconds = sys.argv[1:]
status = {}
for raw in Path(results).read_text().splitlines():
    if ":" in raw and raw.startswith("    "):
        key, _, value = raw.strip().rpartition(": ")
        status[key] = value
equivalent = set()
if Path(equivalent_file).is_file():
    for raw in Path(equivalent_file).read_text().splitlines():
        if raw.strip() and not raw.startswith("#"):
            equivalent.add(raw.split()[0])
counts = Counter(status.values())
survived = sorted(k for k, v in status.items() if v == "survived" and k not in equivalent)
eq = sum(1 for k, v in status.items() if v == "survived" and k in equivalent)
killed = counts["killed"] + counts["timeout"]
other = len(status) - killed - counts["survived"]
Path(survivors_file).write_text("".join(f"{k}\n" for k in survived))
scored = killed + len(survived)
score = f"{100 * killed / scored:.1f}%" if scored else "-"
print(f"{file}\t{len(status)}\t{killed}\t{len(survived)}\t{eq}\t{other}\t{score}")
print(f"{file}: {len(status)} mutants, {killed} killed, {len(survived)} survived, {eq} equivalent, "
      f"{other} other (no tests, suspicious), score {score} of the non-equivalent, in {seconds} s", file=sys.stderr)
EOF
  if [ "${MUTATION_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
done
column -t -s $'\t' "$table"

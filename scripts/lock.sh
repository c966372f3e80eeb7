#!/usr/bin/env bash
# Writes the lock files from pyproject.toml, every version pinned with its hashes (for any platform, Python 3.11+):
#   requirements/dev.lock   every extra and the development tools: what CI and `scripts/setup.sh dev` install
#   requirements/full.lock  every extra (postgres, llm, ui), no development tools: a deployment
#   requirements/demo.lock  the project with its dashboard (the `ui` extra): what `scripts/up.sh` installs
#   requirements/mutation.lock  dev and mutmut: what `scripts/mutation.sh` installs
# The others are resolved within dev.lock, so every profile has the same version of each package.
# uv keeps every version a lock already pins and resolves only what pyproject.toml changed; `lock.sh --upgrade`
# (or `--upgrade-package NAME`) moves to the newest allowed. Run scripts/test.sh after: the locks are the
# versions the tests passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev  # uv comes with the dev extra
compile=(.venv/bin/uv pip compile pyproject.toml --python-version 3.11 --universal --generate-hashes --quiet
         --custom-compile-command "bash scripts/lock.sh")
"${compile[@]}" --extra dev -o requirements/dev.lock "$@"
"${compile[@]}" --extra postgres --extra llm --extra ui -c requirements/dev.lock -o requirements/full.lock
"${compile[@]}" --extra ui -c requirements/dev.lock -o requirements/demo.lock
"${compile[@]}" --extra dev --extra mutation -c requirements/dev.lock -o requirements/mutation.lock

"""pyproject.toml declares every distribution the code imports, each where it is needed, and nothing unused.

Imports are read from the source and mapped to the installed distribution whose files hold each module. What
the packages import when they load must come with `pip install .` (the base dependencies); a module that only
runs with an extra (the llm planner, the dashboard, the PostgreSQL test fixtures) may also use that extra;
lazy imports, tests, scripts and benchmarks may use any extra.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "policies", "tools", "agents", "evals", "api", "ui")
ELSEWHERE = ("tests", "scripts", "bench")
EXTRA_ONLY = {"agents/planners/llm.py": "llm", "api/testing.py": "postgres", "ui/": "ui"}
"""Package modules that load only where their extra is installed."""
COMMANDS = {"pytest-xdist", "ruff", "mypy", "uv", "mutmut"}
"""Declared and run as commands (pytest -n, scripts/test.sh, scripts/lock.sh, scripts/mutation.sh), never imported."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """Distribution names by group: `base` and each extra (the project's own name left out)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"base": project["dependencies"], **project["optional-dependencies"]}
    names = {group: {_canonical(re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0]) for req in reqs}
             for group, reqs in groups.items()}
    return {group: found - {_canonical(project["name"])} for group, found in names.items()}


@cache
def _owners() -> dict[str, str]:
    """Dotted module name -> the installed distribution whose files hold it."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"])
        for f in dist.files or ():
            if f.suffix == ".py" and ".." not in f.parts:
                parts = f.with_suffix("").parts
                out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = name
    return out


def _local_modules() -> set[str]:
    return set(PACKAGES) | {p.stem for d in ELSEWHERE for p in (ROOT / d).rglob("*.py")} | set(ELSEWHERE)


def _imports(tree: ast.AST, *, at_load: bool) -> Iterator[str]:
    """Absolute imports; with `at_load`, only those a module runs when it is imported (not inside functions)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        if not (at_load and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)):
            yield from _imports(node, at_load=at_load)


def _distributions(folder: str, *, at_load: bool) -> dict[str, set[str]]:
    """Third-party distributions imported by the source files under `folder`, by file."""
    local, owners, out = _local_modules(), _owners(), {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        found = set()
        for module in _imports(ast.parse(path.read_text(encoding="utf-8")), at_load=at_load):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names or top in local or top == "__future__":
                continue
            prefixes = [".".join(module.split(".")[:n]) for n in range(module.count(".") + 1, 0, -1)]
            found.add(next((owners[p] for p in prefixes if p in owners), f"<nothing installed holds {module}>"))
        out[path.relative_to(ROOT).as_posix()] = found
    return out


def _extra_of(path: str) -> str | None:
    return next((extra for prefix, extra in EXTRA_ONLY.items() if path.startswith(prefix)), None)


def test_what_the_packages_import_when_they_load_comes_with_the_base_install_or_their_own_extra() -> None:
    declared = _declared()
    missing = {path: sorted(dists - declared["base"] - declared.get(_extra_of(path) or "base", set()))
               for folder in PACKAGES for path, dists in _distributions(folder, at_load=True).items()}
    assert {path: dists for path, dists in missing.items() if dists} == {}


def test_every_imported_distribution_is_declared() -> None:
    declared = set().union(*_declared().values())
    undeclared = {path: sorted(dists - declared) for folder in (*PACKAGES, *ELSEWHERE)
                  for path, dists in _distributions(folder, at_load=False).items()}
    assert {path: dists for path, dists in undeclared.items() if dists} == {}


def test_every_declared_distribution_is_imported_or_run_as_a_command() -> None:
    used = {d for folder in (*PACKAGES, *ELSEWHERE) for dists in _distributions(folder, at_load=False).values()
            for d in dists}
    declared = set().union(*_declared().values())
    assert sorted(declared - used - COMMANDS) == []

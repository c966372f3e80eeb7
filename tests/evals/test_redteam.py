"""The red-team suite (evals/suites/redteam/) is what scripts/make_redteam.py writes, and every case scripts
its planner: it tests the judge and the tools whatever planner runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from evals.loader import load_suite

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "evals" / "suites" / "redteam"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("make_redteam", ROOT / "scripts" / "make_redteam.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_suite_is_what_the_generator_writes() -> None:
    assert _generator().main(["--check"]) == 0  # type: ignore[attr-defined]


def test_every_case_scripts_its_planner_and_there_are_at_least_40() -> None:
    cases = load_suite([SUITE]).cases
    assert len(cases) >= 40
    assert all(item.case.proposals is not None for item in cases)
    assert len({item.case.id for item in cases}) == len(cases)

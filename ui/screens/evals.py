"""Evals: the latest report of `tower eval run --report FILE`, by exception type and by rule."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from ui.state import show_flash
from ui.views import table

DEFAULT_REPORT = "artifacts/eval-shared.json"

st.title("Evals")
show_flash()
path = st.text_input("Report", value=os.environ.get("TOWER_EVAL_REPORT", DEFAULT_REPORT), key="evals_path",
                     help="written by `tower eval run CASES --report FILE`; default from TOWER_EVAL_REPORT").strip()
try:
    report: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = report["cases"]
except (OSError, ValueError, KeyError) as err:
    st.warning(f"No readable report at {path!r} ({type(err).__name__}: {err}). "
               "Write one with `tower eval run ../shared/cases --report artifacts/eval-shared.json`.")
    st.stop()

s = report.get("summary", {})
cols = st.columns(4)
cols[0].metric("Cases", s.get("cases", len(cases)))
cols[1].metric("Passed", s.get("passed", sum(x["passed"] for x in cases)))
cols[2].metric("Failed", s.get("failed", sum(not x["passed"] for x in cases)))
cols[3].metric("Policy violations", s.get("policy_violations", sum(x.get("policy_violation", False) for x in cases)))
written = datetime.fromtimestamp(Path(path).stat().st_mtime, UTC)
st.caption(f"{path} · written {written:%Y-%m-%d %H:%M} UTC")


def by(key_of: Any) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for case in cases:
        for key in key_of(case):
            r = rows.setdefault(key, {"": key, "cases": 0, "passed": 0, "failed": 0, "violations": 0})
            r["cases"] += 1
            r["passed"] += case["passed"]
            r["failed"] += not case["passed"]
            r["violations"] += bool(case.get("policy_violation"))
    return [rows[k] for k in sorted(rows)]


left, right = st.columns(2)
with left:
    st.subheader("By exception type")
    table([{"type": r.pop(""), **r} for r in by(lambda x: [x["exception_type"]])], key="evals_by_type")
with right:
    st.subheader("By rule")
    rules_of = lambda x: sorted({rid for a in x["actions"] for rid in a["rule_ids"]})  # noqa: E731
    table([{"rule": r.pop(""), **r} for r in by(rules_of)], key="evals_by_rule")

st.subheader("Cases")
failed_only = st.toggle("Failures only", key="evals_failed_only")
shown = [x for x in cases if not failed_only or not x["passed"]]
table([{"case": x["id"], "title": x.get("title"), "type": x["exception_type"], "outcome": x.get("outcome"),
        "passed": x["passed"], "violation": x.get("policy_violation"),
        "actions": [f"{a['action']}:{a['status']}" for a in x["actions"]],
        "first failure": (x.get("failures") or [""])[0]} for x in shown], key="evals_cases")
for x in shown:
    if not x["passed"]:
        with st.expander(f"{x['id']}: {len(x['failures'])} failures"):
            st.json(x)

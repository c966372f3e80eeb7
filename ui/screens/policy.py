"""Policy: the book in force, its version, and its numbers next to the rule ids that use them."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.state import require_client, show_flash
from ui.views import policy_of, table

RULE_SECTIONS: dict[str, str] = {}

c = require_client()
st.title("Policy")
show_flash()
book = policy_of(c)
cols = st.columns([1, 3, 1])
cols[0].metric("Book", book["name"])
cols[1].metric("Version", book["version"].split("@")[-1], help=book["version"])
cols[2].metric("Rules", len(book["rules"]))


def flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in flat(v, f"{prefix}{k}.")]
    if isinstance(value, list) and value and isinstance(value[0], dict) and "name" in value[0]:
        return [pair for v in value for pair in flat({k: x for k, x in v.items() if k != "name"},
                                                      f"{prefix}{v['name']}.")]
    return [(prefix.rstrip("."), value)]


sections = list(book["sections"])
chosen = st.selectbox("Section", ["all", *sections], key="policy_section")
for name in sections if chosen == "all" else [chosen]:
    rules = [r for r in book["rules"] if r["section"] == RULE_SECTIONS.get(name, name)]
    st.subheader(name)
    left, right = st.columns([1, 1])
    with left:
        table([{"number": k, "value": v} for k, v in flat(book["sections"][name])], key=f"policy_numbers_{name}")
    with right:
        table([{"rule": r["id"], "what it says": r["description"]} for r in rules], key=f"policy_rules_{name}")
others = [r for r in book["rules"] if r["section"] not in {RULE_SECTIONS.get(s, s) for s in sections}]
if chosen == "all" and others:
    st.subheader("other rules")
    table([{"rule": r["id"], "section": r["section"], "what it says": r["description"]} for r in others],
          key="policy_rules_other")

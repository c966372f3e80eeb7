"""Small drawing helpers the pages share: times, cached reads, tables."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from ui.client import TowerClient
from ui.queue import parse_time


def when(value: str | None) -> str:
    at = parse_time(value)
    return "–" if at is None else at.strftime("%Y-%m-%d %H:%M")


@st.cache_data(ttl=300, show_spinner=False)
def _policy(base_url: str, token: str) -> dict[str, Any]:
    return TowerClient(token, base_url).policy()


def policy_of(c: TowerClient) -> dict[str, Any]:
    """The policy book in force (changes only with a deploy: cached for five minutes)."""
    return _policy(c.base_url, c.token)


def table(rows: list[dict[str, Any]], *, key: str, height: int | None = None) -> None:
    """A read-only table in a container keyed `key` (tests find it by that key); nested values as compact JSON."""
    with st.container(key=key):
        if not rows:
            st.caption("nothing to show")
            return
        frame = pd.DataFrame([{k: _cell(v) for k, v in r.items()} for r in rows])
        for name in frame.select_dtypes(include=["object", "str"]).columns:
            frame[name] = frame[name].map(str)
        st.dataframe(frame, hide_index=True, height=height or "auto")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return value

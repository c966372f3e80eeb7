"""Overview: open exceptions by type and state, resolution, money against the ceilings, promises, over time."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from ui.client import TowerClient
from ui.queue import AT_RISK_TYPES, money, parse_time
from ui.state import api_call, require_client, show_flash
from ui.views import policy_of, table

REFRESH_SECONDS = 10
HOUR_MS = 3_600_000

c = require_client()
st.title("Overview")
show_flash()
auto = st.toggle(f"Refresh every {REFRESH_SECONDS} s", key="overview_autorefresh", value=True)


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def hours(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} h"


def over_time(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Exceptions raised and resolved per hour of the service's clock, by type."""
    records = []
    for r in rows:
        raised = parse_time(r["raised_at"])
        records.append({"hour": raised.replace(minute=0, second=0, microsecond=0) if raised else None,
                        "type": r["type"], "what": "raised"})
        if (done := parse_time(r.get("resolved_at"))) is not None:
            records.append({"hour": done.replace(minute=0, second=0, microsecond=0), "type": r["type"],
                            "what": "closed"})
    frame = pd.DataFrame(records, columns=["hour", "type", "what"])
    return frame.groupby(["hour", "type", "what"]).size().reset_index(name="count")


@st.fragment(run_every=REFRESH_SECONDS if auto else None)
def live(c: TowerClient) -> None:
    k = api_call(c.kpis)
    rows = api_call(c.all_exceptions, cap=5_000)
    ceilings = policy_of(c)["sections"]["money"]["goodwill_ceiling_cents"]
    open_counts = k["open_by_type_and_state"]
    open_total = sum(x["count"] for x in open_counts)
    waiting = sum(x["count"] for x in open_counts if x["state"] == "awaiting_approval")
    at_risk = sum(x["count"] for x in open_counts if x["type"] in AT_RISK_TYPES)
    paid = k["paid_out"]
    reroutes = k.get("reroutes") or {}

    cols = st.columns(4)
    cols[0].metric("Open exceptions", open_total, help="not yet resolved, rejected or failed")
    cols[1].metric("Awaiting approval", waiting)
    cols[2].metric("Auto-resolution rate", pct(k["auto_resolution_rate"]),
                   help=f"{k['auto_resolved']} of {k['closed']} closed exceptions with no supervisor decision")
    cols[3].metric("Time to resolution", hours(k["median_hours_to_resolution"]),
                   help=f"median; mean {hours(k['mean_hours_to_resolution'])}")
    cols = st.columns(4)
    cols[0].metric("Paid out by agents", money(paid["by_agents_cents"]),
                   help=f"refunds {money(paid['refunds_cents'])} · credits {money(paid['credits_cents'])} "
                        f"· all {money(paid['total_cents'])}")
    cols[1].metric("Promises at risk", at_risk, help="open delay and stockout exceptions")
    cols[2].metric("Promises kept", pct(k["promises"]["rate"]),
                   help=f"{k['promises']['kept']} of {k['promises']['delivered_shipments']} delivered shipments")
    co2 = reroutes.get("co2_grams")
    cols[3].metric("CO₂ of reroutes", "–" if co2 is None else f"{co2 / 1000:,.1f} kg",
                   help="the API's /kpis does not report it yet" if co2 is None else
                   f"{reroutes.get('count', '?')} reroutes")

    left, right = st.columns(2)
    with left:
        st.subheader("Open by type and state")
        if open_counts:
            fig = px.bar(pd.DataFrame(open_counts), x="type", y="count", color="state", barmode="stack")
            st.plotly_chart(fig, key="overview_open_chart")
        else:
            st.caption("no open exceptions")
    with right:
        st.subheader("Money against the ceilings")
        st.caption("Goodwill paid automatically per exception stops at the tier's ceiling; more is held.")
        table([{"tier": t, "goodwill ceiling per exception": money(v)} for t, v in ceilings.items()]
              + [{"tier": "paid out so far (all exceptions)", "goodwill ceiling per exception": money(
                  paid["by_agents_cents"])}], key="overview_ceilings")
    st.subheader("Over time")
    frame = over_time(rows)
    if frame.empty:
        st.caption("no exceptions yet")
    else:
        fig = px.bar(frame[frame["what"] == "raised"], x="hour", y="count", color="type",
                     title="Exceptions raised per hour (service clock)")
        fig.update_traces(width=HOUR_MS * 0.9)  # an hour wide even when there is only one hour to show
        st.plotly_chart(fig, key="overview_raised_chart")
        closed = frame[frame["what"] == "closed"].groupby("hour")["count"].sum().cumsum().reset_index()
        raised = frame[frame["what"] == "raised"].groupby("hour")["count"].sum().cumsum().reset_index()
        both = pd.concat([raised.assign(series="raised"), closed.assign(series="closed")])
        fig = px.line(both, x="hour", y="count", color="series", title="Raised and closed, cumulative")
        st.plotly_chart(fig, key="overview_cumulative_chart")


live(c)

"""Simulator: start a named scenario against the running service and watch the exceptions arrive."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ui.client import ApiError, TowerClient
from ui.state import api_call, can_decide, flash, require_client, show_flash
from ui.views import table, when

WATCH_SECONDS = 2

c = require_client()
st.title("Simulator")
show_flash()
info = api_call(c.simulator)
scenarios = {s["name"]: s["description"] for s in info["scenarios"]}

cols = st.columns([2, 1, 1, 1])
scenario = cols[0].selectbox("Scenario", list(scenarios), key="sim_scenario")
orders = cols[1].number_input("Orders", min_value=1, max_value=2_000, value=50, step=10, key="sim_orders")
seed = cols[2].number_input("Seed", min_value=0, value=1, step=1, key="sim_seed")
pace = cols[3].number_input("Seconds per step", min_value=0.0, max_value=5.0, value=0.05, step=0.05,
                            key="sim_pace", help="wall time between simulator steps, so you can watch")
st.caption(scenarios.get(scenario, ""))
if st.button("Start", key="sim_start", type="primary", disabled=not can_decide(),
             help=None if can_decide() else "a supervisor or a lead starts scenarios"):
    try:
        run = c.start_simulation(scenario, orders=int(orders), seed=int(seed), pace=float(pace))
        flash("success", f"Run {run['id']} started: {run['scenario']}, {run['orders']} orders.")
    except ApiError as err:
        flash("warning" if err.status == 409 else "error", f"Not started: {err.message}")
    st.rerun()


@st.fragment(run_every=WATCH_SECONDS)
def watch(c: TowerClient) -> None:
    run = api_call(c.simulator)["run"]
    if run is None:
        st.caption("No run started from here yet.")
    else:
        st.progress(min(run["placed"] / max(run["orders"], 1), 1.0),
                    text=f"Run {run['id']} · {run['scenario']} · {run['state']} · {run['placed']}/{run['orders']} "
                         f"orders · {run['steps']} steps · simulation clock {when(run['virtual_now'])} · "
                         f"started by {run['started_by']}")
        if run["error"]:
            st.error(run["error"])
    total = api_call(c.exceptions, limit=1)["total"]
    latest = api_call(c.exceptions, limit=200, offset=max(total - 200, 0))["items"]
    st.metric("Exceptions in the store", total)
    if latest:
        frame = pd.DataFrame([{"raised": x["raised_at"], "type": x["type"]} for x in latest])
        frame["raised"] = pd.to_datetime(frame["raised"])
        frame = frame.groupby([pd.Grouper(key="raised", freq="h"), "type"]).size().reset_index(name="count")
        fig = px.bar(frame, x="raised", y="count", color="type", title="The latest exceptions, by hour")
        fig.update_traces(width=3_600_000 * 0.9)  # milliseconds: an hour wide even with one hour to show
        st.plotly_chart(fig, key="sim_chart")
    st.subheader("Arriving")
    table([{"exception": x["id"], "type": x["type"], "state": x["state"], "order": x["order_id"],
            "raised": when(x["raised_at"]), "held": x["held"]} for x in latest[::-1][:15]], key="sim_latest")


watch(c)

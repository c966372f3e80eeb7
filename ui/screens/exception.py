"""Exception: one exception's facts, its actions with the policy's verdicts, decisions, timeline and audit."""

from __future__ import annotations

import streamlit as st

from ui.queue import describe
from ui.state import api_call, require_client, show_flash
from ui.views import table, when

c = require_client()
st.title("Exception")
show_flash()


def pick_recent() -> None:
    st.session_state.exception_id = st.session_state.exception_recent.split(" ")[0]


recent = api_call(c.exceptions, limit=1)["total"]
latest = api_call(c.exceptions, limit=30, offset=max(recent - 30, 0))["items"][::-1]
cols = st.columns([1, 2])
exc_id = cols[0].text_input("Exception id", key="exception_id", placeholder="EX-000001").strip()
cols[1].selectbox("or one of the latest", [f"{x['id']} · {x['type']} · {x['state']}" for x in latest],
                  index=None, key="exception_recent", on_change=pick_recent, placeholder="latest exceptions")
if not exc_id:
    st.stop()
d = api_call(c.exception, exc_id)

st.subheader(f"{d['id']} · {d['type']} · {d['state']}")
trail = d["audit_trail"]
if trail["verified"]:
    st.caption(f"Audit trail verifies: {trail['entries']} entries chained, "
               f"{trail['records']} action records as audited.")
else:
    st.error(f"Audit trail does not verify: {trail['problem']}. What this page shows may have been changed "
             "outside the audit.", icon="⚠️")
cols = st.columns(5)
cols[0].metric("Order", d["order_id"])
cols[1].metric("Customer", d["customer_id"])
cols[2].metric("Raised", when(d["raised_at"])[5:], help=when(d["raised_at"]))
cols[3].metric("Held actions", d["held"])
cols[4].metric("Resolved", when(d["resolved_at"])[5:] or "–", help=when(d["resolved_at"]))
if st.button("Open the order", key="exception_open_order"):
    st.session_state.order_id = d["order_id"]
    st.switch_page("screens/orders.py")
facts = {k: d[k] for k in ("subject", "shipment_id", "sku", "location", "short_qty", "return_id", "note") if d[k]}
st.text("\n".join(f"{k}: {v}" for k, v in {**facts, **d["detail"]}.items()))  # a claim is text from outside
if d["resolution"]:
    with st.expander("Resolution", expanded=False):
        st.json(d["resolution"])

st.subheader("Actions")
table([{"action": describe(a), "status": a["status"], "confidence": a["confidence"], "rules": a["rule_ids"],
        "reasons": a["reasons"], "needs": a["required_role"], "planner": a["planner"], "rationale": a["rationale"],
        "decided by": a["decided_by"], "applied": when(a["applied_at"]), "expires": when(a["expires_at"]),
        "policy": a["policy_version"]} for a in d["actions"]], key="exception_actions")

st.subheader("Decisions")
table([{"key": x["key"], "action": x["action"], "status": x["status"], "decided by": x["decided_by"],
        "role": x["role"], "edited": x["edited"], "at": when(x["decided_at"])} for x in d["decisions"]],
      key="exception_decisions")

st.subheader("Timeline")
only_audit = st.toggle("Audit trail only", key="exception_audit_only")
table([{"at": when(t["at"]), "source": t["source"], "what": t["kind"], "actor": t["actor"], "detail": t["detail"]}
       for t in d["timeline"] if not only_audit or t["source"] == "audit"], key="exception_timeline", height=600)

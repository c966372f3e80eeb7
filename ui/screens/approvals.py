"""Approvals: the queue of held actions, most urgent first, with the evidence and one-click decisions."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.client import TowerClient
from ui.decisions import edit_key, on_bulk, on_decide, on_edit
from ui.queue import EDITABLE_ARGS, BookLimits, QueueItem, describe, humanize, money, sort_queue
from ui.state import api_call, can_decide, require_client, show_flash
from ui.views import policy_of, table, when

QUEUE_CAP = 200
TYPES = ("delay", "stockout", "fraud_hold", "return_dispute")
VIEWER_HELP = "your role may read but not decide"

c = require_client()
limits = BookLimits.from_policy(policy_of(c))
deciding = can_decide()
st.title("Approvals")
show_flash()
if not deciding:
    st.info("You are signed in as a viewer: you see the queue but cannot decide.")

# ---- filters

cols = st.columns([2, 1, 1, 1, 1, 1])
types = cols[0].multiselect("Type", TYPES, key="approvals_types")
customer = cols[1].text_input("Customer", key="approvals_customer").strip()
order = cols[2].text_input("Order", key="approvals_order").strip()
min_age = cols[3].number_input("Min age (h)", min_value=0.0, step=1.0, key="approvals_min_age")
lead = cols[4].selectbox("Lead", ("any", "needs a lead", "no lead needed"), key="approvals_lead")
routine_only = cols[5].toggle("Routine only", key="approvals_routine_only",
                              help="no lead needed, nothing irreversible, money within the standard ceiling "
                                   f"({money(limits.routine_money_cents)})")


def load_queue(c: TowerClient) -> list[QueueItem]:
    """Waiting exceptions with their details and orders, most urgent first."""
    summaries = api_call(c.all_exceptions, cap=QUEUE_CAP, status="awaiting_approval", customer=customer or None,
                         order=order or None, min_age_hours=min_age or None)
    items = []
    orders: dict[str, dict[str, Any] | None] = {}
    for s in summaries:
        if types and s["type"] not in types:
            continue
        detail = api_call(c.exception, s["id"])
        if s["order_id"] not in orders:
            orders[s["order_id"]] = api_call(c.order, s["order_id"])
        items.append(QueueItem(detail, orders[s["order_id"]]))
    if lead != "any":
        items = [i for i in items if i.lead_needed == (lead == "needs a lead")]
    if routine_only:
        items = [i for i in items if i.routine(limits)]
    return sort_queue(items)


def edit_form(item: QueueItem, open_: bool, why_not: str | None) -> None:
    held = item.held
    editable = [(n, a) for n, a in enumerate(held) if any(k in a["args"] for k in EDITABLE_ARGS)]
    if not editable:
        st.caption("nothing editable here (amounts, topics and locations are)")
        return
    for n, a in editable:
        st.markdown(f"`{a['action']}`")
        if "amount_cents" in a["args"]:
            st.number_input("amount (cents)", min_value=0, step=100, value=int(a["args"]["amount_cents"]),
                            key=edit_key(item.id, n, "amount_cents"))
        if "topic" in a["args"]:
            topics = list(limits.topics)
            current = a["args"]["topic"]
            st.selectbox("topic", topics, index=topics.index(current) if current in topics else 0,
                         key=edit_key(item.id, n, "topic"))
        if "to_location" in a["args"]:
            st.text_input("to location", value=a["args"]["to_location"], key=edit_key(item.id, n, "to_location"))
    st.button("Approve with these edits", key=f"edit_approve_{item.id}", disabled=not open_, help=why_not,
              on_click=on_edit, args=(item.id, held))


def item_message(item: QueueItem) -> None:
    kind, message, errors = st.session_state.item_msgs.pop(item.id, (None, None, []))
    if kind is None:
        return
    if kind == "refused_edit" and errors:
        for e in errors:
            rules = ", ".join((e.get("ctx") or {}).get("rule_ids", []))
            st.error(f"Edit refused{f' ({rules})' if rules else ''}: {e.get('msg')}")
    elif kind == "forbidden":
        st.warning(message)
    else:
        st.error(message)


def render(item: QueueItem) -> None:
    d, o = item.detail, item.order
    open_ = deciding and not item.overdue
    why_not = VIEWER_HELP if not deciding else "its deadline passed" if item.overdue else None
    badges = []
    if item.promise_at_risk:
        badges.append(":red-background[promise at risk]")
    if item.lead_needed:
        badges.append(":orange-background[needs a lead]")
    if item.routine(limits):
        badges.append(":green-background[routine]")
    with st.container(border=True, key=f"item_{item.id}"):
        st.markdown(f"**{item.id}** · {d['type']} · order `{d['order_id']}` · customer `{d['customer_id']}` · "
                    f"{money(item.money_cents)} · waiting {humanize_hours(d['age_hours'])} " + " ".join(badges))
        item_message(item)
        if item.overdue:
            st.error(f"The hold's deadline passed {humanize(-item.time_left)} ago ({when(d['expires_at'])}, "
                     "service clock): it can no longer be decided and escalates on the next sweep.")
        elif item.expiring_soon:
            st.warning(f"The hold expires in {humanize(item.time_left)} ({when(d['expires_at'])}): "
                       "unanswered, it escalates and nothing is applied.")
        else:
            st.caption(f"Hold expires {when(d['expires_at'])} (in {humanize(item.time_left)})")
        facts, proposal = st.columns([1, 2])
        with facts:
            st.markdown("**Facts**")
            rows = [("exception", f"{d['type']} · {d['subject']}")]
            rows += [(k, str(v)) for k, v in d["detail"].items()]
            if o is not None:
                rows += [("order status", o["status"]), ("shipping", f"{o['shipping_method']} to {o['ship_region']}"),
                         ("promised by", when(o["promised_by"])), ("captured", money(o["captured_cents"])),
                         ("refunded", money(o["refunded_cents"])), ("fraud score", f"{o['fraud_score']:.2f}"),
                         ("lines", ", ".join(f"{x['qty']}× {x['sku']} @ {money(x['unit_price_cents'])}"
                                             for x in o["lines"]))]
            st.text("\n".join(f"{k}: {v}" for k, v in rows))
        with proposal:
            st.markdown("**Proposed** (held for a decision)")
            for a in item.held:  # arguments, rationale, reasons and body come from outside: text, not Markdown
                who = "a **lead**" if a["required_role"] == "lead" else "a supervisor"
                st.markdown(f"confidence **{a['confidence']:.2f}** · needs {who} · policy: "
                            f"**{a['verdict'].get('decision', 'hold')}** by {', '.join(a['rule_ids']) or '–'}")
                st.text(f"{describe(a)}\nwhy: {a['rationale']}\npolicy says: {'; '.join(a['reasons']) or '–'}")
                if body := a["args"].get("body"):
                    st.text(f"message: {body}")
            if others := [a for a in d["actions"] if a["status"] != "held"]:
                st.caption("Also on this exception: " + "; ".join(f"{a['action']} {a['status']}" for a in others))
        buttons = st.columns([1, 3, 1, 1])
        keys = [a["key"] for a in item.held]
        buttons[0].button("Approve", key=f"approve_{item.id}", type="primary", disabled=not open_, help=why_not,
                          on_click=on_decide, args=(item.id, keys, "approve"))
        buttons[1].text_input("Note", key=f"note_{item.id}", label_visibility="collapsed",
                              placeholder="note (why you reject, or anything for the audit)")
        buttons[2].button("Reject", key=f"reject_{item.id}", disabled=not open_, help=why_not,
                          on_click=on_decide, args=(item.id, keys, "reject"))
        if buttons[3].button("Timeline", key=f"open_{item.id}"):
            st.session_state.exception_id = item.id
            st.switch_page("screens/exception.py")
        with st.expander("Edit and approve", expanded=False):
            edit_form(item, open_, why_not)


def humanize_hours(h: float) -> str:
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} d"


queue = load_queue(c)
routine = [i for i in queue if i.routine(limits) and not i.overdue]
head = st.columns([3, 2])
head[0].markdown(f"**{len(queue)}** waiting · most urgent first (promise at risk, money, age)")
with head[1]:
    st.button(f"Approve all {len(routine)} routine items shown", key="bulk_approve",
              disabled=not deciding or not routine, help=None if deciding else VIEWER_HELP,
              on_click=on_bulk, args=([(i.id, [a["key"] for a in i.held]) for i in routine],))
if not queue:
    st.success("Nothing is waiting for a decision.")
for item in queue:
    render(item)
if routine:
    with st.expander(f"The {len(routine)} routine items", expanded=False):
        table([{"exception": i.id, "type": i.detail["type"], "proposed": "; ".join(describe(a) for a in i.held),
                "money": money(i.money_cents)} for i in routine], key="approvals_routine_table")

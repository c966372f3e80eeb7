"""Approvals: one page of the queue at a time (the server sorts, filters and pages it), each item a card to
decide from.

The queue is a fragment on a timer: it reads its page again by itself, without rerunning the page. Each card
is a fragment too: a decision on it redraws only that card, from what the API says happened.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from ui.client import Outcome, TowerClient, decided_items
from ui.decisions import add_key, edit_key, on_add, on_bulk, on_decide, on_edit, on_take
from ui.queue import (
    ADD_FIELDS,
    Deadline,
    deadline_of,
    describe,
    dollars,
    humanize,
    humanize_hours,
    money,
    outcome_lines,
    prefill,
)
from ui.state import api_call, can_decide, require_client, show_flash
from ui.views import policy_of, when

REFRESH_SECONDS = 15
TYPES = ("delay", "stockout", "fraud_hold", "return_dispute")
SORTS = {"urgency": "most urgent (promise at risk, money, age)", "money": "most money first",
         "age": "oldest first", "deadline": "nearest deadline first"}
OWNERS = {"anyone": None, "mine": "me", "nobody's": "none"}
LEAD = {"any": None, "needs a lead": "true", "no lead needed": "false"}
PAGE_SIZES = (10, 20, 50)
VIEWER_HELP = "your role may read but not decide"

c = require_client()
book = policy_of(c)
thresholds = {a: k["auto_confidence"] for k in book["sections"]["autonomy"]["classes"] for a in k["actions"]}
deciding = can_decide()
me = (st.session_state.auth or {}).get("name")
st.title("Approvals")
if not deciding:
    st.info("You are signed in as a viewer: you see the queue but cannot decide.")

# ---- sort, filters and the page: the server does the work; changing one redraws the page

row = st.columns([2, 2, 1, 1, 1, 1.4, 1.2])
sort = row[0].selectbox("Sort", list(SORTS), format_func=lambda s: SORTS[s], key="approvals_sort")
types = row[1].multiselect("Type", TYPES, key="approvals_types")
rule = row[2].selectbox("Rule", ["any", *[r["id"] for r in book["rules"]]], key="approvals_rule")
min_dollars = row[3].number_input("Min $", min_value=0.0, value=None, step=10.0, key="approvals_min")
max_dollars = row[4].number_input("Max $", min_value=0.0, value=None, step=10.0, key="approvals_max")
lead = row[5].selectbox("Lead", list(LEAD), key="approvals_lead")
owner = row[6].selectbox("Held by", list(OWNERS), key="approvals_owner")
nav = st.columns([1, 1, 5])
nav[0].number_input("Page", min_value=1, step=1, key="approvals_page")
size = int(nav[1].selectbox("Per page", PAGE_SIZES, index=0, key="approvals_page_size"))
filters: dict[str, Any] = {
    "sort": sort, "type": types or None, "rule": None if rule == "any" else rule,
    "min_cents": None if min_dollars is None else round(min_dollars * 100),
    "max_cents": None if max_dollars is None else round(max_dollars * 100),
    "needs_lead": LEAD[lead], "owner": OWNERS[owner]}


# ---- one card


def _why_not(deadline: Deadline, waiting: bool) -> str | None:
    if not deciding:
        return VIEWER_HELP
    if not waiting:
        return "it is no longer waiting for a decision"
    return "its deadline passed" if deadline.state == "overdue" else None


def show_outcome(item_id: str, outcome: Outcome) -> None:
    """Exactly what the API said: each item's final status (a denied approval as denied, with why), the state,
    what the exception still waits for and what a supervisor can still do."""
    shown = {"decided": st.success, "already_decided": st.info, "noted": st.info, "forbidden": st.warning}
    result = outcome.result or {}
    items = decided_items(result) if outcome.kind == "decided" else []
    bad = any(x.get("status") in ("denied", "withdrawn") for x in items)
    if outcome.kind == "refused_edit" and outcome.errors:  # the policy's own errors, each with its rules
        for e in outcome.errors:
            rules = ", ".join((e.get("ctx") or {}).get("rule_ids", []))
            st.error(f"Refused{f' ({rules})' if rules else ''}: {e.get('msg')}")
    else:
        (st.warning if bad else shown.get(outcome.kind, st.error))(outcome.message)
    if items:
        st.text("\n".join(outcome_lines(items)))
    if waiting_for := result.get("waiting_for"):
        st.warning(f"Still waiting: {waiting_for}")
    if options := result.get("options"):
        # the service's bare "add" is "add any other action of section 7": said so, not as a dangling verb
        st.caption("You can still: " + "; ".join("add another action" if o == "add" else str(o) for o in options))


def facts(item: dict[str, Any]) -> None:
    """The facts, the claim and the evidence: text the customer or the world wrote, drawn as text, never Markdown."""
    rows = [("exception", f"{item['type']} · {item['subject']}")]
    rows += [(k, money(v) if k.endswith("_cents") and isinstance(v, int) else str(v))
             for k, v in (item.get("detail") or {}).items()]
    rows += [("order status", item["order_status"]), ("shipping", item["shipping"]),
             ("promised by", when(item["promised_by"])), ("captured", money(item["captured_cents"])),
             ("refunded", money(item["refunded_cents"])), ("fraud score", f"{item['fraud_score']:.2f}")]
    if ret := item.get("return"):
        rows += [("return", f"{ret['id']} · {ret['status']}"), ("reason given", str(ret["reason"] or "none given")),
                 ("evidence", "yes: sent with the claim" if ret["evidence"] else "none sent")]
    st.text("\n".join(f"{k}: {v}" for k, v in rows))
    claim = (item.get("return") or {}).get("claim") or item.get("note")
    if claim:
        st.caption("The customer's claim, as written:")
        st.text(claim)


def held_action(item: dict[str, Any], n: int, a: dict[str, Any], why_not: str | None) -> None:
    who = "a lead" if a.get("required_role") == "lead" else "a supervisor"
    threshold = thresholds.get(a["action"])
    meets = threshold is not None and a["confidence"] >= threshold
    st.markdown(f"**{n + 1}.** `{a['action']}` · confidence {a['confidence']:.2f} "
                f"({'meets' if meets else 'below'} its class's {threshold if threshold is not None else '–'}) · "
                f"needs {who}")
    # arguments, rationale, reasons and the message body come from outside: text, not Markdown
    lines = [describe(a), f"why: {a['rationale'] or '–'}", f"policy says: {'; '.join(a['reasons']) or '–'}"]
    lines += [f"{rid}: {item['rules'].get(rid) or '(no sentence in the book)'}" for rid in a["rule_ids"]]
    st.text("\n".join(lines))
    if body := a["args"].get("body"):
        st.text(f"body: {body}")
    cols = st.columns([1, 1, 3])
    cols[0].button("Approve", key=f"approve_{item['id']}_{n}", disabled=why_not is not None, help=why_not,
                   on_click=on_decide, args=(item["id"], [a["key"]], "approve"))
    cols[1].button("Reject", key=f"reject_{item['id']}_{n}", disabled=why_not is not None, help=why_not,
                   on_click=on_decide, args=(item["id"], [a["key"]], "reject"))
    editable = [k for k in ("amount_cents", "topic", "to_location") if k in a["args"]]
    if editable:
        with cols[2].popover("Edit", disabled=why_not is not None):
            if "amount_cents" in a["args"]:
                st.number_input("amount ($)", min_value=0.0, step=1.0, format="%.2f",
                                value=dollars(a["args"]["amount_cents"]), key=edit_key(item["id"], n, "amount"))
            if "topic" in a["args"]:
                topics = list(book["sections"]["messages"]["topics"])
                current = a["args"]["topic"]
                st.selectbox("topic", topics, index=topics.index(current) if current in topics else 0,
                             key=edit_key(item["id"], n, "topic"))
            if "to_location" in a["args"]:
                st.text_input("to location", value=a["args"]["to_location"], key=edit_key(item["id"], n, "to_location"))
            st.button("Approve with this edit", key=f"edit_approve_{item['id']}_{n}", on_click=on_edit,
                      args=(item["id"], n, a))


def add_form(item: dict[str, Any], why_not: str | None) -> None:
    action = st.selectbox("action", list(ADD_FIELDS), key=add_key(item["id"], "action"))
    for f in ADD_FIELDS[action]:
        key = add_key(item["id"], f"{action}_{f.name}")
        label = "amount ($)" if f.kind == "money" else f.name
        if f.kind == "choice":
            st.selectbox(label, f.choices, key=key)
        elif f.kind == "bool":
            st.checkbox(label, key=key)
        else:
            st.text_input(label, value=prefill(item, f.prefill), key=key,
                          placeholder={"money": "25.00", "int": "1", "time": "2026-03-05T12:00:00Z"}.get(f.kind))
    st.button("Add this action", key=f"add_go_{item['id']}", disabled=why_not is not None, help=why_not,
              on_click=on_add, args=(item["id"],))


@st.fragment
def card(listed: dict[str, Any]) -> None:
    """One item. After a decision (or a take) it reads itself again from the API and shows what happened."""
    item_id = listed["id"]
    outcome: Outcome | None = st.session_state.outcomes.pop(item_id, None)
    fresh: dict[str, dict[str, Any]] = st.session_state.setdefault("approvals_cards", {})
    if outcome is not None:
        fresh[item_id] = api_call(c.card, item_id)
    item = fresh.get(item_id, listed)
    deadline = deadline_of(item)
    waiting = item["state"] == "awaiting_approval"
    why_not = _why_not(deadline, waiting)
    badges = []
    if item["promise_at_risk"]:
        badges.append(":red-background[promise at risk]")
    if item["needs_lead"]:
        badges.append(":orange-background[needs a lead]")
    if item["routine"]:
        badges.append(":green-background[routine]")
    if item["owner"]:
        badges.append(":blue-background[mine]" if item["owner"] == me else
                      f":violet-background[held by {item['owner']}]")
    with st.container(border=True, key=f"item_{item_id}"):
        st.markdown(f"**{item_id}** · {item['type']} · order `{item['order_id']}` · customer `{item['customer_id']}` "
                    f"· {money(item['money_cents'])} · waiting {humanize_hours(item['age_hours'])} " + " ".join(badges))
        if outcome is not None:
            show_outcome(item_id, outcome)
        if not waiting:
            st.caption(f"{item_id} is {item['state']}: it leaves the queue on the next refresh.")
        elif deadline.state == "overdue":
            st.error(f"The hold's deadline passed {humanize(-deadline.left if deadline.left else None)} ago "
                     f"({when(item['deadline'])}, service clock): it can no longer be decided and escalates on the "
                     "next sweep.")
        elif deadline.state == "soon":
            st.warning(f"The hold expires in {humanize(deadline.left)} ({when(item['deadline'])}): unanswered, it "
                       "escalates and nothing is applied.")
        elif deadline.state == "none":
            st.caption("Nothing is held: no deadline runs (see what it waits for, and add an action).")
        else:
            st.caption(f"Deadline {when(item['deadline'])} (in {humanize(deadline.left)})")
        left, right = st.columns([1, 2])
        with left:
            st.markdown("**Facts**")
            facts(item)
        with right:
            st.markdown(f"**Held for a decision** ({item['held']})")
            for n, a in enumerate(item["actions"]):
                held_action(item, n, a, why_not)
            others = [a for a in item.get("all_actions", []) if a["status"] != "held"]
            if others:
                st.caption("Also on this exception:")
                st.text("\n".join(f"{describe(a)}: {a['status']}" for a in others))
        keys = [a["key"] for a in item["actions"]]
        buttons = st.columns([1.2, 3, 1.2, 1, 1])
        buttons[0].button("Approve all", key=f"approve_{item_id}", type="primary", help=why_not,
                          disabled=why_not is not None or not keys, on_click=on_decide,
                          args=(item_id, keys, "approve"))
        buttons[1].text_input("Note", key=f"note_{item_id}", label_visibility="collapsed",
                              placeholder="note (why you reject, or anything for the audit)")
        buttons[2].button("Reject all", key=f"reject_{item_id}", help=why_not,
                          disabled=why_not is not None or not keys, on_click=on_decide,
                          args=(item_id, keys, "reject"))
        mine = item["owner"] is not None and item["owner"] == me
        buttons[3].button("Give back" if mine else "Take", key=f"take_{item_id}",
                          disabled=not deciding or not waiting or (item["owner"] is not None and not mine),
                          help=f"held by {item['owner']}" if item["owner"] and not mine else None,
                          on_click=on_take, args=(item_id, not mine))
        if buttons[4].button("Timeline", key=f"open_{item_id}"):
            st.session_state.exception_id = item_id
            st.switch_page("screens/exception.py")
        if st.toggle("Add an action", key=f"add_open_{item_id}", disabled=not deciding or not waiting):
            add_form(item, why_not)  # drawn only when asked for: a page of cards stays light


# ---- the queue: a page, on a timer


def load(c: TowerClient, page_no: int) -> dict[str, Any]:
    return api_call(c.queue, limit=size, offset=(page_no - 1) * size, **filters)  # type: ignore[no-any-return]


@st.fragment(run_every=REFRESH_SECONDS)
def queue_view() -> None:
    show_flash()
    st.session_state.approvals_cards = {}  # the page read now is newer than any card read after a decision
    page_no = int(st.session_state.get("approvals_page", 1))
    page = load(c, page_no)
    pages = max(1, math.ceil(page["total"] / size))
    if page_no > pages:  # the queue shrank under this page: show its last page
        page_no = pages
        page = load(c, page_no)
    items = page["items"]
    routine = [i for i in items if i["routine"] and deadline_of(i).state != "overdue"]
    head = st.columns([3, 2])
    head[0].markdown(f"**{page['total']}** waiting · page {page_no} of {pages} · {SORTS[page['sort']]} · "
                     f"refreshes every {REFRESH_SECONDS} s")
    head[1].button(f"Approve the {len(routine)} routine items on this page", key="bulk_approve",
                   disabled=not deciding or not routine, help=None if deciding else VIEWER_HELP,
                   on_click=on_bulk, args=([(i["id"], [a["key"] for a in i["actions"]]) for i in routine],))
    shown = {i["id"] for i in items}
    for item_id in [x for x in st.session_state.outcomes if x not in shown]:
        card({"id": item_id})  # decided since the page was read: its card says once what happened, then goes
    if not items:
        st.success("Nothing is waiting for a decision." if page["total"] == 0 else "Nothing on this page.")
    for item in items:
        card(item)


queue_view()

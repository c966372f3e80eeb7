"""Decisions as button callbacks: they run before the page is drawn again, so a click still counts when the
item has left the queue meanwhile (someone else decided it), and its outcome is shown once, on the next draw."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.client import Outcome
from ui.queue import EDITABLE_ARGS, edits
from ui.state import client, flash

BULK_NOTE = "bulk approval of routine items"


def edit_key(item_id: str, n: int, arg: str) -> str:
    """The key of the widget that edits argument `arg` of the n-th held action of an item."""
    return f"edit_{item_id}_{n}_{arg}"


def report(outcome: Outcome, item_id: str) -> None:
    """Successes and 409s go to the top of the page (a 409 is news, not an error); refusals stay on the item."""
    if outcome.kind == "decided":
        flash("success", outcome.message)
    elif outcome.kind == "already_decided":
        flash("info", outcome.message)
    else:
        st.session_state.item_msgs[item_id] = (outcome.kind, outcome.message, outcome.errors)


def _note(item_id: str) -> str | None:
    return (st.session_state.get(f"note_{item_id}") or "").strip() or None


def on_decide(item_id: str, keys: list[str], decision: str) -> None:
    """Approve or reject exactly the held actions shown, so nothing held since is decided unseen."""
    c = client()
    if c is not None:
        report(c.decide(item_id, decision, actions=keys, note=_note(item_id)), item_id)  # type: ignore[arg-type]


def on_edit(item_id: str, held: list[dict[str, Any]]) -> None:
    """The edited actions first (the policy judges them again), then the rest of what was shown, approved."""
    c = client()
    if c is None:
        return
    changed: dict[str, dict[str, Any]] = {}
    for n, action in enumerate(held):
        values = {arg: st.session_state[edit_key(item_id, n, arg)] for arg in EDITABLE_ARGS
                  if edit_key(item_id, n, arg) in st.session_state}
        if diff := edits(action, values):
            changed[action["key"]] = diff
    if not changed:
        st.session_state.item_msgs[item_id] = ("refused_edit", "nothing was changed: use Approve", [])
        return
    note = _note(item_id)
    outcome = c.decide(item_id, "edit", actions=[{"key": k, "args": v} for k, v in changed.items()], note=note)
    rest = [a["key"] for a in held if a["key"] not in changed]
    if outcome.kind == "decided" and rest:
        second = c.decide(item_id, "approve", actions=rest, note=note)
        outcome = second if second.kind != "decided" else Outcome(
            "decided", f"{outcome.message}; the rest approved: {second.message}", result=second.result)
    report(outcome, item_id)


def on_bulk(items: list[tuple[str, list[str]]]) -> None:
    """Approve each routine item as it was shown; tally what happened."""
    c = client()
    if c is None:
        return
    tally: dict[str, list[str]] = {}
    for item_id, keys in items:
        tally.setdefault(c.decide(item_id, "approve", actions=keys, note=BULK_NOTE).kind, []).append(item_id)
    flash("success", f"Approved {len(tally.get('decided', []))} routine items.")
    if late := tally.get("already_decided"):
        flash("info", f"Decided by someone else meanwhile: {', '.join(late)}")
    for kind in ("forbidden", "refused_edit", "failed"):
        if failed := tally.get(kind):
            flash("error", f"Not approved ({kind}): {', '.join(failed)}")

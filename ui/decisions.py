"""Decisions as button callbacks: they run before the card's fragment is drawn again, so a click still counts when
the item has left the queue meanwhile (someone else decided it), and its outcome is drawn once, on its own card.

What a card says after a decision is what the API's response says happened to each item (applied, denied with
the rules and why, still held, rejected, withdrawn), never what was asked for.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.client import ApiError, Outcome, decided_items, tally
from ui.queue import ADD_FIELDS, add_args, edits
from ui.state import client, flash

BULK_NOTE = "bulk approval of routine items"


def edit_key(item_id: str, n: int, arg: str) -> str:
    """The key of the widget that edits argument `arg` of the n-th held action of an item."""
    return f"edit_{item_id}_{n}_{arg}"


def add_key(item_id: str, arg: str) -> str:
    return f"add_{item_id}_{arg}"


def remember(item_id: str, outcome: Outcome) -> None:
    """The card shows it (and reads itself again from the API) on its next draw."""
    st.session_state.outcomes[item_id] = outcome


def _note(item_id: str) -> str | None:
    return (st.session_state.get(f"note_{item_id}") or "").strip() or None


def on_decide(item_id: str, keys: list[str], decision: str) -> None:
    """Approve or reject exactly the held actions shown (one, or the whole case), so nothing held since is decided
    unseen."""
    c = client()
    if c is not None:
        remember(item_id, c.decide(item_id, decision, actions=keys, note=_note(item_id)))  # type: ignore[arg-type]


def on_edit(item_id: str, n: int, action: dict[str, Any]) -> None:
    """One held action with the arguments the supervisor changed (amounts typed in dollars); the policy judges it
    again."""
    c = client()
    if c is None:
        return
    values = {arg: st.session_state[edit_key(item_id, n, arg)] for arg in ("amount", "topic", "to_location")
              if edit_key(item_id, n, arg) in st.session_state}
    changed = edits(action, values)
    if not changed:
        remember(item_id, Outcome("refused_edit", f"{item_id}: nothing was changed: use Approve"))
        return
    remember(item_id, c.decide(item_id, "edit", actions=[{"key": action["key"], "args": changed}],
                               note=_note(item_id)))


def on_add(item_id: str) -> None:
    """Add an action of section 7 to the case; the book judges it like any other."""
    c = client()
    if c is None:
        return
    action = st.session_state.get(add_key(item_id, "action"))
    if action not in ADD_FIELDS:
        remember(item_id, Outcome("refused_edit", f"{item_id}: choose an action to add"))
        return
    values = {f.name: st.session_state.get(add_key(item_id, f"{action}_{f.name}")) for f in ADD_FIELDS[action]}
    args, problems = add_args(action, values)
    if problems:
        remember(item_id, Outcome("refused_edit", f"{item_id}: {action}: " + "; ".join(problems)))
        return
    remember(item_id, c.decide(item_id, "add", actions=[{"action": action, "args": args}], note=_note(item_id)))


def on_take(item_id: str, take: bool) -> None:
    c = client()
    if c is None:
        return
    try:
        out = c.take(item_id) if take else c.give_back(item_id)
    except ApiError as err:
        remember(item_id, Outcome("already_decided" if err.status == 409 else "failed", f"{item_id}: {err.message}"))
        return
    what = f"taken by {out['owner']}" if out["owner"] else "given back: nobody holds it"
    remember(item_id, Outcome("noted", f"{item_id}: {what}"))


def on_bulk(items: list[tuple[str, list[str]]]) -> None:
    """Approve each routine item as it was shown; report what became of every item, from the responses."""
    c = client()
    if c is None:
        return
    counts: dict[str, int] = {}
    denied: list[str] = []
    others: dict[str, list[str]] = {}
    for item_id, keys in items:
        outcome = c.decide(item_id, "approve", actions=keys, note=BULK_NOTE)
        remember(item_id, outcome)
        if outcome.kind != "decided" or outcome.result is None:
            others.setdefault(outcome.kind, []).append(item_id)
            continue
        done = decided_items(outcome.result)
        for status, n in tally(done).items():
            counts[status] = counts.get(status, 0) + n
        denied += [f"{item_id} {x.get('action')}" for x in done if x.get("status") == "denied"]
    what = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing decided"
    decided = len(items) - sum(len(v) for v in others.values())
    flash("success" if not denied and not others else "warning",
          f"Bulk approve of {len(items)} routine items ({decided} decided): {what}.")
    if denied:
        flash("warning", "Denied on approval (the book judged them again): " + ", ".join(denied))
    if late := others.pop("already_decided", None):
        flash("info", f"Decided by someone else meanwhile: {', '.join(late)}")
    for kind, ids in others.items():
        flash("error", f"Not approved ({kind}): {', '.join(ids)}")

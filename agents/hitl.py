"""The held exception's interrupt in LangChain's human-in-the-loop language, beside the tower's own fields.

LangChain 1.x's `HumanInTheLoopMiddleware` interrupts with a `HITLRequest`: `action_requests` (each a
tool call to review: `name`, `args`, a Markdown `description`) and `review_configs` (index-aligned, each
naming its action and the decisions allowed on it). A generic client that reads that shape (Agent
Inbox, LangGraph Studio) can then show a held exception as it shows any agent's pending tool calls.
The types are mirrored here, not imported: `langchain` is a development dependency only (the tests
validate the payload against its TypedDicts), so the service does not need it to run.

The description is Markdown a client renders, and most of what goes into it comes from outside (a
message body carrying the customer's name, a model's rationale): every such text is escaped, so it
shows as the text it is and never as a link, an image or markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from typing_extensions import TypedDict

from policies.book import RULES

DecisionType = Literal["approve", "edit", "reject"]
"""The decisions LangChain's schema names that a supervisor has here (it also has `respond`, which
answers for a tool instead of running it: no held action of the book is such a tool)."""

MAX_TEXT_CHARS = 300
"""A value or reason longer than this is cut in the description (the whole value is in `args`)."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>#!|~&.:])")
"""Backslash-escaped (CommonMark escapes any ASCII punctuation): emphasis, code, links and images, HTML
and entities, headings, tables, strikethrough, and `.`/`:` so `www.x` and `http://x` are not autolinked.
Line-start markers (`-`, `+`, `1.`) cannot occur: a text is one line after a label."""
_LINE_BREAKS = re.compile(r"\s+")


class ActionRequest(TypedDict):
    """One held action to review (`langchain.agents.middleware.human_in_the_loop.ActionRequest`)."""

    name: str
    args: dict[str, Any]
    description: str


class ReviewConfig(TypedDict):
    """What a reviewer may decide on one action (`...human_in_the_loop.ReviewConfig`)."""

    action_name: str
    allowed_decisions: list[DecisionType]


class HITLFields(TypedDict):
    """The fields of a `HITLRequest`; the interrupt carries them beside its own."""

    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig]


class Held(Protocol):
    """What the description needs of a held item (agents.state.HeldItem)."""

    @property
    def key(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def args(self) -> dict[str, Any]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def rationale(self) -> str: ...
    @property
    def rule_ids(self) -> list[str]: ...
    @property
    def reasons(self) -> list[str]: ...
    @property
    def required_role(self) -> str | None: ...


def plain(text: object) -> str:
    """Text as Markdown that renders as that text: one line, cut, every markup character escaped.

    Linear in the input (one pass of each substitution, after the cut)."""
    flat = _LINE_BREAKS.sub(" ", str(text)[:MAX_TEXT_CHARS + 1]).strip()
    if len(flat) > MAX_TEXT_CHARS:
        flat = flat[:MAX_TEXT_CHARS] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def describe(item: Held, reason: str | None = None) -> str:
    """The Markdown a reviewer reads: the action and its arguments, who decides, why it is held."""
    who = "a lead" if item.required_role == "lead" else "a supervisor"
    lines = [f"**{plain(item.action)}** (`{plain(item.key)}`) is held for {who}: approve, edit or reject it.", ""]
    if item.args:
        lines += ["Arguments:", *(f"- {plain(k)}: {plain(v)}" for k, v in item.args.items()), ""]
    why = [f"- **{plain(rid)}**: {plain(RULES.get(rid, 'a rule of the policy book'))}" for rid in item.rule_ids]
    why += [f"- {plain(r)}" for r in item.reasons]
    if reason:
        why.append(f"- {plain(reason)}")
    if why:
        lines += ["Why it is held:", *why, ""]
    lines.append(f"Planner confidence {item.confidence:.2f}: {plain(item.rationale)}")
    return "\n".join(lines)


def hitl_fields(items: Sequence[Held], allowed: Sequence[DecisionType],
                reason: str | None = None) -> HITLFields:
    """One action request and one review config per held item, in the same order (as LangChain's middleware)."""
    return HITLFields(
        action_requests=[ActionRequest(name=i.action, args=dict(i.args), description=describe(i, reason))
                         for i in items],
        review_configs=[ReviewConfig(action_name=i.action, allowed_decisions=list(allowed)) for i in items])

"""The judge: apply, hold or deny each proposed action, with the rule ids that decided.

Independent of the planner: every proposal is checked against the book's own
plan for the facts (policies.rules), the money rules of section 2, the
autonomy thresholds of section 1, the message checks and the preconditions
of section 7. A planner can therefore never obtain more than the book gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.facts import Facts
from policies import actions as a
from policies.book import BOOK, PolicyBook
from policies.claims import read_claim
from policies.messages import message_problems
from policies.preconditions import Ledger, precondition_problem
from policies.rules import RETURN_REASONS, BookPlan, Step, book_plan

Decision = Literal["apply", "hold", "deny"]
Role = Literal["supervisor", "lead"]

IDENTITY: dict[str, tuple[str, ...]] = {
    "notify_customer": ("order_id", "topic"),
    "reroute_shipment": ("shipment_id", "to_location", "service", "reship"),
    "reallocate_line": ("order_id", "sku", "qty", "to_location"),
    "backorder_line": ("order_id", "sku", "qty"),
    "cancel_line": ("order_id", "sku", "qty"),
    "cancel_order": ("order_id",),
    "refund": ("order_id", "reason"),
    "store_credit": ("customer_id", "reason"),
    "release_hold": ("order_id",),
    "approve_return": ("return_id",),
    "deny_return": ("return_id", "reason"),
}
ROUTING_FIELDS = frozenset({"to_location", "service"})
NOT_EARLIER_FIELDS = ("eta", "expected_at")
PAYOUTS = frozenset({"refund", "store_credit", "approve_return"})


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Decision
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    required_role: Role | None = None
    policy_version: str


class Approval(BaseModel):
    """A supervisor's approval: lifts the holds their role may lift, never a denial."""

    model_config = ConfigDict(frozen=True)

    role: Role
    edited: bool = False


def judge(
    proposals: Sequence[a.Proposal],
    facts: Facts,
    *,
    approval: Approval | Sequence[Approval | None] | None = None,
    is_foreign_ref: Callable[[str], bool] = lambda _ref: False,
    book: PolicyBook = BOOK,
) -> list[Verdict]:
    """One verdict per proposal, in order; what earlier actions of the batch do counts for later ones.

    `approval` is one supervisor's approval for the whole batch, or one (or None) per proposal.
    """
    approvals = list(approval) if isinstance(approval, Sequence) else [approval] * len(proposals)
    return _Judge(facts, is_foreign_ref, book).run(proposals, approvals)


def processing_rank(action: str) -> int:
    """Cancellations first (their refunds depend on them), messages last (they may quote what was paid)."""
    return 0 if action in ("cancel_order", "cancel_line") else 2 if action == "notify_customer" else 1


def is_goodwill(action: str, args: dict[str, Any], book: PolicyBook = BOOK) -> bool:
    return action == "store_credit" or (
        action == "refund" and args.get("reason") in book.money.goodwill_refund_reasons)


class _Judge:
    def __init__(self, facts: Facts, is_foreign_ref: Callable[[str], bool], book: PolicyBook) -> None:
        self.f, self.is_foreign_ref, self.book = facts, is_foreign_ref, book
        self.approval: Approval | None = None
        self.ledger = Ledger()
        self.goodwill_auto = sum(int(p.args.get("amount_cents", 0)) for p in facts.prior_actions
                                 if p.status == "applied" and is_goodwill(p.action, p.args, book))
        self.amounts = [int(p.args["amount_cents"]) for p in facts.prior_actions
                        if p.status == "applied" and "amount_cents" in p.args]
        self.used: set[tuple[str, int]] = set()
        self._plans: dict[str | None, BookPlan] = {}

    def plan(self, reading: str | None) -> BookPlan:
        if reading not in self._plans:
            self._plans[reading] = book_plan(self.f, reason=reading, book=self.book)
        return self._plans[reading]

    def run(self, proposals: Sequence[a.Proposal], approvals: Sequence[Approval | None]) -> list[Verdict]:
        """In processing rank: a refund sees its cancellation, a message only amounts not refused."""
        parsed: list[a._Args | str] = []
        for p in proposals:
            try:
                parsed.append(a.parse_args(p.action, p.args))
            except ValueError as err:
                parsed.append(str(err))
        verdicts: dict[int, Verdict] = {}
        for i in sorted(range(len(proposals)), key=lambda i: processing_rank(proposals[i].action)):
            self.approval = approvals[i]
            verdicts[i] = v = self.one(proposals[i], parsed[i])
            x = parsed[i]
            if v.decision == "deny":
                continue
            if isinstance(x, a.Refund | a.StoreCredit | a.ApproveReturn):
                self.amounts.append(x.amount_cents)
            self.ledger.order_cancelled |= isinstance(x, a.CancelOrder)
            self.ledger.lines_cancelled += isinstance(x, a.CancelLine)
        return [verdicts[i] for i in range(len(proposals))]

    def verdict(self, decision: Decision, rules: Sequence[str], reasons: Sequence[str],
                role: Role | None = None) -> Verdict:
        return Verdict(decision=decision, rule_ids=tuple(dict.fromkeys(rules)), reasons=tuple(reasons),
                       required_role=role, policy_version=self.book.version)

    def one(self, p: a.Proposal, x: a._Args | str) -> Verdict:
        if isinstance(x, str):
            return self.verdict("deny", ["P7"], [f"malformed proposal: {x}"])
        if problem := precondition_problem(x, self.f, self.ledger, book=self.book):
            return self.verdict("deny", ["P7"], [f"precondition failed: {problem}"])
        if isinstance(x, a.NotifyCustomer):
            problems = message_problems(
                x.body, customer_email=self.f.customer.email, eta=x.eta, amounts_cents=self.amounts,
                own_refs=[self.f.order.id, self.f.customer.id, *(s.id for s in self.f.order.shipments),
                          *(r.id for r in self.f.order.returns)],
                is_foreign_ref=self.is_foreign_ref, book=self.book)
            if problems:
                return self.verdict("deny", ["C7"], problems)
        match = self.match(p, x)
        if match is None:
            plan = self.plan(self.reading(p))
            rules = [r for s in plan.steps for r in s.rule_ids] or ["N0"]
            gives = "; ".join(f"{s.action}" for s in plan.steps) or "no action"
            why = f"the book gives {gives} here ({'; '.join(plan.notes)})"
            return self.verdict("deny", rules, [f"{p.action} is not what the book gives for this exception: {why}"])
        plan, step = match
        args = x.model_dump()
        if isinstance(x, a.Refund | a.ApproveReturn):
            self.ledger.refunded_cents += x.amount_cents
        return self.holds(p, args, plan, step)

    def reading(self, p: a.Proposal) -> str | None:
        ret = self.f.order.return_(self.f.exception.return_id)
        if self.f.exception.type != "return_dispute" or ret is None or ret.reason is not None:
            return None
        return p.assumed.get("reason")

    def match(self, p: a.Proposal, x: a._Args) -> tuple[BookPlan, Step] | None:
        reading = self.reading(p)
        readings: list[str | None] = [reading]
        ret = self.f.order.return_(self.f.exception.return_id)
        if reading is None and self.f.exception.type == "return_dispute" and ret is not None and ret.reason is None:
            readings = list(RETURN_REASONS)
        for r in readings:
            plan = self.plan(r)
            for i, step in enumerate(plan.steps):
                if (r, i) not in self.used and self.fits(step, x):
                    self.used.add((r, i))
                    return plan, step
        return None

    def fits(self, step: Step, x: a._Args) -> bool:
        if step.action != _name(x):
            return False
        args = x.model_dump()
        relaxed = self.approval is not None and self.approval.edited
        for key in IDENTITY[step.action]:
            if relaxed and key in ROUTING_FIELDS:
                continue
            if args.get(key) != step.args.get(key):
                return False
        if "amount_cents" in step.args and args["amount_cents"] > step.args["amount_cents"]:
            return False
        for key in NOT_EARLIER_FIELDS:
            want = step.args.get(key)
            if isinstance(want, datetime) and (args.get(key) is None or args[key] < want):
                return False
        return True

    def holds(self, p: a.Proposal, args: dict[str, Any], plan: BookPlan, step: Step) -> Verdict:
        money, approved = self.book.money, self.approval is not None
        holds: list[str] = list(plan.case_hold) + list(step.hold_rules)
        reasons: list[str] = [f"{r}: the case is held for approval" for r in plan.case_hold]
        reasons += [f"{r}: this action is held for approval" for r in step.hold_rules]
        action = step.action
        if is_goodwill(action, args, self.book):
            ceiling = money.goodwill_ceiling_cents.get(self.f.customer.tier, money.goodwill_ceiling_cents["standard"])
            total = self.goodwill_auto + args["amount_cents"]
            if total > ceiling:
                holds.append("M2")
                reasons.append(f"M2: goodwill {total} would pass the {self.f.customer.tier} ceiling {ceiling}")
            if self.f.customer.refunds_90d >= money.abuse_refunds_90d or \
                    self.f.customer.returns_90d >= money.abuse_returns_90d:
                holds.append("M3")
                reasons.append("M3: abuse guard, no automatic goodwill")
        confidence = p.confidence
        if plan.reading:
            confidence, why = self.corroborated(p, plan.reading["reason"])
            reasons += why
        threshold = self.book.autonomy.class_of(action).auto_confidence
        if confidence < threshold:
            holds.append("A1")
            reasons.append(f"A1: confidence {confidence:.2f} below the {threshold:.2f} threshold")
        lead = action in PAYOUTS and args["amount_cents"] > money.lead_approval_over_cents
        if lead:
            reasons.append(f"M4: {args['amount_cents']} is over {money.lead_approval_over_cents}: a lead approves")
        rules = [*step.rule_ids, *holds, *(["M4"] if lead else [])]
        if approved:
            assert self.approval is not None
            if lead and self.approval.role != "lead":
                return self.verdict("hold", rules, reasons, "lead")
            return self.verdict("apply", rules, [*reasons, f"approved by a {self.approval.role}"])
        if holds or lead:
            return self.verdict("hold", rules, reasons, "lead" if lead else "supervisor")
        if is_goodwill(action, args, self.book):
            self.goodwill_auto += args["amount_cents"]
        return self.verdict("apply", rules, reasons or [f"{', '.join(step.rule_ids)}: within policy"])


    def corroborated(self, p: a.Proposal, reading: str) -> tuple[float, list[str]]:
        """How far to trust a decision resting on a reading of free text: never more than the policy's reader."""
        ret = self.f.order.return_(self.f.exception.return_id)
        own = read_claim(ret.claim if ret else "")
        if p.assumed.get("reason") != reading:
            return 0.0, [f"A1: the decision rests on an unstated reading of the claim ({reading})"]
        if own.reason != reading:
            return 0.0, [f"A1: the claim reads as {own.reason} to the policy's reader, not {reading}"]
        return min(p.confidence, own.confidence), []


def _name(x: a._Args) -> str:
    return next(name for name, model in a.ARGS.items() if isinstance(x, model))

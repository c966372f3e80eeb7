"""The judge: apply, hold or deny each proposed action, with the rule ids that decided.

Independent of the planner: every proposal is checked against the book's own
plan for the facts (policies.rules), the money rules of section 2, the
autonomy thresholds of section 1, the message checks and the preconditions
of section 7. What a planner may obtain (section 1): the book is the most it
can obtain (anything else, and any repeat, is denied: N0) and the least it may
leave undone (what the book gives but the batch leaves undone makes the
exception wait for a supervisor: `judge_batch`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.facts import Facts, PriorAction
from core.jsonvalue import iso
from policies import actions as a
from policies.book import BOOK, PolicyBook
from policies.claims import read_claim
from policies.currency import money_text
from policies.messages import message_problems
from policies.preconditions import Ledger, precondition_failure
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
"""What a supervisor's approval must keep of the book's step (an approval is judged with some latitude)."""
ROUTING_FIELDS = frozenset({"to_location", "service"})
NOT_EARLIER_FIELDS = ("eta", "expected_at")
PAYOUTS = frozenset({"refund", "store_credit", "approve_return"})
MESSAGE_BODY = "body"


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Decision
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    required_role: Role | None = None
    policy_version: str


class Approval(BaseModel):
    """A supervisor's approval: lifts the holds their role may lift, never a denial.

    `edited` and `added` mark a supervisor's own values or actions: N0 does not apply to them
    (section 1, "Deciding held actions"); the money rules for a supervisor still do (`_Judge.supervised`).
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    edited: bool = False
    added: bool = False


@dataclass(frozen=True)
class Judgement:
    """A planner's batch judged: one verdict per proposal, and what the book gives that the batch left undone."""

    verdicts: list[Verdict]
    left_undone: tuple[Step, ...] = ()

    @property
    def wait_reason(self) -> str | None:
        """Why the exception waits for a supervisor although nothing may be held (section 1), or None."""
        if not self.left_undone:
            return None
        return "the plan left undone what the book gives: " + "; ".join(describe_step(s) for s in self.left_undone)


def describe_step(step: Step) -> str:
    """`refund (order_id O-1, amount_cents 1500, reason shipping_fee; D3)`."""
    args = ", ".join(f"{k} {_show(v)}" for k, v in step.args.items())
    return f"{step.action} ({args}; {', '.join(step.rule_ids)})"


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


def judge_batch(
    proposals: Sequence[a.Proposal],
    facts: Facts,
    *,
    is_foreign_ref: Callable[[str], bool] = lambda _ref: False,
    book: PolicyBook = BOOK,
) -> Judgement:
    """A planner's batch (no supervisor in it): the verdicts, and the book's steps it left undone.

    A step is left undone when the book's own plan, judged alone, could apply or hold it, and no
    proposal of it is applied or held. One the book's own limits deny is not left undone.
    """
    j = _Judge(facts, is_foreign_ref, book)
    verdicts = j.run(proposals, [None] * len(proposals))
    return Judgement(verdicts=verdicts, left_undone=j.left_undone())


def processing_rank(action: str) -> int:
    """Cancellations first (their refunds depend on them), messages last (they may quote what was paid)."""
    return 0 if action in ("cancel_order", "cancel_line") else 2 if action == "notify_customer" else 1


def is_goodwill(action: str, args: dict[str, Any], book: PolicyBook = BOOK) -> bool:
    return action == "store_credit" or (
        action == "refund" and args.get("reason") in book.money.goodwill_refund_reasons)


StepKey = tuple[str | None, int]
"""A step of the book's plan: the reading of the claim it rests on (None for none) and its index."""


class _Judge:
    def __init__(self, facts: Facts, is_foreign_ref: Callable[[str], bool], book: PolicyBook, *,
                 check_messages: bool = True) -> None:
        self.f, self.is_foreign_ref, self.book = facts, is_foreign_ref, book
        self.version = book.version  # a hash of the whole book: once per batch, not per verdict
        self.check_messages = check_messages
        self.approval: Approval | None = None
        self.ledger = Ledger()
        applied = [p for p in facts.prior_actions if p.status == "applied"]
        self.goodwill_auto = sum(int(p.args.get("amount_cents", 0)) for p in applied
                                 if is_goodwill(p.action, p.args, book))
        self.amounts = [int(p.args["amount_cents"]) for p in applied if "amount_cents" in p.args]
        self.applied_before = {_signature(x) for x in _parsed(applied)}
        self.seen: set[str] = set()
        self.used: dict[StepKey, int] = {}
        self.verdicts: dict[int, Verdict] = {}
        self.current = -1
        self._plans: dict[str | None, BookPlan] = {}

    def plan(self, reading: str | None) -> BookPlan:
        if reading not in self._plans:
            self._plans[reading] = book_plan(self.f, reason=reading, book=self.book)
        return self._plans[reading]

    def run(self, proposals: Sequence[a.Proposal], approvals: Sequence[Approval | None]) -> list[Verdict]:
        """In processing rank: a refund sees its cancellation, a message only amounts not refused."""
        parsed: list[a._Args | str] = []
        for p in proposals:
            if p.malformed is not None:
                parsed.append(f"{p.action}: {p.malformed}")
                continue
            try:
                parsed.append(a.parse_args(p.action, p.args))
            except ValueError as err:
                parsed.append(str(err))
        for i in sorted(range(len(proposals)), key=lambda i: processing_rank(proposals[i].action)):
            self.approval, self.current = approvals[i], i
            x = parsed[i]
            if isinstance(x, str):
                self.verdicts[i] = self.verdict("deny", ["P7"], [f"malformed proposal: {x}"])
                continue
            signature = _signature(x)
            self.verdicts[i] = v = self.one(proposals[i], x, signature)
            self.seen.add(signature)
            if v.decision == "deny":
                continue
            if isinstance(x, a.Refund | a.StoreCredit | a.ApproveReturn):
                self.amounts.append(x.amount_cents)
            if isinstance(x, a.Refund | a.ApproveReturn):
                self.ledger.refunded_cents += x.amount_cents
            self.ledger.order_cancelled |= isinstance(x, a.CancelOrder)
            self.ledger.lines_cancelled += isinstance(x, a.CancelLine)
        return [self.verdicts[i] for i in range(len(proposals))]

    def verdict(self, decision: Decision, rules: Sequence[str], reasons: Sequence[str],
                role: Role | None = None) -> Verdict:
        return Verdict(decision=decision, rule_ids=tuple(dict.fromkeys(rules)), reasons=tuple(reasons),
                       required_role=role, policy_version=self.version)

    def one(self, p: a.Proposal, x: a._Args, signature: str) -> Verdict:
        if failed := precondition_failure(x, self.f, self.ledger, book=self.book):
            return self.verdict("deny", ["P7", failed.rule], [f"precondition failed: {failed.text}"])
        if self.check_messages and isinstance(x, a.NotifyCustomer):
            problems = message_problems(
                x.body, customer_email=self.f.customer.email, eta=x.eta, amounts_cents=self.amounts,
                own_refs=[self.f.order.id, self.f.customer.id, *(s.id for s in self.f.order.shipments),
                          *(r.id for r in self.f.order.returns)],
                is_foreign_ref=self.is_foreign_ref, book=self.book)
            if problems:
                return self.verdict("deny", ["C7"], problems)
        planner = self.approval is None
        if self.approval is not None and self.approval.added:
            return self.supervised(x)
        if planner and signature in self.applied_before:
            return self.verdict("deny", ["N0"], [f"N0: {p.action} repeats an action already applied for this "
                                                 "exception"])
        match = self.match(p, x)
        if match is None and self.approval is not None and self.approval.edited:
            return self.supervised(x)
        if match is None:
            if planner and signature in self.seen:
                return self.verdict("deny", ["N0"], [f"N0: {p.action} repeats an earlier proposal of this batch"])
            plan = self.plan(self.reading(p))
            gives = "; ".join(describe_step(s) for s in plan.steps) or "no action"
            why = f"the book gives {gives} here ({'; '.join(plan.notes)})"
            return self.verdict("deny", ["N0"], [f"N0: {p.action} is not what the book gives for this exception: "
                                                 f"{why}"])
        reading, plan, step = match
        v = self.holds(p, x.model_dump(), plan, step)
        return self.together(reading, plan, step, v) if step.after else v

    def reading(self, p: a.Proposal) -> str | None:
        if not self.free_text():
            return None
        return p.assumed.get("reason")

    def free_text(self) -> bool:
        """Whether the exception is a return whose only reason is a free-text claim."""
        ret = self.f.order.return_(self.f.exception.return_id)
        return self.f.exception.type == "return_dispute" and ret is not None and ret.reason is None

    def match(self, p: a.Proposal, x: a._Args) -> tuple[str | None, BookPlan, Step] | None:
        """The first step of the book's plan not yet matched that this proposal is: one step, one proposal."""
        reading = self.reading(p)
        readings: list[str | None] = [reading]
        if reading is None and self.free_text():
            readings = list(RETURN_REASONS)
        for r in readings:
            plan = self.plan(r)
            for i, step in enumerate(plan.steps):
                if (r, i) not in self.used and self.fits(step, x):
                    self.used[(r, i)] = self.current
                    return r, plan, step
        return None

    def fits(self, step: Step, x: a._Args) -> bool:
        """A planner's proposal is the book's step exactly (its body aside); an approval keeps its identity."""
        if step.action != _name(x):
            return False
        args = x.model_dump(exclude={MESSAGE_BODY})
        if self.approval is None:
            keys = (set(args) | set(step.args)) - set(step.free)
            return all(args.get(k) == step.args.get(k) for k in keys)
        relaxed = self.approval.edited
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

    def together(self, reading: str | None, plan: BookPlan, step: Step, v: Verdict) -> Verdict:
        """A refund goes with its cancellation, a message with the decision it announces (section 1).

        Either is held while what it goes with is held. A planner's refund whose cancellation is
        neither applied nor held is denied (M5); a planner's message then waits for its decision.
        """
        held: list[tuple[Step, Verdict]] = []
        missing: list[Step] = []
        for i, linked in enumerate(plan.steps):
            if not linked.tag or linked.tag not in step.after:
                continue
            proposal = self.used.get((reading, i))
            w = self.verdicts.get(proposal) if proposal is not None else None
            if w is not None and w.decision == "hold":
                held.append((linked, w))
            elif (w is None or w.decision == "deny") and not self.done_before(linked):
                missing.append(linked)
        if held:
            names = " and ".join(dict.fromkeys(s.action for s, _ in held))
            rules = [*v.rule_ids, *(r for _, w in held for r in w.rule_ids)]
            lead = v.required_role == "lead" or any(w.required_role == "lead" for _, w in held)
            return self.verdict("hold", rules, [*v.reasons, f"held with the {names} it goes with"],
                                "lead" if lead else "supervisor")
        if not missing or self.approval is not None:
            return v
        names = " and ".join(dict.fromkeys(s.action for s in missing))
        if step.action == "refund":
            return self.verdict("deny", ["M5"], [f"M5: this refund goes with a {names} that is neither applied "
                                                 "nor held"])
        return self.verdict("hold", v.rule_ids, [*v.reasons, f"held: the {names} it announces is neither "
                                                             "applied nor held"], v.required_role or "supervisor")

    def done_before(self, step: Step) -> bool:
        """Whether this step was applied for the exception before (the free arguments aside)."""
        return any(p.status == "applied" and p.action == step.action
                   and all(_same(p.args.get(k), v) for k, v in step.args.items() if k not in step.free)
                   for p in self.f.prior_actions)

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
                reasons.append(f"M2: goodwill {money_text(total)} would pass the {self.f.customer.tier} ceiling "
                               f"{money_text(ceiling)}")
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
            reasons.append(f"M4: {money_text(args['amount_cents'])} is over "
                           f"{money_text(money.lead_approval_over_cents)}: a lead approves")
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

    def supervised(self, x: a._Args) -> Verdict:
        """A supervisor's own action or values (an addition, or an edit the book's step no longer fits).

        N0 and the confidence thresholds do not apply: the supervisor's decision is the confidence.
        What denies still does (preconditions, the refundable amount, the message checks: checked
        before this). A payout over the lead limit needs a lead (M4), and goodwill counts against the
        ceiling: over it, it waits for a lead (M2), and a lead's own decision is that approval.
        """
        assert self.approval is not None
        action, args, money = _name(x), x.model_dump(), self.book.money
        rules: list[str] = []
        reasons: list[str] = []
        if is_goodwill(action, args, self.book):
            ceiling = money.goodwill_ceiling_cents.get(self.f.customer.tier, money.goodwill_ceiling_cents["standard"])
            total = self.goodwill_auto + args["amount_cents"]
            if total > ceiling:
                rules.append("M2")
                reasons.append(f"M2: goodwill {total} would pass the {self.f.customer.tier} ceiling {ceiling}: "
                               "a lead approves")
        if action in PAYOUTS and args["amount_cents"] > money.lead_approval_over_cents:
            rules.append("M4")
            reasons.append(f"M4: {args['amount_cents']} is over {money.lead_approval_over_cents}: a lead approves")
        who = "added" if self.approval.added else "edited"
        if rules and self.approval.role != "lead":
            return self.verdict("hold", rules, reasons, "lead")
        if is_goodwill(action, args, self.book):
            self.goodwill_auto += args["amount_cents"]
        return self.verdict("apply", rules, [*reasons, f"{who} by a {self.approval.role}: N0 does not apply"])

    def corroborated(self, p: a.Proposal, reading: str) -> tuple[float, list[str]]:
        """How far to trust a decision resting on a reading of free text: never more than the policy's reader."""
        ret = self.f.order.return_(self.f.exception.return_id)
        own = read_claim(ret.claim if ret else "")
        if p.assumed.get("reason") != reading:
            return 0.0, [f"A1: the decision rests on an unstated reading of the claim ({reading})"]
        if own.reason != reading:
            return 0.0, [f"A1: the claim reads as {own.reason} to the policy's reader, not {reading}"]
        return min(p.confidence, own.confidence), []

    def left_undone(self) -> tuple[Step, ...]:
        """The steps of the book's plan that could be applied or held and that no proposal applied or held."""
        reading = next((r for r, _ in sorted(self.used, key=lambda k: self.used[k])), None)
        if reading is None and self.free_text():
            ret = self.f.order.return_(self.f.exception.return_id)
            reading = read_claim(ret.claim if ret else "").reason
        plan = self.plan(reading)
        open_ = [i for i in range(len(plan.steps))
                 if (proposal := self.used.get((reading, i))) is None or self.verdicts[proposal].decision == "deny"]
        if not open_:
            return ()
        own = _Judge(self.f, self.is_foreign_ref, self.book, check_messages=False)
        book_verdicts = own.run([_as_proposal(s, dict(plan.reading)) for s in plan.steps], [None] * len(plan.steps))
        return tuple(plan.steps[i] for i in open_ if book_verdicts[i].decision != "deny")


def _as_proposal(step: Step, assumed: dict[str, str]) -> a.Proposal:
    args = dict(step.args)
    if step.action == "notify_customer":
        args[MESSAGE_BODY] = ""
    return a.Proposal(action=step.action, args=args, confidence=1.0, rule_ids=step.rule_ids, assumed=assumed)


def _signature(x: a._Args) -> str:
    """An action's identity for repeats: its name and arguments in one form (times as UTC), a message's body aside."""
    args = {k: _show(v) if isinstance(v, datetime) else v for k, v in x.model_dump().items() if k != MESSAGE_BODY}
    return json.dumps([_name(x), args], sort_keys=True)


def _parsed(prior: Sequence[PriorAction]) -> list[a._Args]:
    """Recorded actions as arguments (a record that no longer parses is no action of the book: skipped)."""
    out = []
    for p in prior:
        try:
            out.append(a.parse_args(p.action, dict(p.args)))
        except ValueError:
            continue
    return out


def _same(recorded: object, value: object) -> bool:
    """A recorded argument (JSON: times as ISO text) equal to a step's argument."""
    if isinstance(value, datetime) and isinstance(recorded, str):
        try:
            return datetime.fromisoformat(recorded.replace("Z", "+00:00")) == value
        except ValueError:
            return False
    return recorded == value


def _show(value: object) -> str:
    return iso(value) if isinstance(value, datetime) else str(value)


_NAMES = {model: name for name, model in a.ARGS.items()}


def _name(x: a._Args) -> str:
    return _NAMES[type(x)]

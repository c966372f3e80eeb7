"""The rules planner: the book's rules on structured facts; deterministic, no network.

Confidence is 1.0 where the facts decide; where a return has only a free-text
claim and the decision rests on reading it, the claim reader's confidence
carries over to every action of that reading, so an unclear claim is held
rather than guessed into money. (R1 comes before the reason: a decision on
the window rests on no reading.)
"""

from __future__ import annotations

from agents.messages import draft
from agents.planners.base import Plan
from core.facts import Facts
from policies.actions import Proposal
from policies.book import BOOK, PolicyBook
from policies.claims import read_claim
from policies.rules import book_plan


class RulesPlanner:
    name = "rules"
    version = "rules-1"

    def __init__(self, book: PolicyBook = BOOK) -> None:
        self.book = book

    def plan(self, facts: Facts) -> Plan:
        reading, confidence, notes = None, 1.0, []
        ret = facts.order.return_(facts.exception.return_id)
        if facts.exception.type == "return_dispute" and ret is not None and ret.reason is None:
            r = read_claim(ret.claim)
            reading, confidence = r.reason, r.confidence
            found = ", ".join(repr(e) for e in r.evidence) or "nothing recognisable"
            notes.append(f"no reason code; the claim reads as {r.reason} (confidence {r.confidence:.2f}; "
                         f"found {found})")
        plan = book_plan(facts, reason=reading, book=self.book)
        if not plan.reading:
            confidence = 1.0
        rationale = "; ".join([*notes, *plan.notes])
        proposals = []
        for step in plan.steps:
            args = dict(step.args)
            if step.action == "notify_customer":
                args["body"] = draft(args["topic"], customer_name=facts.customer.name, order_id=facts.order.id,
                                     eta=args.get("eta"))
            proposals.append(Proposal(action=step.action, args=args, confidence=confidence, rationale=rationale,
                                      rule_ids=step.rule_ids, assumed=plan.reading))
        return Plan(proposals=tuple(proposals), notes=(*notes, *plan.notes), planner=self.name,
                    version=self.version)

"""A decision resting on a reading of free text is trusted no more than the policy's own claim reader."""

from __future__ import annotations

from casekit import build, shared_case
from sqlmodel import Session

from core.facts import load_facts
from policies.actions import Proposal
from policies.judge import judge


def _final_sale_claim(claim: str):  # type: ignore[no-untyped-def]
    def tweak(c: dict) -> None:  # type: ignore[type-arg]
        order = c["world"]["orders"][0]
        for where in (order["lines"][0], order["shipments"][0]["lines"][0], order["returns"][0]["lines"][0]):
            where["sku"] = "SALE-COAT"
        order["lines"][0]["unit_price_cents"] = 12_000
        order["payment"]["captured_cents"] = 12_000
        order["shipments"][0]["carrier_delivered_scan"] = False
        order["returns"][0].update(reason=None, claim=claim)
    built = build(shared_case("return-free-text-damaged"), tweak)
    with Session(built.engine) as s:
        return load_facts(s, built.exception_id, built.now, 10)


def _approve(reading: str | None, confidence: float = 0.99) -> Proposal:
    return Proposal(action="approve_return", args={"return_id": "R-1", "amount_cents": 12_000},
                    confidence=confidence, assumed={"reason": reading} if reading else {})


def test_a_reading_the_claim_does_not_support_is_held_not_paid() -> None:
    facts = _final_sale_claim("I changed my mind, I don't want it anymore.")
    [v] = judge([_approve("not_received")], facts)  # a model that reads 'never arrived' into it
    assert v.decision == "hold" and "A1" in v.rule_ids
    assert any("reads as changed_mind" in r for r in v.reasons)


def test_an_unstated_reading_of_free_text_is_held() -> None:
    facts = _final_sale_claim("The parcel never arrived, I have not received anything.")
    [v] = judge([_approve(None)], facts)
    assert v.decision == "hold" and any("unstated reading" in r for r in v.reasons)


def test_a_reading_the_reader_shares_with_confidence_is_applied() -> None:
    facts = _final_sale_claim("The parcel never arrived, I have not received anything.")
    [v] = judge([_approve("not_received")], facts)
    assert v.decision == "apply"

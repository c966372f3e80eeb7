"""The policy's reader of free-text claims: what it reads, the evidence it shows, and how sure it says it is.

The book (section 1) holds a decision resting on free text that a planner cannot read with confidence; the
judge trusts a reading no more than this reader's confidence, so the confidence is part of the contract:
0.45 + 0.5 x margin x strength, to two decimals, where margin is how far the best reason leads the next
((top - runner-up) / top) and strength is how much evidence the best reason has (its score / 2.0, at most 1).
"""

from __future__ import annotations

import pytest

from policies.claims import read_claim


@pytest.mark.parametrize("claim", ["", "Please look at order O-1 again."])
def test_a_claim_with_no_evidence_is_read_as_not_as_described_with_low_confidence(claim: str) -> None:
    reading = read_claim(claim)
    assert (reading.reason, reading.confidence, reading.evidence, reading.scores) == \
        ("not_as_described", 0.30, (), {})


def test_a_reasons_score_is_the_sum_of_the_weights_of_its_evidence() -> None:
    assert read_claim("It is broken.").scores == {"damaged": 2.0}
    assert read_claim("It arrived broken.").scores == {"damaged": 2.0 + 2.0}
    assert read_claim("Wrong item, not what I ordered, and scratched.").scores == {"damaged": 2.0, "wrong_item": 5.0}


def test_the_evidence_is_the_text_each_pattern_matched_for_the_reason_read() -> None:
    reading = read_claim("It arrived broken.")
    assert reading.evidence == ("broken", "arrived broken")
    assert read_claim("Sent the wrong item and it is scratched.").evidence == ("wrong item",)


def test_the_scores_are_listed_by_reason_name() -> None:
    scores = read_claim("Wrong item, and it never arrived.").scores
    assert list(scores) == ["not_received", "wrong_item"]


@pytest.mark.parametrize(("claim", "reason"), [
    ("Sent the wrong item and it is scratched.", "wrong_item"),  # wrong_item 2.5 over damaged 2.0
    ("Wrong item, not what I ordered, and scratched.", "wrong_item"),  # 5.0 over 2.0
    ("It is scratched, and it never arrived.", "not_received"),  # 2.5 over 2.0
])
def test_the_reason_with_the_highest_score_is_read(claim: str, reason: str) -> None:
    assert read_claim(claim).reason == reason


def test_a_tie_between_two_reasons_goes_to_the_first_by_name_at_the_floor_of_confidence() -> None:
    reading = read_claim("Wrong item, and it never arrived.")
    assert reading.scores == {"not_received": 2.5, "wrong_item": 2.5}
    assert reading.reason == "not_received"
    assert reading.evidence == ("never arrived",)
    assert reading.confidence == 0.45  # no margin: the claim is held, never guessed into money


@pytest.mark.parametrize(("claim", "confidence"), [
    ("It is broken.", 0.95),  # one reason, strength 1: the most the reader ever says
    ("It arrived broken.", 0.95),  # more evidence never goes past 0.95
    ("falta", 0.70),  # not_received 1.0: strength 0.5
    ("defeito", 0.75),  # damaged 1.2: strength 0.6
    ("faltando", 0.82),  # not_received 1.5: strength 0.75, 0.825 to two decimals
    ("Sent the wrong item and it is scratched.", 0.55),  # 2.5 over 2.0: margin 0.2
    ("Wrong item, not what I ordered, and scratched.", 0.75),  # 5.0 over 2.0: margin 0.6, strength capped at 1
])
def test_the_confidence_grows_with_the_margin_over_the_next_reason_and_the_strength_of_the_evidence(
        claim: str, confidence: float) -> None:
    assert read_claim(claim).confidence == confidence


def test_accents_and_case_do_not_change_the_reading() -> None:
    assert read_claim("O produto NÃO FUNCIONA") == read_claim("o produto nao funciona")

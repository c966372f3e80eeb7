"""Section 7's message checks: a body that breaks one is denied, whatever else the book allows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from policy_world import PROMISED, Case, World_, add_shipment, customer, delay_case, hours, proposal, set_method

from policies.actions import Proposal
from policies.book import BOOK
from policies.messages import message_problems

ETA = PROMISED + hours(30)  # 2026-03-12 18:00 UTC


def _late(w: World_, *, express: bool = False) -> Case:
    if express:
        set_method(w, "express", fee=1_500)
    add_shipment(w, service="express" if express else "standard", eta=ETA)
    return delay_case(w)


def _notify_verdict(case: Case, body: str, *, with_payouts: bool = True) -> str:
    steps = [s for s in case.plan().steps if with_payouts or s.action == "notify_customer"]
    proposals = [proposal(s, body=body) for s in steps]
    verdicts = case.judge(proposals)
    return next(v for p, v in zip(proposals, verdicts, strict=True) if p.action == "notify_customer").decision


@pytest.mark.parametrize("body", [
    "Your order was flagged by our fraud team.",
    "Fraudulent activity was suspected.",
    "We saw a risk with this payment.",
    "Your order's score was too high.",
    "Our RISK checks delayed your parcel.",
])
def test_a_message_naming_fraud_risk_or_a_score_is_denied(world: World_, body: str) -> None:
    assert _notify_verdict(_late(world), body) == "deny"


@pytest.mark.parametrize(("body", "decision"), [
    ("It will now arrive on 2026-03-12 18:00 UTC.", "apply"),
    ("It will now arrive on 2026-03-13.", "apply"),
    ("It will now arrive on 2026-03-12.", "apply"),
    ("It will now arrive on 2026-03-12 17:59 UTC.", "deny"),
    ("It will now arrive on 2026-03-11.", "deny"),
])
def test_a_message_promising_a_date_earlier_than_the_eta_is_denied(world: World_, body: str, decision: str) -> None:
    assert _notify_verdict(_late(world), body) == decision


@pytest.mark.parametrize(("body", "decision"), [
    ("We have refunded your $15.00 shipping fee.", "apply"),
    ("We have refunded your $20.00 shipping fee.", "deny"),
    ("We have refunded your shipping fee of 15.00 USD.", "apply"),
])
def test_a_message_quoting_an_amount_other_than_the_one_applied_is_denied(
        world: World_, body: str, decision: str) -> None:
    assert _notify_verdict(_late(world, express=True), body) == decision


def test_a_message_quoting_an_amount_when_nothing_is_paid_is_denied(world: World_) -> None:
    assert _notify_verdict(_late(world), "We will refund $15.00.") == "deny"


def test_a_message_quoting_the_amount_of_a_denied_refund_is_denied(world: World_) -> None:
    case = _late(world, express=True)
    notify = next(s for s in case.plan().steps if s.action == "notify_customer")
    greedy = Proposal(action="refund", args={"order_id": "O-1", "amount_cents": 9_999, "reason": "goodwill"},
                      confidence=1.0)
    verdicts = case.judge([greedy, proposal(notify, body="We have refunded you $99.99.")])
    assert verdicts[0].decision == "deny"
    assert verdicts[1].decision == "deny"


@pytest.mark.parametrize(("email", "decision"), [("dana@example.com", "apply"), ("lee@example.com", "deny")])
def test_a_message_holding_another_customers_email_is_denied(world: World_, email: str, decision: str) -> None:
    body = f"We will write to {email} when it ships."
    assert _notify_verdict(_late(world), body) == decision


@pytest.mark.parametrize(("length", "decision"), [(1_000, "apply"), (1_001, "deny")])
def test_a_message_over_1000_characters_is_denied(world: World_, length: int, decision: str) -> None:
    body = ("Your parcel is on its way. " * 40)[:length]
    assert len(body) == length
    assert _notify_verdict(_late(world), body) == decision


def test_a_denied_message_is_recorded_with_the_message_check_rule(world: World_) -> None:
    case = _late(world)
    notify = next(s for s in case.plan().steps if s.action == "notify_customer")
    verdict = case.judge([proposal(notify, body="Our fraud screening slowed it down.")])[0]
    assert verdict.decision == "deny"
    assert "C7" in verdict.rule_ids
    assert verdict.reasons


def test_the_message_checks_read_the_customers_own_email_case_insensitively(world: World_) -> None:
    customer(world)["email"] = "Dana@Example.com"
    assert _notify_verdict(_late(world), "We will write to dana@example.com.") == "apply"


# --- message_problems on its own ----------------------------------------------------------------


def _problems(body: str, *, eta: datetime | None = ETA, amounts: tuple[int, ...] = ()) -> list[str]:
    return message_problems(body, customer_email="dana@example.com", eta=eta, amounts_cents=amounts)


def test_a_plain_message_has_no_problems() -> None:
    assert _problems("Hi Dana, your order O-1 is running late. Its new estimated delivery is 2026-03-12 18:00 UTC.") \
        == []


@pytest.mark.parametrize("body", ["fraud", "FRAUD check", "a risky order", "your score", "we scored it"])
def test_message_problems_names_every_forbidden_word(body: str) -> None:
    assert _problems(body)


def test_an_amount_with_one_decimal_digit_is_read_as_what_it_says() -> None:
    assert _problems("We refunded $15.5 to you.", amounts=(1_500,))


@pytest.mark.parametrize("body", ["It will arrive on March 11, 2026.", "It will arrive on 11 March 2026.",
                                  "Chega em 11 de março de 2026.", "Chega em 11/03/2026."])
def test_a_written_out_date_earlier_than_the_eta_is_a_problem(body: str) -> None:
    assert _problems(body)


def test_message_problems_allows_an_amount_that_is_applied() -> None:
    assert _problems("We refunded $1,500.00.", amounts=(150_000,)) == []
    assert _problems("We refunded $1,500.00.", amounts=(1_500,))


# --- links and markup: a customer message is plain text -------------------------------------------


@pytest.mark.parametrize("body", [
    "Track it at https://evil.example/track.",
    "Track it at www.evil.example.",
    "Hi <img src=x onerror=alert(1)>, your parcel is late.",
    "Your parcel is late. </p><script>steal()</script>",
    "Confirm [here](https://evil.example) please.",
    "Confirm [here](evil) please.",
    "![pixel](x.png) Your parcel is late.",
    "Click javascript:alert(1) to confirm.",
    "Your parcel &lt;is&gt; late.",
])
def test_a_message_carrying_a_link_or_markup_is_a_problem(body: str) -> None:
    problems = _problems(body)
    assert any("link or markup" in p for p in problems), problems


@pytest.mark.parametrize("body", [
    "Hi Dana, your order O-1 is late (sorry!). Reply to dana@example.com's thread, or call us: 2 < 3 days.",
    "We are *very* sorry: 3 > 2, and 1 + 1 = 2.",
])
def test_plain_text_with_punctuation_is_not_markup(body: str) -> None:
    assert _problems(body) == []


def test_a_message_with_a_link_is_denied_by_the_message_check_rule(world: World_) -> None:
    case = _late(world)
    notify = next(s for s in case.plan().steps if s.action == "notify_customer")
    verdict = case.judge([proposal(notify, body="Track your parcel at https://evil.example/t.")])[0]
    assert verdict.decision == "deny"
    assert "C7" in verdict.rule_ids
    assert any("link or markup" in r for r in verdict.reasons)


# --- every check linear in its input, the length check first ---------------------------------------

LONG = 200_000  # a quadratic check takes minutes on this, a linear one milliseconds
PATHOLOGICAL = {
    "digits": "1" * LONG,
    "an email-like run": "a" * LONG,
    "dotted words": "a." * (LONG // 2),
    "an address without a domain end": "a@" + "b" * LONG,
    "dashed capitals": "A-" * (LONG // 2),
    "a reference without an end": "A-" + "1" * LONG + "x",
    "digits before a currency": "1" * LONG + " US",
    "a month and spaces": "jan" + " " * LONG,
    "a scheme-like run": "a" * LONG + ":/",
    "open brackets": "[" * LONG,
    "angle brackets": "<" * LONG,
}


def test_an_over_long_body_is_refused_on_its_length_alone_and_at_once() -> None:
    started = time.perf_counter()
    problems = _problems("9" * 12_000)
    assert time.perf_counter() - started < 0.05
    assert problems == ["the body is 12000 characters, over 1000"]


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_every_message_check_is_linear_in_the_body(name: str) -> None:
    """With the length cap lifted, each check still reads a 200,000-character body in about half a second
    (the regexes that were quadratic took about a second at 2,000 characters and 17 s at 8,000)."""
    book = BOOK.model_copy(update={"messages": BOOK.messages.model_copy(update={"max_chars": 10 * LONG})})
    body = PATHOLOGICAL[name]
    started = time.perf_counter()
    message_problems(body, customer_email="dana@example.com", eta=ETA, is_foreign_ref=lambda _r: True, book=book)
    assert time.perf_counter() - started < 10.0, name  # ~0.5 s here; loose for loaded CI cores, minutes if quadratic


# --- what each problem says, and the edges of dates and amounts ---------------------------------------


@pytest.mark.parametrize(("body", "eta", "amounts", "problems"), [
    (" \n ", ETA, (), ["the body is empty"]),
    ("We refunded $20.00.", ETA, (1_500,), ["the body quotes 20.00, which is not an amount applied"]),
    ("It arrives on 2026-03-12.", None, (), ["the body promises a date (2026-03-12) but the action has no ETA"]),
    ("It arrives on 2026-03-11.", ETA, (),
     ["the body promises 2026-03-11 23:59, earlier than the ETA 2026-03-12 18:00"]),
])
def test_each_problem_says_what_is_wrong_with_the_body(body: str, eta: datetime | None, amounts: tuple[int, ...],
                                                       problems: list[str]) -> None:
    assert _problems(body, eta=eta, amounts=amounts) == problems


@pytest.mark.parametrize(("body", "cents"), [("Reembolsamos R$ 15,50.", 1_550), ("Reembolsamos R$ 1.500,00.", 150_000),
                                             ("Reembolsamos 15,5 reais.", 1_550)])
def test_an_amount_with_a_decimal_comma_is_read_as_what_it_says(body: str, cents: int) -> None:
    assert _problems(body, amounts=(cents,)) == []
    assert _problems(body) == [f"the body quotes {cents / 100:.2f}, which is not an amount applied"]


LATE_ETA = datetime(2026, 3, 12, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize("body", ["It arrives on 2026-03-12.", "It arrives on March 12, 2026.",
                                  "Chega em 12 de março de 2026.", "Chega em 12/03/2026."])
def test_a_date_alone_promises_the_whole_day_even_when_the_eta_is_late_that_day(body: str) -> None:
    assert _problems(body, eta=LATE_ETA) == []


@pytest.mark.parametrize(("body", "earlier"), [("2026-03-12 23:29", True), ("2026-03-12 23:30", False),
                                               ("2026-03-12 23:59", False)])
def test_a_time_promises_that_minute(body: str, earlier: bool) -> None:
    assert bool(_problems(f"It arrives at {body} UTC.", eta=LATE_ETA)) is earlier


@pytest.mark.parametrize("seconds", [0.25, 59.999])
def test_a_time_is_compared_with_the_etas_minute_whatever_its_seconds(seconds: float) -> None:
    eta = datetime(2026, 3, 12, 18, 0, tzinfo=UTC) + timedelta(seconds=seconds)
    assert _problems("It arrives at 2026-03-12 18:00 UTC.", eta=eta) == []
    assert _problems("It arrives at 2026-03-12 17:59 UTC.", eta=eta)


@pytest.mark.parametrize("body", ["Not on February 30, 2026 but on March 11, 2026.", "Not 2026-02-30 but 2026-03-11.",
                                  "Não em 30 de fevereiro de 2026, mas em 11 de março de 2026."])
def test_an_impossible_date_does_not_hide_the_dates_after_it(body: str) -> None:
    assert _problems(body) == ["the body promises 2026-03-11 23:59, earlier than the ETA 2026-03-12 18:00"]


@pytest.fixture(params=["<-03>3", "<+14>-14", "<+000030>-00:00:30"])
def machine_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to another than UTC (the last one's offset is not a whole minute)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_the_eta_is_read_in_utc_whatever_the_machines_time_zone(machine_zone: str) -> None:
    just_after_midnight = datetime(2026, 3, 12, 1, 0, tzinfo=UTC)
    assert _problems("It arrives on 2026-03-11.", eta=just_after_midnight)
    assert _problems("It arrives on 2026-03-12.", eta=just_after_midnight) == []
    late_in_a_minute = datetime(2026, 3, 12, 17, 59, 45, tzinfo=UTC)
    assert _problems("It arrives at 2026-03-12 17:59 UTC.", eta=late_in_a_minute) == []
    assert _problems("It arrives at 2026-03-12 17:58 UTC.", eta=late_in_a_minute)

"""The replay's report: a pure function of the data and the store, byte for byte the same every run.

Nothing wall-clock goes in (replay speed is printed to the terminal only).
Money is in the data's currency (BRL), integer cents; the book's ceilings
apply to those cents as written.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.jsonvalue import iso
from core.models import ActionRecord, Order, OrderException, Shipment
from core.olist.extract import Review
from core.olist.mapping import COMPLAINT_LABELS, Mapped, ReplayOrder
from core.olist.ratecard import GRAMS_CO2_PER_KM, MIN_KM, MIN_SAMPLES, RateCard
from evals.analysis import NO_ACTION
from evals.olist.replay import ReplayLog
from policies.book import BOOK
from policies.claims import read_claim

READER_TO_LABEL: dict[str, str] = {
    "not_as_described": "diferente_do_anunciado",
    "wrong_item": "diferente_do_anunciado",
    "damaged": "baixa_qualidade",
    "changed_mind": "devolucao",
    "not_received": "entrega_parcial",
}
"""The claim reader's return reasons, as the annotators' complaint labels (a reading with no evidence is `unsure`)."""
UNSURE = "unsure"
BUCKETS: tuple[tuple[float, str], ...] = (
    (-168, "more than 7 days before"), (-24, "1-7 days before"), (0, "up to 1 day before"),
    (4, "0-4 h after"), (4.0001, "4 h after"), (12, "4-12 h after"), (float("inf"), "12 h or more after"))


def build_report(engine: Engine, mapped: Mapped, card: RateCard, log: ReplayLog, *, orders: Sequence[ReplayOrder],
                 complaints: Iterable[Review]) -> dict[str, Any]:
    """Every figure of the report; `orders` are the orders that were replayed (after --limit)."""
    with Session(engine) as s:
        exceptions = list(s.exec(select(OrderException).order_by(col(OrderException.id))).all())
        records = list(s.exec(select(ActionRecord).order_by(col(ActionRecord.id))).all())
        shipments = list(s.exec(select(Shipment).order_by(col(Shipment.id))).all())
        order_states = Counter(s.exec(select(Order.status)).all())
    return {
        "data": _data(mapped, orders, log),
        "conventions": _conventions(),
        "rate_card": _rate_card(mapped, card),
        "orders_by_final_state": dict(sorted(order_states.items())),
        "exceptions": _exceptions(exceptions, log),
        "delays": _delays(log, orders, exceptions, shipments),
        "decisions": _decisions(exceptions, records),
        "money_cents": _money(records),
        "classifier": classifier_agreement(complaints),
        "virtual_clock": {"start": iso(log.started) if log.started else None,
                          "end": iso(log.ended) if log.ended else None},
    }


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# --- sections ---------------------------------------------------------------------------------------


def _data(mapped: Mapped, orders: Sequence[ReplayOrder], log: ReplayLog) -> dict[str, Any]:
    return {
        "orders_mapped": len(mapped.orders), "orders_replayed": log.orders,
        "orders_replayed_by_status": dict(sorted(Counter(o.status for o in orders).items())),
        "complaints_mapped": len(mapped.reviews), "complaints_replayed": log.reviews,
        "not_mapped": dict(sorted(mapped.rejects.items())),
        "mapped_with_a_correction": dict(sorted(mapped.adjusted.items())),
    }


def _conventions() -> dict[str, str]:
    return {
        "time": "Olist's zone-less timestamps are read as UTC-03:00 and stored in UTC; a promise is the estimated "
                "delivery day at midnight local (03:00Z)",
        "money": "BRL, integer cents; the book's thresholds apply to those cents as written",
        "fraud": "the extract has no screening score: every order screens 0.0",
        "unavailable": "no items in the extract: one placeholder line of value 0 at a placeholder seller with no stock",
        "canceled": "no cancellation time in the extract: cancelled as placed",
        "delay_checks": "missed_dispatch at the seller's shipping limit with no hand-off (ETA = now + lane transit); "
                        f"overdue at promise + {BOOK.triggers.delay_hours:g} h with no delivery (ETA = now + the "
                        "rate card's overdue forecast for the lane); allocation: the book's ETA trigger",
        "complaints": "each labelled complaint is replayed on an order rebuilt from its review row (the rows carry "
                      "no order id), delivered with a carrier scan, and disputed at the review date with the "
                      "Portuguese text as the claim and no reason code",
    }


def _rate_card(mapped: Mapped, card: RateCard) -> dict[str, Any]:
    regions = {x["id"]: x["region"] for x in mapped.locations}
    pairs = sorted({(regions[x["from_location"]], x["to_region"]) for x in mapped.lanes
                    if regions[x["from_location"]] != "BR"})
    sources = Counter(card.rate(a, b).source for a, b in pairs)
    overdue_sources = Counter(card.rate(a, b).overdue_source for a, b in pairs)
    return {
        "samples": card.samples, "state_pairs": len(pairs),
        "lanes": sum(1 for x in mapped.lanes if regions[x["from_location"]] != "BR"),
        "pairs_by_source": dict(sorted(sources.items())),
        "overdue_forecast_by_source": dict(sorted(overdue_sources.items())),
        "fallback": f"a pair with fewer than {MIN_SAMPLES} samples takes the median of every leg into the customer's "
                    f"state; a state with fewer, the national median",
        "co2": f"{GRAMS_CO2_PER_KM} g per km between state centroids, at least {MIN_KM} km",
    }


def _exceptions(exceptions: list[OrderException], log: ReplayLog) -> dict[str, Any]:
    return {
        "by_type": dict(sorted(Counter(x.type for x in exceptions).items())),
        "by_check": dict(sorted(Counter(f"{r.type}:{r.check}" for r in log.raised).items())),
        "by_final_state": dict(sorted(Counter(f"{x.type}:{x.state}" for x in exceptions).items())),
    }


def _bucket(hours: float) -> str:
    return next(name for bound, name in BUCKETS if hours < bound)


def _delays(log: ReplayLog, orders: Sequence[ReplayOrder], exceptions: list[OrderException],
            shipments: list[Shipment]) -> dict[str, Any]:
    delays = [r for r in log.raised if r.type == "delay"]
    hours = {r.exception_id: (r.raised_at - r.promised_by).total_seconds() / 3600 for r in delays}
    by_check: dict[str, Any] = {}
    for check in sorted({r.check for r in delays}):
        values = sorted(hours[r.exception_id] for r in delays if r.check == check)
        by_check[check] = {
            "n": len(values), "min": round(values[0], 1), "median": round(statistics.median(values), 1),
            "max": round(values[-1], 1),
            "buckets": {name: n for _, name in BUCKETS if (n := sum(_bucket(v) == name for v in values))}}
    trigger = timedelta(hours=BOOK.triggers.delay_hours)
    shipment_of = {x.id: x.shipment_id for x in exceptions}
    per_shipment = Counter(shipment_of[r.exception_id] for r in delays if r.check == "overdue")
    ships_of: dict[str, list[str]] = {}
    for shp in shipments:
        ships_of.setdefault(shp.order_id, []).append(shp.id)
    state_of = {x.id: x.state for x in exceptions}
    open_before = {shipment_of[r.exception_id] or "" for r in delays
                   if r.check != "overdue" and state_of[r.exception_id] == "awaiting_approval"}
    late = [o for o in orders if o.late]
    expected = [o for o in late if o.delivered_at is not None and o.delivered_at >= o.promised_by + trigger]
    caught = [o for o in expected if all(per_shipment[s] >= 1 or s in open_before for s in ships_of.get(o.id, []))]
    by_overdue = [o for o in expected if all(per_shipment[s] >= 1 for s in ships_of.get(o.id, []))]
    twice = [s for s, n in per_shipment.items() if n > 1]
    on_time = {o.id for o in orders if o.delivered_at is not None and not o.late}
    never = {o.id for o in orders if o.delivered_at is None and o.status != "canceled"}
    overdue_orders = Counter(r.order_id for r in delays if r.check == "overdue")
    return {
        "hours_after_promise_when_raised": by_check,
        "vs_late_deliveries": {
            "late_deliveries": len(late),
            "late_by_less_than_the_trigger": len(late) - len(expected),
            "undelivered_at_promise_plus_trigger": len(expected),
            "caught": len(caught),
            "caught_by_the_overdue_check": len(by_overdue),
            "caught_earlier_by_a_held_delay": len(caught) - len(by_overdue),
            "missed": len(expected) - len(caught),
            "shipments_raised_more_than_once": len(twice),
            "overdue_delays_on_orders_delivered_on_time": sum(overdue_orders[o] for o in on_time),
            "overdue_delays_on_orders_never_delivered": sum(overdue_orders[o] for o in never),
        },
    }


def _decisions(exceptions: list[OrderException], records: list[ActionRecord]) -> dict[str, Any]:
    by_rule: dict[str, Counter[str]] = {}
    for r in records:
        for rule in r.verdict.get("rule_ids", []) or ["-"]:
            by_rule.setdefault(rule, Counter())[r.status] += 1
    acted = {r.exception_id for r in records}
    none = [x for x in exceptions if x.id not in acted and x.state == "resolved"]
    if none:
        by_rule.setdefault(NO_ACTION, Counter())["resolved_with_no_action"] = len(none)  # N0 is a denial
    outcome: dict[str, Counter[str]] = {}
    for x in exceptions:
        kind = {"resolved": "auto_resolved", "awaiting_approval": "held"}.get(x.state, x.state)
        outcome.setdefault(x.type, Counter())[kind] += 1
    total = Counter[str]()
    for c in outcome.values():
        total.update(c)
    return {
        "by_rule": {k: dict(sorted(v.items())) for k, v in sorted(by_rule.items())},
        "actions": dict(sorted(Counter(f"{r.action}:{r.status}" for r in records).items())),
        "exceptions_auto_vs_held": {"total": dict(sorted(total.items())),
                                    **{k: dict(sorted(v.items())) for k, v in sorted(outcome.items())}},
    }


def _money(records: list[ActionRecord]) -> dict[str, Any]:
    paid: Counter[str] = Counter()
    for r in records:
        amount = r.args.get("amount_cents")
        if r.action in ("refund", "store_credit", "approve_return") and isinstance(amount, int):
            what = f"refund:{r.args.get('reason')}" if r.action == "refund" else r.action
            paid[f"{r.status}:{what}"] += amount
    applied = {k.split(":", 1)[1]: v for k, v in sorted(paid.items()) if k.startswith("applied:")}
    held = {k.split(":", 1)[1]: v for k, v in sorted(paid.items()) if k.startswith("held:")}
    return {"paid_out": applied, "paid_out_total": sum(applied.values()),
            "held_for_approval": held, "held_for_approval_total": sum(held.values())}


# --- the classifier ---------------------------------------------------------------------------------


def classifier_agreement(complaints: Iterable[Review]) -> dict[str, Any]:
    """The claim reader against the annotators' most-voted label, on every labelled complaint with text."""
    threshold = next(c.auto_confidence for c in BOOK.autonomy.classes if c.name == "returns")
    pairs: list[tuple[str, str, float]] = []
    for r in complaints:
        if r.label not in COMPLAINT_LABELS or not r.text:
            continue
        reading = read_claim(r.text)
        predicted = READER_TO_LABEL[reading.reason] if reading.evidence else UNSURE
        pairs.append((r.label, predicted, reading.confidence))
    labels = sorted(COMPLAINT_LABELS)
    per_label = {}
    for label in labels:
        tp = sum(1 for t, p, _ in pairs if t == label and p == label)
        fp = sum(1 for t, p, _ in pairs if t != label and p == label)
        fn = sum(1 for t, p, _ in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[COMPLAINT_LABELS[label]] = {"support": tp + fn, "precision": round(precision, 3),
                                              "recall": round(recall, 3), "f1": round(f1, 3)}
    confident = [(t, p) for t, p, c in pairs if c >= threshold and p != UNSURE]
    return {
        "complaints": len(pairs),
        "label_mapping": {reason: COMPLAINT_LABELS[label] for reason, label in READER_TO_LABEL.items()},
        "per_label": per_label,
        "macro_f1": round(sum(x["f1"] for x in per_label.values()) / len(per_label), 3),
        "accuracy": round(sum(t == p for t, p, _ in pairs) / len(pairs), 3) if pairs else 0.0,
        "unsure": sum(p == UNSURE for _, p, _ in pairs),
        "confident_readings": {"threshold": threshold, "n": len(confident),
                               "agree": sum(t == p for t, p in confident)},
        "confusion": {COMPLAINT_LABELS[t]: dict(sorted(Counter(
            COMPLAINT_LABELS.get(p, p) for tt, p, _ in pairs if tt == t).items())) for t in labels},
    }

"""The book's rules applied to facts: what the policy gives for one exception.

`book_plan` is the single encoding of sections 3-6. The rules planner
proposes exactly this plan; the judge checks any planner's proposals against
it, so a planner (or a prompt-injected model) can never obtain more than the
book gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import hours_between
from core.facts import Facts, ItemFacts, ShipmentFacts
from core.money import percent_of
from core.routing import LaneQuote, Option, build_options, cheapest, soonest, within_extra_cost
from policies.book import BOOK, PolicyBook


@dataclass(frozen=True)
class Step:
    """One action the book gives, the rules that give it, and the rules that hold it alone.

    `tag` names a decision other steps go with; `after` names the decisions this step goes with
    (a cancellation's refund and notice, a return decision's message: section 1, "A batch is judged
    as a whole" and "Messages wait with the decision they announce"). `free` lists arguments the
    book leaves to the planner (a cancellation's reason where the book names none).
    """

    action: str
    args: dict[str, Any]
    rule_ids: tuple[str, ...]
    hold_rules: tuple[str, ...] = ()
    tag: str = ""
    after: tuple[str, ...] = ()
    free: tuple[str, ...] = ()


@dataclass(frozen=True)
class BookPlan:
    steps: tuple[Step, ...]
    case_hold: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    reading: dict[str, str] = field(default_factory=dict)
    eta: datetime | None = None


RETURN_REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind", "not_received")
CANCEL_REASONS_GIVEN = ("fraud",)
"""The cancellation reasons the book names (F4: reason `fraud`); elsewhere the reason is the planner's."""


def book_plan(facts: Facts, *, reason: str | None = None, book: PolicyBook = BOOK) -> BookPlan:
    """The book's answer for this exception. `reason` reads a return that has no reason code."""
    match facts.exception.type:
        case "delay":
            return _Delay(facts, book).plan()
        case "stockout":
            return _Stockout(facts, book).plan()
        case "fraud_hold":
            return _fraud(facts, book)
        case "return_dispute":
            return _returns(facts, book, reason)
    return BookPlan(steps=(), notes=(f"unknown exception type {facts.exception.type!r}",))


# --- shared pieces -----------------------------------------------------------------------------

def options(f: Facts, *, current_cost: int, items: tuple[ItemFacts, ...],
             counts_as_stocked: str | None = None, exclude: set[tuple[str, str]] | None = None,
             locations: set[str] | None = None) -> list[Option]:
    """The book's options to the order's region (policy.md, "Options"), with ATP judged for `items`."""
    def has_atp(location: str) -> bool:
        return location == counts_as_stocked or all(f.atp(location, i.sku) >= i.qty for i in items)

    quotes = [
        LaneQuote(location=lane.from_location, handling_hours=f.locations[lane.from_location].handling_hours,
                  service=lane.service, transit_hours=lane.transit_hours, cost_cents=lane.cost_cents,
                  co2_grams=lane.co2_grams)
        for lane in f.lanes_to(f.order.ship_region)
        if lane.from_location in f.locations
        and (locations is None or lane.from_location in locations)
        and (lane.from_location, lane.service) not in (exclude or set())
    ]
    return build_options(quotes, now=f.now, promised_by=f.order.promised_by, current_cost_cents=current_cost,
                         carbon_cents_per_kg=f.carbon_cents_per_kg, has_atp=has_atp)


def lane_cost(f: Facts, location: str, service: str) -> int:
    """The current lane's cost (0 where there is none), which extra costs count from."""
    lane = f.lane(location, f.order.ship_region, service)
    return lane.cost_cents if lane else 0


def _delay_steps(f: Facts, eta: datetime, book: PolicyBook, *, notify: bool = True) -> list[Step]:
    """D3 then D1, on the ETA of the plan that is applied."""
    d = book.delays
    hours = hours_between(eta, f.order.promised_by)
    steps: list[Step] = []
    if not f.order.goodwill_given:
        method = f.order.shipping_method
        if method in d.express_methods and hours >= d.express_goodwill_hours and f.order.fee_cents > 0:
            steps.append(Step("refund", {"order_id": f.order.id, "amount_cents": f.order.fee_cents,
                                         "reason": "shipping_fee"}, ("D3",)))
        elif method not in d.express_methods and hours >= d.standard_goodwill_hours:
            credit = percent_of(f.order.merchandise_cents, d.standard_credit_percent)
            credit = min(max(credit, d.standard_credit_min_cents), d.standard_credit_max_cents)
            steps.append(Step("store_credit", {"customer_id": f.customer.id, "amount_cents": credit,
                                               "reason": "delay"}, ("D3",)))
    if notify and hours >= d.notify_hours:
        steps.append(Step("notify_customer", {"order_id": f.order.id, "topic": "delay", "eta": eta}, ("D1",)))
    return steps


def _cancel_steps(f: Facts, items: tuple[ItemFacts, ...], rule: str, reason: str) -> list[Step]:
    """Cancel these units (the whole order if that cancels every line) with the refund of section 2."""
    remaining: dict[str, int] = {}
    for line in f.order.lines:
        if line.status != "cancelled":
            remaining[line.sku] = remaining.get(line.sku, 0) + line.qty
    for item in items:
        remaining[item.sku] = remaining.get(item.sku, 0) - item.qty
    steps: list[Step] = []
    if all(qty <= 0 for qty in remaining.values()):
        free = () if reason in CANCEL_REASONS_GIVEN else ("reason",)
        steps.append(Step("cancel_order", {"order_id": f.order.id, "reason": reason}, (rule,), tag="cancel",
                          free=free))
        if f.order.refundable_cents > 0:
            steps.append(Step("refund", {"order_id": f.order.id, "amount_cents": f.order.refundable_cents,
                                         "reason": "order_cancel"}, (rule, "M5"), after=("cancel",)))
    else:
        for n, item in enumerate(items):
            tag = f"cancel-{n}"
            steps.append(Step("cancel_line", {"order_id": f.order.id, "sku": item.sku, "qty": item.qty}, (rule,),
                              tag=tag))
            amount = item.qty * f.order.unit_price(item.sku)
            if amount > 0:
                steps.append(Step("refund", {"order_id": f.order.id, "amount_cents": amount,
                                             "reason": "line_cancel"}, (rule, "M5"), after=(tag,)))
    cancels = tuple(s.tag for s in steps if s.tag)
    steps.append(Step("notify_customer", {"order_id": f.order.id, "topic": "cancellation"}, (rule,), after=cancels))
    return steps


# --- section 3: delays -------------------------------------------------------------------------

class _Delay:
    def __init__(self, facts: Facts, book: PolicyBook) -> None:
        self.f, self.book = facts, book

    def plan(self) -> BookPlan:
        f = self.f
        shipment = f.order.shipment(f.exception.shipment_id)
        if shipment is not None and shipment.status == "delivered" and shipment.delivered_at is not None:
            return self._delivered(shipment.delivered_at)
        if shipment is None or shipment.status in ("delivered", "cancelled"):
            state = "missing" if shipment is None else shipment.status
            return BookPlan(steps=(), notes=(f"shipment is {state}: nothing to recover",))
        if shipment.status == "lost":
            return self._lost(shipment)
        return self._late(shipment)

    def _delivered(self, delivered_at: datetime) -> BookPlan:
        """Delivered while its case waited (section 1, "Plans go stale"): D3 on delivered_at - promised_by only.

        Nothing is left to recover and the customer, who has the parcel, needs no notice.
        """
        hours = hours_between(delivered_at, self.f.order.promised_by)
        steps = _delay_steps(self.f, delivered_at, self.book, notify=False)
        return BookPlan(steps=tuple(steps), notes=(f"delivered {hours:.1f} h late: goodwill only (D3)",),
                        eta=delivered_at)

    def _lost(self, s: ShipmentFacts) -> BookPlan:
        f = self.f
        best = soonest(o for o in options(f, current_cost=lane_cost(f, s.location, s.service), items=s.lines)
                       if o.has_atp)
        if best is None:
            steps = _cancel_steps(f, s.lines, "D4", "lost")
            return BookPlan(steps=tuple(steps), notes=("lost, and no location has the ATP: cancel (D4)",))
        reroute = Step("reroute_shipment", {"shipment_id": s.id, "to_location": best.location,
                                            "service": best.service, "reship": True}, ("D4",))
        notes = (f"lost: reship from {best.location} by {best.service}, ETA {best.eta:%Y-%m-%d %H:%M} (D4)",)
        return BookPlan(steps=(reroute, *_delay_steps(f, best.eta, self.book)), notes=notes, eta=best.eta)

    def _late(self, s: ShipmentFacts) -> BookPlan:
        f, d = self.f, self.book.delays
        eta, steps, notes = s.eta, [], []
        if s.status in ("created", "picked"):
            cap = max(d.reroute_extra_cost_floor_cents,
                      percent_of(f.order.merchandise_cents, d.reroute_extra_cost_percent))
            opts = options(f, current_cost=lane_cost(f, s.location, s.service), items=s.lines,
                           counts_as_stocked=s.location, exclude={(s.location, s.service)})
            best = cheapest(within_extra_cost((o for o in opts if o.has_atp and o.meets_promise), cap))
            if best is not None:
                steps.append(Step("reroute_shipment", {"shipment_id": s.id, "to_location": best.location,
                                                       "service": best.service, "reship": False}, ("D2",)))
                eta = best.eta
                notes.append(f"promise recovered from {best.location} by {best.service} (D2)")
            else:
                notes.append(f"no option meets the promise within {cap} extra (D2)")
        hours = hours_between(eta, f.order.promised_by)
        notes.append(f"delay on the applied plan: {hours:.1f} h")
        steps += _delay_steps(f, eta, self.book)
        case_hold = ("D5",) if hours >= d.very_late_hours else ()
        return BookPlan(steps=tuple(steps), case_hold=case_hold, notes=tuple(notes), eta=eta)


# --- section 4: stockouts ----------------------------------------------------------------------

class _Stockout:
    def __init__(self, facts: Facts, book: PolicyBook) -> None:
        self.f, self.book = facts, book

    def plan(self) -> BookPlan:
        f, s = self.f, self.book.stockouts
        sku, short, here = f.exception.sku or "", f.exception.short_qty or 0, f.exception.location or ""
        line = next((x for x in f.order.lines if x.sku == sku and x.location == here
                     and x.status in ("open", "backordered")), None)
        if line is None or short <= 0:
            return BookPlan(steps=(), notes=(f"no open line of {sku} at {here}: nothing to move",))
        if f.atp(here, sku) >= short:  # stock arrived while the case waited (section 1, "Plans go stale")
            return BookPlan(steps=(), notes=(f"{here} now has {short} of {sku}: the line can be allocated there",))
        items = (ItemFacts(sku=sku, qty=short),)
        others = {loc for loc in f.locations if loc != here}
        opts = options(f, current_cost=lane_cost(f, line.location, f.order.shipping_method), items=items,
                       locations=others)
        stocked = [o for o in opts if o.has_atp]
        best = cheapest(within_extra_cost((o for o in stocked if o.meets_promise), s.move_extra_cost_cap_cents))
        if best is not None:
            holds = ("S1",) if self._locations_after_move(sku, here, best.location, short) > \
                s.max_open_line_locations else ()
            step = Step("reallocate_line", {"order_id": f.order.id, "sku": sku, "qty": short,
                                            "to_location": best.location}, ("S1",), hold_rules=holds)
            return BookPlan(steps=(step,), notes=(f"move to {best.location} ({best.service}) (S1)",))
        late = soonest(stocked)
        if late is not None:
            steps = [Step("reallocate_line", {"order_id": f.order.id, "sku": sku, "qty": short,
                                              "to_location": late.location}, ("S2",)),
                     *_delay_steps(f, late.eta, self.book, notify=False),
                     Step("notify_customer", {"order_id": f.order.id, "topic": "delay", "eta": late.eta}, ("S2",))]
            return BookPlan(steps=tuple(steps), notes=(f"move late to {late.location} (S2)",), eta=late.eta)
        restock = f.products[sku].restock_at if sku in f.products else None
        if restock is not None and restock <= f.order.promised_by + timedelta(days=s.backorder_grace_days):
            steps = [Step("backorder_line", {"order_id": f.order.id, "sku": sku, "qty": short,
                                             "expected_at": restock}, ("S3",)),
                     Step("notify_customer", {"order_id": f.order.id, "topic": "backorder"}, ("S3",))]
            return BookPlan(steps=tuple(steps), notes=("no stock anywhere; restock in time: backorder (S3)",))
        return BookPlan(steps=tuple(_cancel_steps(f, items, "S3", "stockout")),
                        notes=("no stock anywhere and no restock in time: cancel (S3)",))

    def _locations_after_move(self, sku: str, here: str, to: str, short: int) -> int:
        """Where the order's open lines sit once `short` units of `sku` leave `here` (latest lines move first).

        A short pick splits a line, so several lines of one sku may sit at one location.
        """
        where: set[str] = set()
        left = short
        for line in sorted(self.f.order.lines, key=lambda x: -x.line_no):
            if line.status in ("shipped", "delivered", "cancelled"):
                continue
            moved = min(left, line.qty) if (line.sku, line.location) == (sku, here) else 0
            left -= moved
            if line.qty - moved > 0:
                where.add(line.location)
            if moved:
                where.add(to)
        return len(where)


# --- section 5: fraud holds --------------------------------------------------------------------

def _fraud(f: Facts, book: PolicyBook) -> BookPlan:
    fr, o, c = book.fraud, f.order, f.customer
    score = o.fraud_score
    if score < fr.hold_score:
        return BookPlan(steps=(Step("release_hold", {"order_id": o.id}, ("F1",)),),
                        notes=(f"score {score:.2f} below {fr.hold_score:.2f} (F1)",))
    if score < fr.gray_upper:
        trusted = (c.delivered_orders >= fr.trusted_delivered_orders
                   and c.chargebacks <= fr.trusted_max_chargebacks
                   and o.ship_address_id in c.delivered_addresses)
        if trusted:
            return BookPlan(steps=(Step("release_hold", {"order_id": o.id}, ("F2",)),),
                            notes=("gray zone, trusted customer at a known address (F2)",))
        return BookPlan(steps=(Step("notify_customer", {"order_id": o.id, "topic": "verification"}, ("F2",)),),
                        case_hold=("F2",), notes=("gray zone, not trusted: ask to verify (F2)",))
    whole_order = tuple(ItemFacts(sku=x.sku, qty=x.qty) for x in o.lines if x.status != "cancelled")
    cancel = _cancel_steps(f, whole_order, "F4", "fraud")
    if score < fr.cancel_score:
        steps = tuple(Step(s.action, s.args, ("F3", *s.rule_ids)) for s in cancel)
        return BookPlan(steps=steps, case_hold=("F3",), notes=(f"score {score:.2f}: held, proposing F4 (F3)",))
    left = any(s.status in fr.left_statuses for s in o.shipments)
    big = o.merchandise_cents > fr.cancel_review_over_cents
    hold = ("F4",) if (left or big) else ()
    why = "a shipment has left" if left else "merchandise over the review line" if big else "cancel"
    return BookPlan(steps=tuple(cancel), case_hold=hold, notes=(f"score {score:.2f}: {why} (F4)",))


# --- section 6: returns ------------------------------------------------------------------------

def _returns(f: Facts, book: PolicyBook, reading: str | None) -> BookPlan:
    r_book, o = book.returns, f.order
    ret = o.return_(f.exception.return_id)
    if ret is None or ret.status not in r_book.undecided_statuses:
        state = "missing" if ret is None else ret.status
        return BookPlan(steps=(), notes=(f"return is {state}: nothing to decide",))
    reason = ret.reason or reading
    assumed = {} if ret.reason else ({"reason": reading} if reading else {})
    if reason is None:
        return BookPlan(steps=(), notes=("no reason code and no reading of the claim",))
    paid = _paid(f, ret.lines)
    abuse = _abuse(f, book)

    def decided(step: Step, rule: str) -> list[Step]:
        message = Step("notify_customer", {"order_id": o.id, "topic": "return_decision"}, (rule,),
                       after=(step.tag,))
        return [step, message]

    def approve(rule: str, value: int = paid) -> Step:
        amount = min(value, o.refundable_cents)
        cut = ("R8",) if amount < value else ()
        return Step("approve_return", {"return_id": ret.id, "amount_cents": amount}, (rule, *cut),
                    hold_rules=("R7",) if abuse else (), tag="decision")

    def deny(rule: str, why: str) -> Step:
        return Step("deny_return", {"return_id": ret.id, "reason": why}, (rule,), tag="decision")

    window = timedelta(days=r_book.window_days.get(f.customer.tier, r_book.window_days["standard"]))
    inside = tuple(i for i in ret.lines if not _outside(f, i, window))
    if not inside:
        held = ("R1",) if f.customer.tier in r_book.window_held_tiers else ()
        return BookPlan(steps=tuple(decided(deny("R1", "outside_window"), "R1")), case_hold=held,
                        notes=("outside the return window (R1)",))
    if len(inside) < len(ret.lines):  # R1 comes before the reason: neither plan rests on a reading of the claim
        return BookPlan(steps=tuple(decided(approve("R1", _paid(f, inside)), "R1")), case_hold=("R1",),
                        notes=("lines on both sides of the return window: held, approving those inside (R1)",))
    final_sale = any(not f.products[i.sku].returnable for i in ret.lines if i.sku in f.products)
    if final_sale and reason in r_book.final_sale_denied_reasons:
        return BookPlan(steps=tuple(decided(deny("R2", "final_sale"), "R2")),
                        notes=("final sale (R2)",), reading=assumed)
    if final_sale and reason in r_book.final_sale_held_reasons:
        return BookPlan(steps=tuple(decided(approve("R2"), "R2")), case_hold=("R2",),
                        notes=("final sale, damaged or wrong: held (R2)",), reading=assumed)
    hold: tuple[str, ...]
    match reason:
        case "damaged" | "wrong_item" if ret.evidence:
            steps, hold, note = decided(approve("R3"), "R3"), (), "with evidence: approve (R3)"
        case "damaged" | "wrong_item":
            steps = [Step("notify_customer", {"order_id": o.id, "topic": "info_request"}, ("R3",))]
            hold, note = (), "no evidence: ask for it (R3)"
        case "not_as_described":
            steps, hold, note = decided(approve("R4"), "R4"), (), "not as described: approve (R4)"
        case "changed_mind":
            steps, hold, note = decided(approve("R5"), "R5"), (), "changed mind in the window: approve (R5)"
        case "not_received":
            scanned = _delivery_scanned(f, ret.lines)
            steps = decided(approve("R6"), "R6")
            hold = ("R6",) if scanned else ()
            note = "not received, carrier scanned delivery: held (R6)" if scanned else "no delivery scan (R6)"
        case _:
            return BookPlan(steps=(), notes=(f"unknown return reason {reason!r}",))
    return BookPlan(steps=tuple(steps), case_hold=hold, notes=(note,), reading=assumed)


def _holding_shipments(f: Facts, items: tuple[ItemFacts, ...]) -> list[ShipmentFacts]:
    skus = {i.sku for i in items}
    return [s for s in f.order.shipments if s.status != "cancelled" and skus & {x.sku for x in s.lines}]


def _paid(f: Facts, items: tuple[ItemFacts, ...]) -> int:
    """A return's paid value: its lines' qty × unit price."""
    return sum(i.qty * f.order.unit_price(i.sku) for i in items)


def _outside(f: Facts, item: ItemFacts, window: timedelta) -> bool:
    """Whether this returned line is past its window, counted from its own shipment (R1).

    A line came in the shipment that holds its sku; where a sku came in more than one, the latest
    delivery counts. A line no shipment holds has no delivery to count from: it is inside.
    """
    times = [s.delivered_at or s.eta for s in _holding_shipments(f, (item,))]
    return bool(times) and f.now > max(times) + window


def _delivery_scanned(f: Facts, items: tuple[ItemFacts, ...]) -> bool:
    return any(s.carrier_delivered_scan for s in _holding_shipments(f, items))


def _abuse(f: Facts, book: PolicyBook) -> bool:
    m = book.money
    return f.customer.refunds_90d >= m.abuse_refunds_90d or f.customer.returns_90d >= m.abuse_returns_90d

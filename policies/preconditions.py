"""Section 7's preconditions as pure checks over facts.

The judge runs them before deciding, and every write tool runs them again
inside its transaction against freshly loaded state, so a planner cannot
talk its way past them and a stale approval cannot apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.facts import Facts
from policies import actions as a
from policies.book import BOOK, PolicyBook
from policies.currency import money_text


class Ledger:
    """What earlier actions of the same batch will have done, so sequential checks add up."""

    def __init__(self) -> None:
        self.refunded_cents = 0
        self.order_cancelled = False
        self.lines_cancelled = 0


@dataclass(frozen=True)
class Failure:
    """A failed precondition and the book's rule it enforces besides section 7 (P7), where there is one."""

    text: str
    rule: str = "P7"

    def __str__(self) -> str:
        return self.text


def precondition_failure(args: a._Args, f: Facts, ledger: Ledger | None = None, *,
                         book: PolicyBook = BOOK) -> Failure | None:
    """Why this action cannot be applied now under `book` (the run's), with the rule that says so, or None."""
    found = _CHECKS[type(args)](args, f, ledger or Ledger(), book)
    return Failure(found) if isinstance(found, str) else found


def precondition_problem(args: a._Args, f: Facts, ledger: Ledger | None = None, *,
                         book: PolicyBook = BOOK) -> str | None:
    """Why this action cannot be applied now under `book` (the run's), or None when it can."""
    found = precondition_failure(args, f, ledger, book=book)
    return None if found is None else found.text


def _own_order(order_id: str, f: Facts) -> str | None:
    return None if order_id == f.order.id else f"order {order_id!r} is not this exception's order {f.order.id!r}"


def _open_line_qty(f: Facts, sku: str) -> int:
    return sum(x.qty for x in f.order.lines if x.sku == sku and x.status in ("open", "backordered"))


def _notify(x: a.NotifyCustomer, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if x.topic == "delay" and x.eta is None:
        return "a delay message needs the ETA it promises"
    return _own_order(x.order_id, f)


def _reroute(x: a.RerouteShipment, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    s = f.order.shipment(x.shipment_id)
    if s is None:
        return f"shipment {x.shipment_id!r} is not part of order {f.order.id!r}"
    if s.status == "delivered":
        return f"shipment {s.id} is delivered"
    if not x.reship and s.status not in ("created", "picked"):
        return f"shipment {s.id} is {s.status}: only a reship can move it now"
    if x.to_location not in f.locations or f.lane(x.to_location, f.order.ship_region, x.service) is None:
        return f"no {x.service} lane from {x.to_location!r} to {f.order.ship_region}"
    own_goods = not x.reship and x.to_location == s.location
    short = [i.sku for i in s.lines if f.atp(x.to_location, i.sku) < i.qty]
    if short and not own_goods:
        return f"{x.to_location} lacks the ATP for {', '.join(short)}"
    return None


def _reallocate(x: a.ReallocateLine, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if problem := _own_order(x.order_id, f):
        return problem
    if _open_line_qty(f, x.sku) < x.qty:
        return f"no open line of {x.sku} with {x.qty} units"
    if x.to_location not in f.locations:
        return f"location {x.to_location!r} serves no lane to {f.order.ship_region}"
    if f.atp(x.to_location, x.sku) < x.qty:
        return f"{x.to_location} has {f.atp(x.to_location, x.sku)} of {x.sku} available, {x.qty} needed"
    return None


def _backorder(x: a.BackorderLine, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if problem := _own_order(x.order_id, f):
        return problem
    product = f.products.get(x.sku)
    if product is None or product.restock_at is None:
        return f"{x.sku} has no restock date"
    if _open_line_qty(f, x.sku) < x.qty:
        return f"no open line of {x.sku} with {x.qty} units"
    return None


def _cancel_line(x: a.CancelLine, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if problem := _own_order(x.order_id, f):
        return problem
    lost = sum(i.qty for s in f.order.shipments if s.status == "lost" for i in s.lines if i.sku == x.sku)
    if _open_line_qty(f, x.sku) + lost < x.qty:
        return f"{x.qty} of {x.sku} are not open or lost: shipped lines cannot be cancelled"
    return None


def _cancel_order(x: a.CancelOrder, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if problem := _own_order(x.order_id, f):
        return problem
    if f.order.status == "cancelled":
        return f"order {f.order.id} is already cancelled"
    if any(s.status == "delivered" for s in f.order.shipments):
        return f"order {f.order.id} has a delivered shipment"
    return None


def _refundable(f: Facts, ledger: Ledger) -> int:
    """Captured − refunded, less what earlier payouts of the batch return (M1)."""
    return f.order.refundable_cents - ledger.refunded_cents


def _refund(x: a.Refund, f: Facts, ledger: Ledger, book: PolicyBook) -> str | Failure | None:
    if problem := _own_order(x.order_id, f):
        return problem
    refundable = _refundable(f, ledger)
    if x.amount_cents <= 0:
        return Failure("a refund must be more than 0", "M1")
    if x.amount_cents > refundable:
        return Failure(f"refund of {money_text(x.amount_cents)} exceeds the refundable {money_text(refundable)} (M1)",
                       "M1")
    cancelled = f.order.status == "cancelled" or ledger.order_cancelled
    if x.reason == "order_cancel" and not cancelled:
        return Failure("an order_cancel refund needs the order cancelled first (M5)", "M5")
    lines_cancelled = ledger.lines_cancelled or any(line.status == "cancelled" for line in f.order.lines)
    if x.reason == "line_cancel" and not (lines_cancelled or cancelled):
        return Failure("a line_cancel refund needs a cancelled line (M5)", "M5")
    return None


def _store_credit(x: a.StoreCredit, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if x.customer_id != f.customer.id:
        return f"customer {x.customer_id!r} is not this order's customer"
    return None if x.amount_cents > 0 else "a store credit must be more than 0"


def _release(x: a.ReleaseHold, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    if problem := _own_order(x.order_id, f):
        return problem
    return None if f.order.status == "on_hold" else f"order {f.order.id} is {f.order.status}, not on hold"


def _undecided(return_id: str, f: Facts, book: PolicyBook) -> str | None:
    r = f.order.return_(return_id)
    if r is None:
        return f"return {return_id!r} is not part of order {f.order.id!r}"
    if r.status not in book.returns.undecided_statuses:
        return f"return {r.id} is already {r.status}"
    return None


def _approve(x: a.ApproveReturn, f: Facts, ledger: Ledger, book: PolicyBook) -> str | Failure | None:
    if problem := _undecided(x.return_id, f, book):
        return problem
    refundable = _refundable(f, ledger)
    if x.amount_cents < 0:
        return f"an approved amount cannot be negative ({money_text(x.amount_cents)})"
    if x.amount_cents > refundable:
        return Failure(f"approving {money_text(x.amount_cents)} exceeds the refundable {money_text(refundable)} (R8)",
                       "R8")
    return None


def _deny(x: a.DenyReturn, f: Facts, _: Ledger, book: PolicyBook) -> str | None:
    return _undecided(x.return_id, f, book)


_CHECKS: dict[type, Callable[..., str | Failure | None]] = {
    a.NotifyCustomer: _notify, a.RerouteShipment: _reroute, a.ReallocateLine: _reallocate,
    a.BackorderLine: _backorder, a.CancelLine: _cancel_line, a.CancelOrder: _cancel_order,
    a.Refund: _refund, a.StoreCredit: _store_credit, a.ReleaseHold: _release,
    a.ApproveReturn: _approve, a.DenyReturn: _deny,
}

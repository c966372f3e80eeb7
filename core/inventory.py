"""ATP arithmetic: pure functions over one stock record (on hand, reserved).

Invariants every function keeps: 0 ≤ reserved ≤ on_hand, so ATP = on_hand −
reserved is never negative. A refused operation raises before it changes
anything. The store performs the same arithmetic as conditional atomic
UPDATEs (`core.services`), so concurrent writers cannot oversell either.
"""

from __future__ import annotations

from typing import Protocol

from core.errors import InsufficientStock, PreconditionFailed


class Stock(Protocol):
    location: str
    sku: str
    on_hand: int
    reserved: int


def atp(stock: Stock) -> int:
    return stock.on_hand - stock.reserved


def _positive(qty: int) -> None:
    if qty <= 0:
        raise PreconditionFailed(f"quantity must be positive, got {qty}")


def reserve(stock: Stock, qty: int) -> None:
    """Promise `qty` units to a line; refused when ATP does not cover it (never oversell)."""
    _positive(qty)
    if atp(stock) < qty:
        raise InsufficientStock(stock.location, stock.sku, qty, atp(stock))
    stock.reserved += qty


def release(stock: Stock, qty: int) -> None:
    """Give a reservation back (a line moved away or was cancelled)."""
    _positive(qty)
    if stock.reserved < qty:
        raise PreconditionFailed(f"{stock.location} has {stock.reserved} of {stock.sku} reserved, "
                                 f"cannot release {qty}")
    stock.reserved -= qty


def consume(stock: Stock, qty: int) -> None:
    """Reserved units leave the building (dispatch) or turn out to be missing (a short pick).

    Both sides drop together, so a write-off of missing units can never push
    reserved above on hand.
    """
    _positive(qty)
    if stock.reserved < qty:
        raise PreconditionFailed(f"{stock.location} has {stock.reserved} of {stock.sku} reserved, "
                                 f"cannot take {qty}")
    stock.on_hand -= qty
    stock.reserved -= qty


def receive(stock: Stock, qty: int) -> None:
    """Units arrive (restock, a return put back on the shelf)."""
    _positive(qty)
    stock.on_hand += qty


def shrink(stock: Stock, qty: int) -> None:
    """Unreserved units disappear (a count finds fewer); reserved units cannot be counted away."""
    _positive(qty)
    if atp(stock) < qty:
        raise InsufficientStock(stock.location, stock.sku, qty, atp(stock))
    stock.on_hand -= qty

"""Stock moves of the write tools, through the core's atomic UPDATEs (never oversell, never go negative)."""

from __future__ import annotations

from sqlmodel import Session

from core.errors import InsufficientStock
from core.models import Inventory
from core.services import release_stock, reserve_stock


def reserve(session: Session, location: str, sku: str, qty: int) -> None:
    if not reserve_stock(session, location, sku, qty):
        row = session.get(Inventory, (location, sku))
        raise InsufficientStock(location, sku, qty, row.atp if row else 0)


def release(session: Session, location: str, sku: str, qty: int) -> None:
    """Give back up to `qty` reserved units: a snapshot's reservation may not include a line's units."""
    row = session.get(Inventory, (location, sku))
    if row is not None and row.reserved > 0:
        release_stock(session, location, sku, min(qty, row.reserved))
        session.expire(row)

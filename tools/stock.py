"""Atomic stock moves for the write tools: conditional UPDATEs, so two writers never oversell."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from core.errors import InsufficientStock
from core.models import Inventory


def reserve(session: Session, location: str, sku: str, qty: int) -> None:
    """Reserve `qty` only if on_hand − reserved still covers it at the moment of writing."""
    result = session.execute(
        update(Inventory)
        .where(col(Inventory.location) == location, col(Inventory.sku) == sku,
               col(Inventory.on_hand) - col(Inventory.reserved) >= qty)
        .values(reserved=col(Inventory.reserved) + qty)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        row = session.get(Inventory, (location, sku))
        raise InsufficientStock(location, sku, qty, row.atp if row else 0)


def release(session: Session, location: str, sku: str, qty: int) -> None:
    """Give back up to `qty` reserved units (never below zero)."""
    row = session.get(Inventory, (location, sku))
    if row is not None:
        row.reserved = max(row.reserved - qty, 0)

"""ATP arithmetic over one stock record (on hand, reserved).

Stock moves themselves are conditional atomic UPDATEs in the store
(`core.services`: `... WHERE on_hand - reserved >= :qty`), so concurrent
writers cannot oversell; this module only reads a record.
"""

from __future__ import annotations

from typing import Protocol


class Stock(Protocol):
    @property
    def on_hand(self) -> int: ...
    @property
    def reserved(self) -> int: ...


def atp(stock: Stock) -> int:
    """Units available to promise: on hand − reserved."""
    return stock.on_hand - stock.reserved

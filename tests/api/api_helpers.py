"""Request helpers of the API tests: demo-token headers and a valid order body."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.testing import T0


def as_(role: str) -> dict[str, str]:
    """Headers of a demo token: viewer, agent, supervisor, supervisor-2, lead."""
    return {"Authorization": f"Bearer demo-{role}"}


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"customer_id": "C-1", "ship_region": "US-NE", "ship_address_id": "A-1",
                            "shipping_method": "standard", "fee_cents": 500,
                            "promised_by": (T0 + timedelta(days=4)).isoformat(),
                            "lines": [{"sku": "LAMP-01", "qty": 1}], "fraud_score": 0.05}
    return {**body, **overrides}

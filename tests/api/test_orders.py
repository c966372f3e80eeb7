"""Orders come in over HTTP through the same service layer as the simulator's."""

from __future__ import annotations

from api_helpers import as_, order_body
from fastapi.testclient import TestClient


def test_a_clean_order_is_captured_screened_and_allocated(client: TestClient) -> None:
    r = client.post("/orders", json=order_body(lines=[{"sku": "LAMP-01", "qty": 2}]), headers=as_("agent"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "allocated"
    assert order["captured_cents"] == 2 * 4_999 + 500
    assert [s["location"] for s in order["shipments"]] == ["DC-EAST"]
    stock = client.get("/inventory", params={"sku": "LAMP-01", "location": "DC-EAST"}, headers=as_("viewer")).json()
    assert stock["items"] == [{"location": "DC-EAST", "sku": "LAMP-01", "on_hand": 50, "reserved": 2, "atp": 48}]


def test_a_risky_order_is_held_and_raises_a_fraud_hold(client: TestClient) -> None:
    r = client.post("/orders", json=order_body(fraud_score=0.5), headers=as_("agent"))
    assert r.status_code == 201
    assert r.json()["status"] == "on_hold"
    assert [(e["type"], e["state"]) for e in r.json()["exceptions"]] == [("fraud_hold", "open")]


def test_a_bad_order_gets_a_4xx_naming_the_field_and_stores_nothing(client: TestClient) -> None:
    """422 for what breaks the schema; 409 for a well-formed order the shop's current state refuses."""
    for body, field, code in [(order_body(lines=[]), "lines", 422), (order_body(fee_cents=-1), "fee_cents", 422),
                              (order_body(shipping_method="teleport"), "shipping_method", 422),
                              (order_body(promised_by="2026-03-06T08:00:00"), "promised_by", 422),
                              (order_body(promised_by=0), "promised_by", 422),
                              (order_body(customer_id="C-404"), "customer_id", 409),
                              (order_body(ship_region="MARS"), "ship_region", 409)]:
        r = client.post("/orders", json=body, headers=as_("agent"))
        assert r.status_code == code, body
        assert field in [str(part) for err in r.json()["detail"] for part in err["loc"]], r.json()
    r = client.post("/orders", json=order_body(lines=[{"sku": "NOPE", "qty": 1}]), headers=as_("agent"))
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"] == ["body", "lines", 0, "sku"]
    assert client.get("/orders", headers=as_("viewer")).json()["total"] == 0


def test_orders_are_listed_with_filters_and_pagination(client: TestClient) -> None:
    for customer in ("C-1", "C-1", "C-2"):
        client.post("/orders", json=order_body(customer_id=customer), headers=as_("agent"))
    page = client.get("/orders", params={"customer": "C-1", "limit": 1, "offset": 1}, headers=as_("viewer")).json()
    assert page["total"] == 2 and page["limit"] == 1 and page["offset"] == 1
    assert [o["id"] for o in page["items"]] == ["O-000002"]
    assert client.get("/orders", params={"status": "on_hold"}, headers=as_("viewer")).json()["total"] == 0
    one = client.get("/orders/O-000003", headers=as_("viewer")).json()
    assert one["customer_id"] == "C-2" and one["lines"][0]["sku"] == "LAMP-01"


def test_an_unknown_order_is_a_404(client: TestClient) -> None:
    r = client.get("/orders/O-999", headers=as_("viewer"))
    assert r.status_code == 404 and "O-999" in r.json()["detail"]

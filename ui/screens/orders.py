"""Orders: search orders, inspect one with its lines, shipments, stock, returns and exceptions."""

from __future__ import annotations

import streamlit as st

from ui.client import ApiError
from ui.queue import money
from ui.state import api_call, require_client, show_flash
from ui.views import table, when

STATUSES = ("placed", "on_hold", "allocated", "in_fulfillment", "shipped", "delivered", "cancelled")

c = require_client()
st.title("Orders")
show_flash()

cols = st.columns(3)
order_id = cols[0].text_input("Order id", key="order_id", placeholder="O-000001").strip()
customer = cols[1].text_input("Customer", key="orders_customer").strip()
status = cols[2].selectbox("Status", STATUSES, index=None, key="orders_status", placeholder="any")

if not order_id:
    page = api_call(c.orders, limit=100, customer=customer or None, status=status)
    st.caption(f"{page['total']} orders; the first {len(page['items'])} shown. Enter an id to inspect one.")
    table([{"order": o["id"], "customer": o["customer_id"], "status": o["status"], "placed": when(o["placed_at"]),
            "promised by": when(o["promised_by"]), "method": o["shipping_method"],
            "captured": money(o["captured_cents"]), "refunded": money(o["refunded_cents"]),
            "fraud score": o["fraud_score"]} for o in page["items"]], key="orders_table")
    st.stop()

try:
    o = c.order(order_id)
except ApiError as err:
    st.warning(err.message)
    st.stop()
st.subheader(f"{o['id']} · {o['status']}")
cols = st.columns(5)
cols[0].metric("Customer", o["customer_id"])
cols[1].metric("Promised by", when(o["promised_by"]))
cols[2].metric("Captured", money(o["captured_cents"]))
cols[3].metric("Refunded", money(o["refunded_cents"]))
cols[4].metric("Fraud score", f"{o['fraud_score']:.2f}")
st.caption(f"{o['shipping_method']} to {o['ship_region']} (address {o['ship_address_id']})"
           f" · fee {money(o['fee_cents'])} · placed {when(o['placed_at'])}")

st.subheader("Lines")
table([{"line": x["line_no"], "sku": x["sku"], "qty": x["qty"], "unit price": money(x["unit_price_cents"]),
        "location": x["location"], "status": x["status"], "expected": when(x["expected_at"])} for x in o["lines"]],
      key="order_lines")
st.subheader("Shipments")
table([{"shipment": s["id"], "location": s["location"], "service": s["service"], "status": s["status"],
        "eta": when(s["eta"]), "delivered": when(s["delivered_at"])} for s in o["shipments"]], key="order_shipments")

st.subheader("Exceptions and returns")
returns = []
for e in o["exceptions"]:
    cols = st.columns([2, 2, 2, 1])
    cols[0].markdown(f"`{e['id']}`")
    cols[1].markdown(e["type"])
    cols[2].markdown(e["state"])
    if e["type"] == "return_dispute":
        returns.append(e["id"])
    if cols[3].button("Open", key=f"order_exception_{e['id']}"):
        st.session_state.exception_id = e["id"]
        st.switch_page("screens/exception.py")
if not o["exceptions"]:
    st.caption("no exceptions")
if returns:
    details = [api_call(c.exception, x) for x in returns]
    table([{"return": d["return_id"], "dispute": d["id"], "state": d["state"], **d["detail"]} for d in details],
          key="order_returns")

st.subheader("Stock of its items")
stock = [row for sku in sorted({x["sku"] for x in o["lines"]}) for row in api_call(c.inventory, sku=sku)]
table(stock, key="order_stock")

"""The connector: the Olist extract mapped onto the OMS's domain, and each order's recorded timeline.

- A **seller** is a `Location` of kind `seller` (region = its state,
  `handling_hours` 0: a seller's handling is bounded by each line's shipping
  limit, carried as the shipment's `dispatch_by`, not by a location constant).
- A **lane** runs from a seller to each customer state it shipped to, priced by
  the rate card (service `standard`: Olist sells one service). The rows come
  as plain dicts (bulk inserts: 20,000 ORM objects cost seconds).
- A **customer** is Olist's `customer_unique_id` (its per-order `customer_id`
  is an address: it becomes the ship-to address id). Region = the state of
  the customer's first order. Olist has no names: the name is a pseudonym.
- A **product** is a listing: its sku is Olist's product id, suffixed with the
  seller id when several sellers sold that product, so a line's stock is only
  ever at its own seller. Category in English where Olist translates it.
- An **order** is placed at its purchase time with its items grouped by sku
  (qty = items, unit price = the item's price), the freight total as the
  shipping fee and the estimated delivery day (midnight local) as the promise.

`unavailable` orders carry no items in the extract: each becomes one line of a
placeholder item (value unknown, so 0) at a placeholder seller that holds no
stock, which is what makes allocation find "no stock anywhere".

Nothing is dropped silently: `Mapped.rejects` counts what could not be mapped
and `Mapped.adjusted` what was mapped with a stated correction, by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.models import LocationKind, Service
from core.olist.extract import Extract, Item, OlistOrder, Review
from core.olist.ratecard import RateCard

UNKNOWN_SELLER = "olist-unknown-seller"
UNKNOWN_ITEM = "olist-unavailable-item"
SERVICE = Service.standard
COMPLAINT_LABELS: dict[str, str] = {
    "diferente_do_anunciado": "not as advertised",
    "baixa_qualidade": "low quality",
    "devolucao": "return request",
    "entrega_parcial": "partial delivery",
}
"""The annotators' subclasses that are product or delivery complaints, and their English names."""


@dataclass(frozen=True)
class ReplayLine:
    sku: str
    seller: str
    qty: int
    unit_price_cents: int
    shipping_limit_at: datetime | None


@dataclass(frozen=True)
class ReplayOrder:
    """One order as the OMS receives it, and what the data says happened to it afterwards."""

    id: str
    customer_id: str
    status: str
    ship_region: str
    address_id: str
    placed_at: datetime
    promised_by: datetime
    fee_cents: int
    lines: tuple[ReplayLine, ...]
    carrier_at: datetime | None
    delivered_at: datetime | None

    @property
    def late(self) -> bool:
        """Delivered after the promise (the README's 663)."""
        return self.delivered_at is not None and self.delivered_at > self.promised_by


@dataclass(frozen=True)
class ReviewCase:
    """A labelled complaint: an order rebuilt from the review row, delivered, and its claim."""

    review_id: str
    order_id: str
    customer_id: str
    ship_region: str
    placed_at: datetime
    promised_by: datetime
    delivered_at: datetime
    disputed_at: datetime
    sku: str
    category: str | None
    qty: int
    unit_price_cents: int
    fee_cents: int
    claim: str
    label: str

    @property
    def id(self) -> str:
        return self.order_id


Row = dict[str, Any]


@dataclass
class Mapped:
    """Rows for the `location`, `lane`, `product` and `customer` tables, the orders and the complaints."""

    locations: list[Row]
    lanes: list[Row]
    products: list[Row]
    customers: list[Row]
    orders: list[ReplayOrder]
    reviews: list[ReviewCase]
    rejects: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)


def map_extract(extract: Extract, card: RateCard) -> Mapped:
    """Map every row it can; count the rest by reason. Deterministic: the same extract, the same rows."""
    rejects: Counter[str] = Counter({f"{table}: {why}": n for (table, why), n in extract.rejects.items()})
    adjusted: Counter[str] = Counter()
    sold_by: dict[str, set[str]] = {}
    for order in extract.orders:
        for item in order.items:
            sold_by.setdefault(item.product_id, set()).add(item.seller_id)

    def sku_of(product_id: str, seller_id: str) -> str:
        return product_id if len(sold_by[product_id]) == 1 else f"{product_id}:{seller_id}"

    orders: list[ReplayOrder] = []
    for raw in sorted(extract.orders, key=lambda x: (x.purchased_at, x.id)):
        try:
            orders.append(_order(raw, extract, sku_of, adjusted))
        except ValueError as why:
            rejects[f"orders: {why}"] += 1
    first_state: dict[str, str] = {}
    for o in orders:
        first_state.setdefault(o.customer_id, o.ship_region)
    customers = [_customer(cid, state) for cid, state in sorted(first_state.items())]

    sellers = sorted({line.seller for o in orders for line in o.lines} - {UNKNOWN_SELLER})
    regions = {**{s: extract.sellers[s].state for s in sellers}, UNKNOWN_SELLER: "BR"}
    locations: list[Row] = [{"id": s, "kind": LocationKind.seller.value, "region": regions[s], "handling_hours": 0.0}
                            for s in [*sellers, UNKNOWN_SELLER]]
    pairs = sorted({(line.seller, o.ship_region) for o in orders for line in o.lines if line.seller != UNKNOWN_SELLER})
    lanes = []
    for seller, region in pairs:
        rate = card.rate(extract.sellers[seller].state, region)
        lanes.append(_lane(seller, region, rate.transit_hours, rate.cost_cents, rate.co2_grams))

    products: dict[str, Row] = {}
    for o in orders:
        for line in o.lines:
            if line.sku not in products:
                products[line.sku] = _product(line.sku, extract)

    reviews = []
    for review in sorted(extract.reviews, key=lambda x: (x.created_at, int(x.id) if x.id.isdigit() else 0, x.id)):
        if review.label not in COMPLAINT_LABELS:
            continue
        try:
            reviews.append(_review(review, adjusted))
        except ValueError as why:
            rejects[f"complaints: {why}"] += 1
    for region in sorted({o.ship_region for o in orders} | {r.ship_region for r in reviews}):
        # The placeholder seller costs nothing, so a line with no known seller is assigned to it; it holds no stock.
        lanes.append(_lane(UNKNOWN_SELLER, region, card.rate(region, region).transit_hours, 0, 0))
    for r in reviews:
        category = extract.categories.get(r.category or "", r.category)
        products[r.sku] = _product_row(r.sku, f"{category or 'item'} (review {r.review_id})", r.unit_price_cents,
                                       category)
    return Mapped(locations=locations, lanes=lanes, products=[products[k] for k in sorted(products)],
                  customers=customers, orders=orders, reviews=reviews, rejects=rejects, adjusted=adjusted)


def _order(o: OlistOrder, extract: Extract, sku_of: Callable[[str, str], str], adjusted: Counter[str]) -> ReplayOrder:
    customer = extract.customers[o.customer_id]
    if not o.items and o.status != "unavailable":
        raise ValueError(f"{o.status} order without items")
    if o.status == "delivered" and o.delivered_at is None:
        raise ValueError("delivered, but no delivery time")
    if o.delivered_at is not None and o.delivered_at < o.purchased_at:
        raise ValueError("delivered before it was bought")
    grouped: dict[str, list[Item]] = {}
    for item in o.items:
        grouped.setdefault(sku_of(item.product_id, item.seller_id), []).append(item)
    lines = []
    for sku, items in grouped.items():
        if len({(x.price_cents, x.shipping_limit_at) for x in items}) > 1:
            raise ValueError("items of one listing at different prices or deadlines")
        lines.append(ReplayLine(sku=sku, seller=items[0].seller_id, qty=len(items),
                                unit_price_cents=items[0].price_cents, shipping_limit_at=items[0].shipping_limit_at))
    if not lines:
        adjusted["unavailable order without items: one placeholder line of value 0"] += 1
        lines.append(ReplayLine(UNKNOWN_ITEM, UNKNOWN_SELLER, 1, 0, None))
    carrier_at = o.carrier_at
    if carrier_at is not None and o.delivered_at is not None and carrier_at > o.delivered_at:
        adjusted["hand-off recorded after the delivery: hand-off moved to the delivery time"] += 1
        carrier_at = o.delivered_at
    if carrier_at is not None and carrier_at < o.purchased_at:
        adjusted["hand-off recorded before the purchase: hand-off moved to the purchase time"] += 1
        carrier_at = o.purchased_at
    return ReplayOrder(
        id=o.id, customer_id=customer.unique_id, status=o.status, ship_region=customer.state,
        address_id=f"{customer.zip_prefix}-{customer.city}-{customer.state}", placed_at=o.purchased_at,
        promised_by=o.estimated_at, fee_cents=sum(x.freight_cents for x in o.items), lines=tuple(lines),
        carrier_at=carrier_at, delivered_at=o.delivered_at)


def _product(sku: str, extract: Extract) -> Row:
    if sku == UNKNOWN_ITEM:
        return _product_row(sku, "item the marketplace could not supply (not in the extract)", 0, None)
    product = extract.products[sku.split(":", 1)[0]]
    category = extract.categories.get(product.category or "", product.category)
    return _product_row(sku, f"{category or 'uncategorised'} {sku[:8]}", 0, category)


def _product_row(sku: str, name: str, price_cents: int, category: str | None) -> Row:
    return {"sku": sku, "name": name, "price_cents": price_cents, "returnable": True, "restock_at": None,
            "category": category}


def _lane(seller: str, region: str, transit_hours: float, cost_cents: int, co2_grams: int) -> Row:
    return {"from_location": seller, "to_region": region, "service": SERVICE.value, "transit_hours": transit_hours,
            "cost_cents": cost_cents, "co2_grams": co2_grams}


def _customer(cid: str, state: str) -> Row:
    return {"id": cid, "name": f"Cliente {cid[:6]}", "email": f"{cid}@clientes.olist.invalid", "tier": "standard",
            "locale": "pt-BR", "region": state, "delivered_orders": 0, "chargebacks": 0, "refunds_90d": 0,
            "returns_90d": 0, "delivered_addresses": []}


def _review(r: Review, adjusted: Counter[str]) -> ReviewCase:
    if r.delivered_at is None:
        raise ValueError(f"{COMPLAINT_LABELS[r.label]} review of an order with no delivery: nothing to return")
    if not r.text:
        raise ValueError("review without text")
    qty, unit = r.items_qty, r.products_cents // r.items_qty
    if unit * qty != r.products_cents:
        adjusted["review order value not divisible by its items: one line at the whole value"] += 1
        qty, unit = 1, r.products_cents
    disputed_at = r.created_at
    if disputed_at <= r.delivered_at:
        adjusted["review dated before the recorded delivery: disputed 1 h after the delivery"] += 1
        disputed_at = r.delivered_at + timedelta(hours=1)
    return ReviewCase(
        review_id=r.id, order_id=f"RV-{r.id}", customer_id=f"RV-{r.id}", ship_region=r.state,
        placed_at=r.purchased_at, promised_by=r.estimated_at, delivered_at=r.delivered_at, disputed_at=disputed_at,
        sku=f"RV-{r.id}-item", category=r.category, qty=qty, unit_price_cents=unit, fee_cents=r.freight_cents,
        claim=r.text, label=r.label)

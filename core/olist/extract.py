"""Reading the Olist extract: typed records, a fixed time convention, integer cents, and counted rejects.

Layout under the data root (as in `shared/data/olist/`):
`orders-2017-10k/{orders,order_items,customers,products,product_category_name_translation}.csv`,
`catalog/olist_sellers_dataset.csv`, `complaints-labelled/olist_classified_public_dataset.csv`.

**Time convention.** Olist writes local Brazilian time without a zone. We read
every timestamp as UTC-03:00 (Brasília standard time, fixed: the 2017-18
daylight saving of the southern states is ignored) and store it in UTC, so
`2017-10-18 00:00:00` (an estimated delivery day, midnight local) is
`2017-10-18T03:00:00Z`.

**Money.** BRL with two decimals, read as Decimal and stored as integer
cents; a value that is not a whole number of cents is a reject, never rounded.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

LOCAL = timezone(timedelta(hours=-3), "BRT")

ORDERS_DIR = "orders-2017-10k"
CATALOG_DIR = "catalog"
COMPLAINTS_DIR = "complaints-labelled"


class Reject(ValueError):
    """A row that cannot be mapped; its message is the reason the report counts it under."""


def local_time(value: str) -> datetime | None:
    """A zone-less Olist timestamp (optionally with microseconds) as UTC; blank is None."""
    value = value.strip()
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Reject("unparseable timestamp") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL)
    return at.astimezone(UTC)


def cents(value: str) -> int:
    """'18.14' → 1814; blank, negative or fractional cents are rejects."""
    try:
        amount = Decimal(value.strip()) * 100
    except (InvalidOperation, AttributeError):
        raise Reject("unparseable money") from None
    if amount < 0 or amount != amount.to_integral_value():
        raise Reject("money not in whole cents")
    return int(amount)


@dataclass(frozen=True)
class Item:
    order_id: str
    item_no: int
    product_id: str
    seller_id: str
    shipping_limit_at: datetime | None
    price_cents: int
    freight_cents: int


@dataclass(frozen=True)
class OlistOrder:
    id: str
    customer_id: str
    status: str
    purchased_at: datetime
    approved_at: datetime | None
    carrier_at: datetime | None
    delivered_at: datetime | None
    estimated_at: datetime
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class OlistCustomer:
    id: str
    unique_id: str
    zip_prefix: str
    city: str
    state: str


@dataclass(frozen=True)
class Seller:
    id: str
    zip_prefix: str
    city: str
    state: str


@dataclass(frozen=True)
class OlistProduct:
    id: str
    category: str | None


@dataclass(frozen=True)
class Review:
    """One row of `complaints-labelled`: an order's facts, the customer's review, the annotators' label."""

    id: str
    status: str
    products_cents: int
    freight_cents: int
    items_qty: int
    purchased_at: datetime
    estimated_at: datetime
    delivered_at: datetime | None
    state: str
    city: str
    zip_prefix: str
    category: str | None
    score: int
    text: str
    created_at: datetime
    label: str


@dataclass
class Extract:
    """Everything read, plus the rows that could not be read, counted by (table, reason)."""

    orders: list[OlistOrder]
    customers: dict[str, OlistCustomer]
    sellers: dict[str, Seller]
    products: dict[str, OlistProduct]
    categories: dict[str, str]
    reviews: list[Review]
    rejects: Counter[tuple[str, str]] = field(default_factory=Counter)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _required(value: datetime | None, what: str) -> datetime:
    if value is None:
        raise Reject(f"no {what}")
    return value


def read_extract(root: Path) -> Extract:
    """Read the extract under `root`; every row that cannot be mapped is counted by reason, none dropped silently."""
    rejects: Counter[tuple[str, str]] = Counter()
    base = root / ORDERS_DIR
    categories = {r["product_category_name"]: r["product_category_name_english"]
                  for r in _rows(base / "product_category_name_translation.csv")}
    customers: dict[str, OlistCustomer] = {}
    for r in _rows(base / "customers.csv"):
        customers[r["customer_id"]] = OlistCustomer(r["customer_id"], r["customer_unique_id"],
                                                    r["customer_zip_code_prefix"], r["customer_city"],
                                                    r["customer_state"])
    products = {r["product_id"]: OlistProduct(r["product_id"], r["product_category_name"] or None)
                for r in _rows(base / "products.csv")}
    sellers = {r["seller_id"]: Seller(r["seller_id"], r["seller_zip_code_prefix"], r["seller_city"],
                                      r["seller_state"])
               for r in _rows(root / CATALOG_DIR / "olist_sellers_dataset.csv")}
    items: dict[str, list[Item]] = {}
    for r in _rows(base / "order_items.csv"):
        try:
            if r["seller_id"] not in sellers:
                raise Reject("item's seller not in the catalog")
            if r["product_id"] not in products:
                raise Reject("item's product not in the extract")
            item = Item(r["order_id"], int(r["order_item_id"]), r["product_id"], r["seller_id"],
                        local_time(r["shipping_limit_date"]), cents(r["price"]), cents(r["freight_value"]))
        except Reject as why:
            rejects[("order_items", str(why))] += 1
            continue
        items.setdefault(item.order_id, []).append(item)
    orders: list[OlistOrder] = []
    for r in _rows(base / "orders.csv"):
        try:
            if r["customer_id"] not in customers:
                raise Reject("customer not in the extract")
            orders.append(OlistOrder(
                id=r["order_id"], customer_id=r["customer_id"], status=r["order_status"],
                purchased_at=_required(local_time(r["order_purchase_timestamp"]), "purchase time"),
                approved_at=local_time(r["order_approved_at"]),
                carrier_at=local_time(r["order_delivered_carrier_date"]),
                delivered_at=local_time(r["order_delivered_customer_date"]),
                estimated_at=_required(local_time(r["order_estimated_delivery_date"]), "estimated delivery"),
                items=tuple(sorted(items.get(r["order_id"], ()), key=lambda x: x.item_no))))
        except Reject as why:
            rejects[("orders", str(why))] += 1
    reviews = list(_read_reviews(root / COMPLAINTS_DIR / "olist_classified_public_dataset.csv", rejects))
    return Extract(orders=orders, customers=customers, sellers=sellers, products=products, categories=categories,
                   reviews=reviews, rejects=rejects)


def _read_reviews(path: Path, rejects: Counter[tuple[str, str]]) -> Iterator[Review]:
    if not path.exists():
        return
    for r in _rows(path):
        try:
            title, message = r["review_comment_title"].strip(), r["review_comment_message"].strip()
            yield Review(
                id=r["id"], status=r["order_status"], products_cents=cents(r["order_products_value"]),
                freight_cents=cents(r["order_freight_value"]), items_qty=max(int(r["order_items_qty"] or 1), 1),
                purchased_at=_required(local_time(r["order_purchase_timestamp"]), "purchase time"),
                estimated_at=_required(local_time(r["order_estimated_delivery_date"]), "estimated delivery"),
                delivered_at=local_time(r["order_delivered_customer_date"]),
                state=r["customer_state"], city=r["customer_city"], zip_prefix=r["customer_zip_code_prefix"],
                category=r["product_category_name"] or None, score=int(r["review_score"] or 0),
                text=f"{title}. {message}" if title and message else title or message,
                created_at=_required(local_time(r["review_creation_date"]), "review date"),
                label=r["most_voted_subclass"])
        except (Reject, ValueError) as why:
            rejects[("complaints", str(why) if isinstance(why, Reject) else "unparseable number")] += 1

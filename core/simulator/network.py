"""A generated network: regions, locations, the lane rate card, a catalog, stock and customers.

A pure function of the Random it is given: the same seed, the same network.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.models import Customer, Inventory, Lane, Location, Product

REGIONS = ("west", "mountain", "central", "south", "east")
"""In a line west to east: distance is how many regions apart two are."""

FIRST = ("Ada", "Bea", "Cyr", "Dov", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jun", "Kai", "Lea", "Mo", "Nia")
LAST = ("Okafor", "Ng", "Silva", "Berg", "Kowalski", "Haddad", "Ito", "Moreau", "Reyes", "Walsh")
GOODS = ("Kettle", "Lamp", "Backpack", "Headphones", "Blender", "Jacket", "Chair", "Monitor", "Rug",
         "Camera", "Skillet", "Speaker", "Desk", "Bike Light", "Tent", "Watch")


@dataclass(frozen=True)
class Network:
    locations: list[Location]
    lanes: list[Lane]
    products: list[Product]
    inventory: list[Inventory]
    customers: list[Customer]

    def rows(self) -> list[list[object]]:
        """Insert order: parents before the rows whose foreign keys point at them."""
        return [[*self.locations, *self.products], [*self.lanes, *self.inventory, *self.customers]]


def generate_network(rng: random.Random, *, start: datetime, products: int = 40, customers: int = 60,
                     stock_scale: float = 1.0) -> Network:
    locations: list[Location] = []
    for region in REGIONS:
        locations.append(Location(id=f"WH-{region.upper()}", kind="warehouse", region=region,
                                  handling_hours=rng.choice((4, 6, 8))))
        locations.append(Location(id=f"ST-{region.upper()}", kind="store", region=region,
                                  handling_hours=rng.choice((1, 2))))
    for n in (1, 2):
        locations.append(Location(id=f"3PL-{n}", kind="3pl", region=rng.choice(REGIONS),
                                  handling_hours=rng.choice((6, 8, 12))))
    lanes = [lane for loc in locations for lane in _lanes_from(rng, loc)]
    catalog = []
    for n in range(1, products + 1):
        price = rng.choice((1_500, 2_900, 4_900, 7_900, 12_900, 24_900)) if rng.random() > 0.04 \
            else rng.choice((119_000, 149_000))
        restock = start + timedelta(days=rng.randint(2, 20)) if rng.random() < 0.5 else None
        catalog.append(Product(sku=f"SKU-{n:04d}", name=f"{rng.choice(GOODS)} {n}", price_cents=price,
                               returnable=rng.random() < 0.85, restock_at=restock,
                               category=rng.choice(("home", "outdoor", "tech", "apparel"))))
    stock = []
    for loc in locations:
        base = {"warehouse": 14, "3pl": 10, "store": 3}[loc.kind]
        for p in catalog:
            if rng.random() < (0.25 if loc.kind == "store" else 0.1):
                continue
            on_hand = int(rng.randint(0, base) * stock_scale)
            stock.append(Inventory(location=loc.id, sku=p.sku, on_hand=on_hand, reserved=0))
    people = []
    for n in range(1, customers + 1):
        tier = rng.choices(("standard", "gold", "platinum"), weights=(70, 22, 8))[0]
        delivered = rng.choice((0, 0, 1, 2, 3, 5, 8, 13, 21))
        people.append(Customer(
            id=f"C-{n:05d}", name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", email=f"customer{n}@example.com",
            tier=tier, locale=rng.choice(("en-US", "en-US", "en-GB", "es-US", "fr-CA")),
            region=rng.choice(REGIONS), delivered_orders=delivered,
            chargebacks=1 if rng.random() < 0.05 else 0,
            refunds_90d=rng.choice((0, 0, 0, 1, 2, 3)), returns_90d=rng.choice((0, 0, 0, 1, 2, 4)),
            delivered_addresses=[f"A-{n:05d}-{k}" for k in range(1, min(delivered, 2) + 1)]))
    return Network(locations, lanes, catalog, stock, people)


def _lanes_from(rng: random.Random, loc: Location) -> list[Lane]:
    home = REGIONS.index(loc.region)
    lanes = []
    for region in REGIONS:
        d = abs(REGIONS.index(region) - home)
        cards = [("standard", 24 + 24 * d, 500 + 150 * d, 800 + 600 * d),
                 ("express", 12 + 10 * d, 1_200 + 300 * d, 2_400 + 1_800 * d)]
        if d == 0:
            cards.append(("same_day", 6, 1_900, 1_200))
        for service, hours, cost, co2 in cards:
            lanes.append(Lane(from_location=loc.id, to_region=region, service=service,
                              transit_hours=hours + rng.randint(0, 6), cost_cents=cost + rng.randint(0, 120),
                              co2_grams=co2 + rng.randint(0, 200)))
    return lanes

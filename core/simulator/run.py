"""The simulation: an order stream on a virtual clock, driven through the service layer.

A discrete-event loop: every future happening (a pick, a dispatch, a carrier
scan, a return, a replenishment, a re-score, a customer's evidence) is a heap
entry (time, sequence number, step). The clock only moves to the next entry;
all randomness comes from Random instances derived from the seed. The
simulator is one more client of `core.services`, so every state change it
causes is a real transition with its events in the outbox, and the detectors
raise exceptions exactly as they would in production.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, func, text
from sqlmodel import Session, SQLModel, col, select

from core import services
from core.clock import VirtualClock
from core.errors import DomainError
from core.events import event
from core.jsonvalue import iso
from core.models import Event, Inventory, Order, OrderException, Shipment, ShipmentLine, ShipmentStatus
from core.services import CarrierUpdate, LineRequest, OmsRules, PlaceOrder
from core.simulator.network import Network, generate_network
from core.simulator.scenarios import Scenario
from core.store import UnitOfWork

METHODS = ("standard", "express", "same_day")
FEES = {"standard": 500, "express": 1_500, "same_day": 2_500}
SLACK_HOURS = {"standard": 24, "express": 8, "same_day": 2}
LOST_REMARKS = ("no scan for 72h, parcel presumed lost", "damaged beyond delivery")
REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind", "not_received")
CLAIMS = {
    "damaged": ("The box was crushed and it arrived dented.",
                "Screen cracked out of the box, photos attached."),
    "wrong_item": ("You sent me a different model than I ordered.", "Wrong colour and wrong size."),
    "not_as_described": ("Looks nothing like the photos.", "Listing said stainless, it is plastic."),
    "changed_mind": ("Don't need it anymore.", "Found it cheaper elsewhere, sending it back."),
    "not_received": ("Tracking says delivered but nothing came.", "Never got it."),
}
VAGUE_CLAIMS = (
    "not happy with this at all, want my money back",
    "this is not ok?? fix it",
    "the thing you sent me is wrong and also kind of broken",
    "my neighbour says the parcel was never there, what now",
    "I was told I'd get a refund and nothing happened",
)
EVIDENCE_CLAIMS = (
    "Photos of the item and the box attached.",
    "Here is the carrier's damage report.",
    "Video of the fault attached, as asked.",
)
DISPUTE_CLAIMS = (
    "You still haven't refunded me, it has been a week.",
    "I disagree with the decision, the item was faulty when it came.",
    "Your courier says it was delivered. It was not.",
    "Escalating: I sent photos and got no answer.",
)


@dataclass
class Summary:
    seed: int
    scenario: str
    orders: int
    events: int
    orders_by_state: dict[str, int]
    exceptions_by_type: dict[str, int]
    started: datetime
    ended: datetime

    def per_100_orders(self, exception_type: str) -> float:
        """Exceptions of a type raised per 100 orders, to one decimal."""
        return round(100 * self.exceptions_by_type.get(exception_type, 0) / self.orders, 1) if self.orders else 0.0


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    step: Callable[[datetime], object] = field(compare=False)  # what a step returns is not used


class Simulation:
    """One run: the network, the clock, the agenda of future steps, and the rates that disturb them."""

    def __init__(self, engine: Engine, *, seed: int, scenario: Scenario, rules: OmsRules,
                 start: datetime) -> None:
        self.engine, self.seed, self.scenario, self.rules = engine, seed, scenario, rules
        self.clock = VirtualClock(start)
        self.start = self.clock.now()
        self.rng = random.Random(f"{seed}:stream")
        self.oms_rng = random.Random(f"{seed}:oms")
        """The shop's own moves (re-scores, customers' evidence): a stream apart, so the order stream stays put."""
        self._agenda: list[_Due] = []
        self._n = 0
        self._to_place = 0
        self._levels: dict[tuple[str, str], int] = {}
        """Each location's starting stock per sku: what a replenishment tops it up to."""
        self.network: Network | None = None
        self.adopt_every_hours: float | None = None
        """When set (a feed running beside the agents: `tower up`), parcels the sim did not create (an agent's
        reshipment) are taken up on this schedule and carried to their door, without disruption."""
        self._carried: set[str] = set()
        """The shipments whose pick, dispatch and delivery are on the agenda."""

    # ---- the agenda

    def at(self, when: datetime, step: Callable[[datetime], object]) -> None:
        self._n += 1
        heapq.heappush(self._agenda, _Due(max(when, self.start), self._n, step))

    def run_until_idle(self, on_step: Callable[[], None] | None = None) -> None:
        while self._agenda:
            due = heapq.heappop(self._agenda)
            now = self.clock.set(max(due.at, self.clock.now()))
            due.step(now)
            if on_step is not None:
                on_step()

    # ---- setup

    def build_network(self, orders: int) -> Network:
        net = generate_network(random.Random(f"{self.seed}:network"), start=self.start,
                               customers=max(20, orders // 3), stock_scale=self.scenario.stock_scale)
        self._levels = {(x.location, x.sku): x.on_hand for x in net.inventory if x.on_hand > 0}
        with UnitOfWork(self.engine) as uow:
            for group in net.rows():
                uow.session.add_all(group)
                uow.session.flush()
            uow.emit(event("simulation.started", f"seed-{self.seed}", self.start, seed=self.seed,
                           scenario=self.scenario.name, orders=orders, locations=len(net.locations),
                           lanes=len(net.lanes), products=len(net.products), customers=len(net.customers)))
            uow.commit()
        self.network = net
        return net

    def schedule_orders(self, orders: int, on_placed: Callable[[], None] | None = None) -> None:
        def arrive(now: datetime) -> None:
            self._to_place -= 1
            self.place(now)
            if on_placed is not None:
                on_placed()

        when = self.start
        for _ in range(orders):
            when += timedelta(seconds=round(self.rng.expovariate(self.scenario.orders_per_hour) * 3600))
            self.at(when, arrive)
        self._to_place += orders
        if orders and self.scenario.restock_every_hours > 0:
            self.at(self.start + timedelta(hours=self.scenario.restock_every_hours), self.restock)
        if orders and self.adopt_every_hours:
            self.at(self.start + timedelta(hours=self.adopt_every_hours), self.adopt)

    def restock(self, now: datetime) -> None:
        """The shelves are topped up on a schedule while orders arrive: every (location, sku) whose ATP fell to
        half its starting stock or below receives what brings its ATP back to that stock."""
        inv = Inventory.__table__
        with self.engine.connect() as conn:
            atp = {(r.location, r.sku): r.on_hand - r.reserved
                   for r in conn.execute(select(inv.c.location, inv.c.sku, inv.c.on_hand, inv.c.reserved))}
        for (location, sku), level in sorted(self._levels.items()):
            have = atp.get((location, sku), 0)
            if have * 2 <= level:
                services.receive_stock(self.engine, location, sku, level - have, at=now)
        if self._to_place > 0:
            self.at(now + timedelta(hours=self.scenario.restock_every_hours), self.restock)

    # ---- the lifecycle, step by step

    def place(self, now: datetime) -> None:
        net, rng, sc = self.network, self.rng, self.scenario
        assert net is not None
        customer = rng.choice(net.customers)
        known = list(customer.delivered_addresses)
        fresh = f"A-{customer.id[2:]}-{len(known) + 1}"
        address = rng.choice(known) if known and rng.random() < 0.8 else fresh
        method = rng.choices(METHODS, weights=sc.method_weights)[0]
        skus = rng.sample(net.products, rng.randint(1, sc.lines_max))
        lines = tuple(LineRequest(p.sku, rng.choices((1, 2, 3), weights=(80, 15, 5))[0]) for p in skus)
        region = customer.region or "central"
        promised_by = services.promise_for(self.engine, region, method, lines, at=now,
                                           slack_hours=SLACK_HOURS[method], rules=self.rules)
        oid = services.place_order(self.engine, PlaceOrder(
            customer_id=customer.id, ship_region=region, ship_address_id=address, shipping_method=method,
            fee_cents=FEES[method], promised_by=promised_by, lines=lines), at=now, rules=self.rules)
        flagged = rng.random() < sc.fraud_rate
        hold = self.rules.triggers.fraud_hold_score
        score = round(rng.uniform(hold, 1.0), 2) if flagged else math.floor(rng.random() ** 3 * hold * 100) / 100
        if services.screen_order(self.engine, oid, score, at=now, rules=self.rules).status == "on_hold":
            self._rescore_later(now, oid)
            return
        result = services.allocate_order(self.engine, oid, at=now, rules=self.rules)
        for sid in result.shipments:
            self._carried.add(sid)
            shp = self._shipment(sid)
            handling = (shp.eta - now) - timedelta(hours=self._transit_hours(shp))
            self.at(now + handling / 2, partial(self.pick, sid=sid))

    def adopt(self, now: datetime) -> None:
        """Carry the parcels others created (an agent's reshipment of a lost parcel) to their door: picked now,
        dispatched when their lane says, delivered at their ETA. Runs again while the shop has other steps due."""
        live = (ShipmentStatus.created, ShipmentStatus.picked, ShipmentStatus.in_transit)
        with Session(self.engine) as s:
            found = s.exec(select(Shipment.id, Shipment.status).where(col(Shipment.status).in_(live))
                           .order_by(col(Shipment.id))).all()
        for sid, status in found:
            if sid in self._carried:
                continue
            self._carried.add(sid)
            if status == ShipmentStatus.in_transit:
                self.at(self._shipment(sid).eta, partial(self._arrive, sid=sid))
            else:
                self.at(now, partial(self._carry, sid=sid, status=status))
        if self._agenda and self.adopt_every_hours:
            self.at(now + timedelta(hours=self.adopt_every_hours), self.adopt)

    def _carry(self, now: datetime, sid: str, status: str) -> None:
        if status == ShipmentStatus.created:
            _unless_moot(services.pick_shipment, self.engine, sid, at=now, found={})
        shp = self._shipment(sid)
        if shp.status != ShipmentStatus.picked:
            return
        leave = max(now, shp.eta - timedelta(hours=self._transit_hours(shp)))

        def dispatch(t: datetime) -> None:
            _unless_moot(services.dispatch_shipment, self.engine, sid, at=t)
            self.at(self._shipment(sid).eta, partial(self._arrive, sid=sid))

        self.at(leave, dispatch)

    def _arrive(self, now: datetime, sid: str) -> None:
        if self._shipment(sid).status == ShipmentStatus.in_transit:
            _unless_moot(services.carrier_update, self.engine, sid, CarrierUpdate("delivered"), at=now,
                         rules=self.rules)

    def _rescore_later(self, now: datetime, order_id: str) -> None:
        """Screening looks again at some held orders: most come back clear, the rest confirm the hold."""
        rng, sc, hold = self.oms_rng, self.scenario, self.rules.triggers.fraud_hold_score
        if rng.random() >= sc.rescore_rate:
            return
        clear = rng.random() < sc.rescore_clear_rate
        score = math.floor(rng.random() * hold * 100) / 100 if clear else round(rng.uniform(hold, 1.0), 2)
        after = timedelta(hours=round(rng.uniform(*sc.rescore_after_hours), 2))
        self.at(now + after, lambda t: _unless_moot(services.rescore_order, self.engine, order_id, score, at=t))

    def _evidence_later(self, now: datetime, return_id: str) -> None:
        """Some customers whose dispute had no evidence send it a few hours or days later."""
        rng = self.oms_rng
        if rng.random() >= self.scenario.late_evidence_rate:
            return
        after, claim = timedelta(hours=rng.randint(6, 72)), rng.choice(EVIDENCE_CLAIMS)
        self.at(now + after, lambda t: _unless_moot(services.add_return_evidence, self.engine, return_id, at=t,
                                                    evidence=True, claim=claim))

    def pick(self, now: datetime, sid: str) -> None:
        rng, sc = self.rng, self.scenario
        found: dict[str, int] = {}
        roll = rng.random()
        if roll < sc.drift_rate + sc.mispick_rate:
            items = self._items(sid)
            sku, qty = items[rng.randrange(len(items))]
            found[sku] = 0 if roll < sc.drift_rate else qty - 1
        if not services.pick_shipment(self.engine, sid, at=now, found=found).picked:
            return
        shp = self._shipment(sid)
        dispatch_at = shp.eta - timedelta(hours=self._transit_hours(shp))
        self.at(dispatch_at, lambda t: self.dispatch(t, sid))

    def dispatch(self, now: datetime, sid: str) -> None:
        rng, sc = self.rng, self.scenario
        services.dispatch_shipment(self.engine, sid, at=now)
        shp = self._shipment(sid)
        eta, transit = shp.eta, shp.eta - now
        if rng.random() < sc.lost_rate:
            lost = CarrierUpdate("lost", remark=rng.choice(LOST_REMARKS))
            self.at(now + transit * 0.6, lambda t: self.scan(t, sid, lost))
            return
        extra, revise_at, remark = timedelta(0), now + transit / 2, "carrier delay"
        if rng.random() < sc.delay_rate:
            extra += timedelta(hours=rng.choice(sc.delay_hours))
        hub = self._hub_window()
        through = (self._region_of(shp.location), self._ship_region(shp.order_id))
        if hub is not None and sc.hub_region in through and now < hub[1] and eta > hub[0]:
            extra += timedelta(hours=round(rng.uniform(*sc.hub_delay_hours), 1))
            revise_at, remark = min(max(now, hub[0]), eta), f"{sc.hub_region} hub disruption"
        if extra:
            new_eta = eta + extra
            update = CarrierUpdate("in_transit", eta=new_eta, remark=remark)
            self.at(revise_at, lambda t: self.scan(t, sid, update))
            eta = new_eta
        scan = rng.random() >= sc.no_scan_rate
        self.at(eta, lambda t: self.deliver(t, sid, scan))

    def scan(self, now: datetime, sid: str, update: CarrierUpdate) -> None:
        services.carrier_update(self.engine, sid, update, at=now, rules=self.rules)

    def deliver(self, now: datetime, sid: str, scan: bool) -> None:
        rng, sc = self.rng, self.scenario
        services.carrier_update(self.engine, sid, CarrierUpdate("delivered", scan=scan), at=now,
                                rules=self.rules)
        if rng.random() >= sc.return_rate:
            return
        items = self._items(sid)
        sku, qty = items[rng.randrange(len(items))]
        picked = rng.choice(REASONS)
        reason: str | None = picked
        claim = rng.choice(CLAIMS[picked])
        if rng.random() < sc.no_reason_rate:
            reason, claim = None, rng.choice(VAGUE_CLAIMS)
        evidence = reason in ("damaged", "wrong_item") and rng.random() < 0.5
        order_id = self._shipment(sid).order_id
        disputed = rng.random() < sc.dispute_rate
        dispute_claim = rng.choice(DISPUTE_CLAIMS)
        opened = now + timedelta(hours=rng.randint(24, 45 * 24))

        def open_it(t: datetime) -> None:
            rid = services.open_return(self.engine, order_id, [LineRequest(sku, qty)], at=t, reason=reason,
                                       evidence=evidence, claim=claim)
            if disputed:
                def dispute(t2: datetime) -> None:
                    services.dispute_return(self.engine, rid, at=t2, claim=dispute_claim)
                    if not evidence:
                        self._evidence_later(t2, rid)

                self.at(t + timedelta(hours=rng.randint(24, 120)), dispute)
            else:
                self.at(t + timedelta(hours=48),
                        lambda t2: services.settle_return(self.engine, rid, at=t2, approve=True,
                                                          reason="received"))
        self.at(opened, open_it)

    # ---- lookups

    def _shipment(self, sid: str) -> Shipment:
        with Session(self.engine) as s:
            shp = s.get(Shipment, sid)
            assert shp is not None
            return shp

    def _items(self, sid: str) -> list[tuple[str, int]]:
        with Session(self.engine) as s:
            rows = s.exec(select(ShipmentLine).where(ShipmentLine.shipment_id == sid)
                          .order_by(col(ShipmentLine.id))).all()
            return [(r.sku, r.qty) for r in rows]

    def _transit_hours(self, shp: Shipment) -> float:
        assert self.network is not None
        region = self._ship_region(shp.order_id)
        return next(x.transit_hours for x in self.network.lanes
                    if (x.from_location, x.to_region, x.service) == (shp.location, region, shp.service))

    def _ship_region(self, order_id: str) -> str:
        with Session(self.engine) as s:
            order = s.get(Order, order_id)
            assert order is not None
            return order.ship_region

    def _region_of(self, location: str) -> str:
        assert self.network is not None
        return next(x.region for x in self.network.locations if x.id == location)

    def _hub_window(self) -> tuple[datetime, datetime] | None:
        sc = self.scenario
        if sc.hub_region is None:
            return None
        start = self.start + timedelta(hours=sc.hub_start_hours)
        return start, start + timedelta(hours=sc.hub_duration_hours)


def _unless_moot(command: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Run an OMS command the shop sends unprompted; one the agents made moot (the order cancelled, the return
    decided meanwhile) is refused by the OMS and dropped, as a shop drops a late message."""
    with contextlib.suppress(DomainError):
        command(*args, **kwargs)


def simulate(engine: Engine, *, seed: int, orders: int, scenario: Scenario, rules: OmsRules,
             start: datetime, on_order: Callable[[], None] | None = None,
             on_step: Callable[[], None] | None = None) -> Summary:
    """Run one seeded simulation into an empty, migrated store and summarise it.

    The same (seed, orders, scenario, rules, start) give the same store and
    the same event log, byte for byte.
    """
    if store_has_orders(engine):
        raise ValueError("the store already holds orders: a simulation starts from an empty OMS")
    sim = Simulation(engine, seed=seed, scenario=scenario, rules=rules, start=start)
    sim.build_network(orders)
    sim.schedule_orders(orders, on_order)
    sim.run_until_idle(on_step)
    services.tick(engine, at=sim.clock.now(), rules=rules)
    return summarise(engine, seed=seed, scenario=scenario.name, started=sim.start, ended=sim.clock.now())


def summarise(engine: Engine, *, seed: int, scenario: str, started: datetime, ended: datetime) -> Summary:
    with Session(engine) as s:
        by_state = dict(s.exec(select(Order.status, func.count()).group_by(Order.status)
                               .order_by(Order.status)).all())
        by_type = dict(s.exec(select(OrderException.type, func.count()).group_by(OrderException.type)
                              .order_by(OrderException.type)).all())
        n_events = s.exec(select(func.count()).select_from(Event)).one()
    return Summary(seed=seed, scenario=scenario, orders=sum(by_state.values()), events=int(n_events),
                   orders_by_state={str(k): int(v) for k, v in by_state.items()},
                   exceptions_by_type={str(k): int(v) for k, v in by_type.items()},
                   started=started, ended=ended)


def store_has_orders(engine: Engine) -> bool:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Order)).one() > 0


def reset_store(engine: Engine) -> None:
    """Empty every OMS table (the schema stays): a fresh start for a simulation."""
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(repr_ident(t) for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f"DELETE FROM {repr_ident(t)}"))


def repr_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def event_lines(engine: Engine) -> list[str]:
    """The outbox as JSON Lines: seq, at, type, aggregate, aggregate_id, then the event's data."""
    out = []
    with Session(engine) as s:
        for e in s.exec(select(Event).order_by(col(Event.seq))).all():
            record: dict[str, Any] = {"seq": e.seq, "at": iso(e.at), "type": e.type, "aggregate": e.aggregate,
                                      "aggregate_id": e.aggregate_id}
            for key in sorted(e.data or {}):
                record.setdefault(key, e.data[key])
            out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    return out


def write_event_log(engine: Engine, target: Path | IO[str]) -> int:
    lines = event_lines(engine)
    text_ = "".join(line + "\n" for line in lines)
    if isinstance(target, Path):
        target.write_text(text_, encoding="utf-8")
    else:
        target.write(text_)
    return len(lines)

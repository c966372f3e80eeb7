"""The order lifecycle as explicit state machines: orders, lines, shipments, returns.

Each machine is a table of named transitions (from states → to state). `step`
either moves an entity and returns the past-tense event that records it, or
raises `TransitionNotAllowed` naming the entity, its state and the transition,
before anything changes. These functions never touch a session; the service
layer (`core.services`) loads, calls them, emits what they return and commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.errors import TransitionNotAllowed
from core.events import DomainEvent, event
from core.models import LineStatus, OrderStatus, ReturnStatus, ShipmentStatus


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    verb: str
    """Past tense, for the event type: `order.allocated`, `shipment.lost`."""


class Machine:
    """A named set of transitions for one kind of entity."""

    def __init__(self, entity: str, transitions: Mapping[str, tuple[set[str], str, str]]) -> None:
        self.entity = entity
        self.transitions = {name: Transition(frozenset(src), dst, verb)
                            for name, (src, dst, verb) in transitions.items()}

    def allowed(self, state: str) -> list[str]:
        """The transitions open from a state, sorted, for error messages and tests."""
        return sorted(n for n, t in self.transitions.items() if state in t.sources)

    def target(self, ident: str, state: str, name: str) -> Transition:
        t = self.transitions.get(name)
        if t is None or state not in t.sources:
            raise TransitionNotAllowed(self.entity, ident, state, name)
        return t


OS, L, SH, R = OrderStatus, LineStatus, ShipmentStatus, ReturnStatus

ORDER = Machine("order", {
    "screen": ({OS.placed}, "", "screened"),
    "hold": ({OS.placed}, OS.on_hold, "held"),
    "release": ({OS.on_hold}, OS.placed, "released"),
    "allocate": ({OS.placed}, OS.allocated, "allocated"),
    "start_fulfillment": ({OS.allocated}, OS.in_fulfillment, "in_fulfillment"),
    "ship": ({OS.allocated, OS.in_fulfillment}, OS.shipped, "shipped"),
    "deliver": ({OS.shipped}, OS.delivered, "delivered"),
    "cancel": ({OS.placed, OS.on_hold, OS.allocated, OS.in_fulfillment, OS.shipped}, OS.cancelled,
               "cancelled"),
})

LINE = Machine("line", {
    "ship": ({L.open}, L.shipped, "shipped"),
    "deliver": ({L.shipped}, L.delivered, "delivered"),
    "backorder": ({L.open}, L.backordered, "backordered"),
    "reopen": ({L.backordered}, L.open, "reopened"),
    "cancel": ({L.open, L.backordered}, L.cancelled, "cancelled"),
    "cancel_lost": ({L.shipped}, L.cancelled, "cancelled"),
})

SHIPMENT = Machine("shipment", {
    "pick": ({SH.created}, SH.picked, "picked"),
    "dispatch": ({SH.picked}, SH.in_transit, "dispatched"),
    "revise_eta": ({SH.created, SH.picked, SH.in_transit}, "", "eta_revised"),
    "reroute": ({SH.created, SH.picked}, SH.created, "rerouted"),
    "lose": ({SH.in_transit}, SH.lost, "lost"),
    "deliver": ({SH.in_transit}, SH.delivered, "delivered"),
    "cancel": ({SH.created, SH.picked}, SH.cancelled, "cancelled"),
})

RETURN = Machine("return", {
    "dispute": ({R.open}, R.disputed, "disputed"),
    "approve": ({R.open, R.disputed}, R.approved, "approved"),
    "deny": ({R.open, R.disputed}, R.denied, "denied"),
})


class _Stateful(Protocol):
    status: str


def step(machine: Machine, entity: _Stateful, ident: str, name: str, at: datetime,
         **data: Any) -> DomainEvent:
    """Apply one named transition, or refuse it and change nothing.

    A transition whose target is empty (`screen`, `revise_eta`) keeps the state.
    """
    t = machine.target(ident, entity.status, name)
    previous = entity.status
    if t.target:
        entity.status = t.target
    return event(f"{machine.entity}.{t.verb}", ident, at, previous=previous, **data)


ACTIVE_SHIPMENT = frozenset({SH.created, SH.picked, SH.in_transit})

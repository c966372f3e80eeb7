"""A reroute moves the shipment through its state machine: picked elsewhere means picked again where it goes."""

from __future__ import annotations

from casekit import build, shared_case
from sqlmodel import Session, select

from agents.service import work_exception
from core.models import Event, Shipment


def test_a_picked_shipment_rerouted_to_another_location_is_created_there_with_one_rerouted_event() -> None:
    built = build(shared_case("delay-recover-from-store"),
                  lambda c: c["world"]["orders"][0]["shipments"][0].update(status="picked"))
    work_exception(built.engine, built.exception_id, clock=built.clock)
    with Session(built.engine) as s:
        shipment = s.get(Shipment, "S-1")
        assert shipment is not None
        assert (shipment.status, shipment.location, shipment.service) == ("created", "STORE-NYC", "express")
        events = s.exec(select(Event).where(Event.aggregate_id == "S-1")).all()
    assert [e.type for e in events] == ["shipment.rerouted"]
    assert events[0].data["previous"] == "picked" and events[0].data["from_location"] == "DC-EAST"

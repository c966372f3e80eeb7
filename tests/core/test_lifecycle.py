"""The lifecycle's state machines: every allowed transition, and refusals that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import TransitionNotAllowed
from core.lifecycle import LINE, ORDER, RETURN, SHIPMENT, Machine, step
from core.models import LineStatus, OrderStatus, ReturnStatus, ShipmentStatus

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Thing:
    def __init__(self, status: str) -> None:
        self.status = status


ALL_STATES = {
    "order": list(OrderStatus),
    "line": list(LineStatus),
    "shipment": list(ShipmentStatus),
    "return": list(ReturnStatus),
}
MACHINES = [ORDER, LINE, SHIPMENT, RETURN]


def _cases(allowed: bool) -> list[tuple[Machine, str, str]]:
    out = []
    for m in MACHINES:
        for name, t in m.transitions.items():
            for state in ALL_STATES[m.entity]:
                if (state in t.sources) == allowed:
                    out.append((m, name, str(state)))
    return out


@pytest.mark.parametrize(("machine", "name", "state"), _cases(True),
                         ids=lambda v: v.entity if isinstance(v, Machine) else str(v))
def test_every_allowed_transition_moves_and_records_a_past_tense_event(
        machine: Machine, name: str, state: str) -> None:
    thing = Thing(state)
    e = step(machine, thing, "X-1", name, T0)
    expected = machine.transitions[name].target or state
    assert thing.status == expected
    assert e.type == f"{machine.entity}.{machine.transitions[name].verb}"
    assert (e.aggregate, e.aggregate_id, e.at, e.data["previous"]) == (machine.entity, "X-1", T0, state)


@pytest.mark.parametrize(("machine", "name", "state"), _cases(False),
                         ids=lambda v: v.entity if isinstance(v, Machine) else str(v))
def test_refused_transition_names_entity_state_and_transition_and_changes_nothing(
        machine: Machine, name: str, state: str) -> None:
    thing = Thing(state)
    with pytest.raises(TransitionNotAllowed) as err:
        step(machine, thing, "X-1", name, T0)
    assert thing.status == state
    assert (err.value.entity, err.value.ident, err.value.state, err.value.transition) == (
        machine.entity, "X-1", state, name)
    assert machine.entity in str(err.value) and state in str(err.value) and name in str(err.value)


def test_an_unknown_transition_is_refused() -> None:
    with pytest.raises(TransitionNotAllowed):
        step(ORDER, Thing("placed"), "O-1", "teleport", T0)


def test_terminal_states_have_no_way_out() -> None:
    assert ORDER.allowed(OrderStatus.delivered) == []
    assert ORDER.allowed(OrderStatus.cancelled) == []
    assert SHIPMENT.allowed(ShipmentStatus.delivered) == []
    assert RETURN.allowed(ReturnStatus.approved) == []


def test_the_happy_path_is_a_walk_through_the_machines() -> None:
    order, shipment = Thing("placed"), Thing("created")
    for name in ("screen", "allocate", "start_fulfillment"):
        step(ORDER, order, "O-1", name, T0)
    for name in ("pick", "dispatch", "revise_eta", "deliver"):
        step(SHIPMENT, shipment, "S-1", name, T0)
    for name in ("ship", "deliver"):
        step(ORDER, order, "O-1", name, T0)
    assert (order.status, shipment.status) == ("delivered", "delivered")

"""The simulator: a seeded network and order stream on a virtual clock, with named disruption scenarios."""

from core.simulator.network import Network, generate_network
from core.simulator.run import (
    Simulation,
    Summary,
    event_lines,
    reset_store,
    simulate,
    store_has_orders,
    write_event_log,
)
from core.simulator.scenarios import SCENARIOS, Scenario, scenario_named, with_rates

__all__ = ["SCENARIOS", "Network", "Scenario", "Simulation", "Summary", "event_lines", "generate_network",
           "reset_store", "scenario_named", "simulate", "store_has_orders", "with_rates", "write_event_log"]

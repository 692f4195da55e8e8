"""Fleet simulation: many full stations (the same Station core as ``run``) against one CSMS.

``sim`` drives the stations (one websocket task each, one shared timer heap per
worker), ``scenario`` loads the TOML scenario and plans the seeded driver
actions, ``runner`` spreads the stations over worker processes and reports,
``metrics`` aggregates what the stations see, ``csms_main`` is the builtin CSMS
with the scenario's CSMS faults (``faults``).
"""

from .runner import FleetOptions, run_fleet
from .scenario import Driver, Planned, Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["Driver", "FleetOptions", "Planned", "Scenario", "ScenarioError", "load_scenario", "parse_scenario", "run_fleet"]

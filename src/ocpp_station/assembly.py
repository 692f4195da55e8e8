"""The composition root: the one place that puts a station together from its parts.

The sans-I/O core (``core/``) knows neither the feature modules nor any hardware
implementation; whoever runs a station (``runtime``, ``fleet``, ``demo``, the
tests and benchmarks) passes both in. This module holds the defaults they share:
the Core feature modules in hook order and the simulated hardware.
"""

from __future__ import annotations

import random
from typing import Any

from .core.settings import StationSettings
from .core.station import Station
from .features import features_for
from .hardware.simulated import SimulatedHardware
from .store.base import Store


def simulated_hardware(
    settings: StationSettings, store: Store | None = None, initial_energy_wh: float = 1000.0
) -> SimulatedHardware:
    """The simulated meter, relay, lock and cables for ``settings``' connectors (state kept in ``store``);
    ``initial_energy_wh`` is the register of a new meter (one the store already knows carries on)."""
    return SimulatedHardware(
        settings.connectors, settings.fixed_cable, initial_energy_wh=initial_energy_wh, store=store,
        voltage=settings.voltage,
    )


def build_station(
    settings: StationSettings,
    store: Store,
    hardware: Any = None,
    rng: random.Random | None = None,
    features: list[type] | None = None,
) -> Station:
    """A station with the given parts; by default the simulated hardware and the features of ``settings.profiles``."""
    return Station(
        settings,
        store,
        hardware=hardware if hardware is not None else simulated_hardware(settings),
        features=features if features is not None else features_for(settings.profiles),
        rng=rng,
    )

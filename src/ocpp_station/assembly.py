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
from .features import features_of
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
        features=features if features is not None else features_of(settings),
        rng=rng,
    )


def station_hardware(run: Any, store: Store | None = None) -> Any:
    """The hardware of ``run`` (config.RunSettings): the simulated station, or, when ``[hardware]`` names real
    parts, one :class:`~.hardware.composite.CompositeHardware` of those and the simulated rest. The real
    parts are opened and checked when the runtime starts them (``devices``)."""
    sim = simulated_hardware(run.station, store, initial_energy_wh=run.meter_start_wh)
    parts = getattr(run, "hardware", None)
    if parts is None or parts.simulated:
        return sim
    from .hardware.composite import CompositeHardware

    devices: list[Any] = []
    meter = None
    if parts.meter.kind != "simulated":
        from .hardware import registermap
        from .hardware.modbus import ModbusMeter

        meter = ModbusMeter(parts.meter, registermap.load(parts.meter.map, parts.meter.map_base),
                            run.station.connectors)
        devices.append(meter)
    if parts.rfid.kind == "serial":
        from .hardware.rfid import SerialCardReader

        devices.append(SerialCardReader(parts.rfid))
    elif parts.rfid.kind == "evdev":
        from .hardware.rfid import EvdevCardReader

        devices.append(EvdevCardReader(parts.rfid))
    gpio = None
    g = parts.gpio
    if g.relay == "gpio" or g.lock == "gpio":
        from .hardware.gpio import GpioRelayLock, GpioSettings

        gpio = GpioRelayLock(GpioSettings(
            chip=g.chip, active_low=g.active_low,
            relay_lines=g.relay_lines if g.relay == "gpio" else [],
            relay_feedback_lines=g.relay_feedback_lines if g.relay == "gpio" else [],
            lock_lines=g.lock_lines if g.lock == "gpio" else [],
            lock_feedback_lines=g.lock_feedback_lines if g.lock == "gpio" else [],
        ), run.station.connectors)
        devices.append(gpio)
    ev = None
    if parts.ev.kind != "simulated":
        from .hardware.evse import EvseBoard, load_map

        parts.ev.voltage = run.station.voltage
        ev = EvseBoard(parts.ev, load_map(parts.ev.map, parts.ev.map_base), run.station.connectors, sim,
                       max_current=run.station.max_current)
        devices.append(ev)
    return CompositeHardware(sim, meter, devices, gpio, ev)

"""One Hardware object made of real parts and simulated ones.

The core sees a single :class:`~.base.Hardware`; :class:`CompositeHardware` answers meter reads from the
real meter (when ``[hardware] meter`` names one) and everything else (relay, lock, cables, the offer) from the
simulated parts, which the control API and the HMI keep driving. Card readers need nothing here: they hand
``CardPresented`` events to the station. ``devices`` are the real parts the runtime starts and runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .base import MeterSample
from .simulated import SimulatedHardware

# what the station itself decides, not the meter: the simulated parts answer them
_STATION_SIDE = ("Current.Offered", "Power.Offered")


class CompositeHardware:
    def __init__(self, sim: SimulatedHardware, meter: Any = None, devices: list[Any] | None = None,
                 gpio: Any = None, ev: Any = None) -> None:
        self.sim = sim  # relay, lock, cables, the simulated EV (control API)
        self.meter = meter  # a ModbusMeter, or None: the simulated meter
        self.gpio = gpio  # a GpioRelayLock driving the real contactors and locks, or None
        self.ev = ev  # an EvseBoard: the control pilot and the PWM current, or None: the simulated EV
        self.devices = list(devices or [])  # the real parts: started, run and closed by the runtime

    def __getattr__(self, name: str) -> Any:
        # the simulated world's methods (plug_in, fault, connectors, ...) for the control API and the HMI
        return getattr(self.sim, name)

    # -- Hardware protocol --------------------------------------------------------------

    def supports_measurand(self, item: str) -> bool:
        if self.meter is None or item.startswith(_STATION_SIDE):
            return self.sim.supports_measurand(item)
        return self.meter.supports(item)

    def read(self, connector_id: int, now: float) -> MeterSample:
        s = self.sim.read(connector_id, now)
        if self.meter is None:
            return s
        m = self.meter.latest(connector_id)
        if m is None:  # not read yet (start() reads every meter before the station starts)
            m = dataclasses.replace(s, energy_wh=0.0, power_w=0.0, current_a=0.0, voltages={}, currents={})
        return dataclasses.replace(m, current_offered_a=s.current_offered_a, power_offered_w=s.power_offered_w)

    def energy_wh(self, connector_id: int, now: float) -> float:
        if self.meter is None:
            return self.sim.energy_wh(connector_id, now)
        return self.read(connector_id, now).energy_wh

    def set_relay(self, connector_id: int, closed: bool, now: float) -> None:
        self.sim.set_relay(connector_id, closed, now)
        if self.gpio is not None:
            self.gpio.set_relay(connector_id, closed)

    def set_limit(self, connector_id: int, watts: float | None, now: float) -> None:
        self.sim.set_limit(connector_id, watts, now)
        if self.ev is not None:
            self.ev.set_limit(connector_id, watts)

    def lock(self, connector_id: int) -> bool:
        ok = self.sim.lock(connector_id)
        if ok and self.gpio is not None:
            ok = self.gpio.set_lock(connector_id, True)
        return ok

    def unlock(self, connector_id: int) -> bool:
        ok = self.sim.unlock(connector_id)
        if ok and self.gpio is not None:
            ok = self.gpio.set_lock(connector_id, False)
        return ok

    def ev_plugged(self, connector_id: int) -> bool:
        return self.sim.ev_plugged(connector_id)

    def cable_at_station(self, connector_id: int) -> bool:
        return self.sim.cable_at_station(connector_id)

    def snapshot(self, connector_id: int, now: float) -> dict:
        snap = self.sim.snapshot(connector_id, now)
        s = self.read(connector_id, now)
        snap.update(energyWh=round(s.energy_wh, 3), powerW=round(s.power_w, 3))
        return snap

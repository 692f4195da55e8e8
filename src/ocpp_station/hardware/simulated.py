"""Simulated station hardware, driven by the same `now` as the core.

The meter integrates power over time: energy is exact for any step of `now`,
so a 24 h session costs nothing when `now` is stepped. The control API (and
the fleet's drivers) act on it through methods that return the hardware
events to feed into the station.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from ..core.events import (
    CablePlugged,
    CableUnplugged,
    EVStateChanged,
    Event,
    FaultCleared,
    FaultDetected,
)
from .base import MeterSample

MEASURANDS = frozenset(
    {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
        "Current.Offered",
        "Power.Offered",
        "Voltage",
        "Frequency",
        "SoC",
    }
)
PHASED = frozenset({"Current.Import", "Voltage", "Current.Offered"})
PHASES = frozenset({"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"})

VOLTAGE = 230.0  # V per phase, phase to neutral
LINE_VOLTAGE = VOLTAGE * math.sqrt(3)  # V phase to phase (~398 V): the phases are 120° apart
PHASE_COUNT = 3
FREQUENCY = 50.0  # Hz
MAX_POWER_W = 22000.0  # what the station can deliver per connector


@dataclass(slots=True)
class SimConnector:
    ev_plugged: bool = False  # cable inserted at the EV
    station_plugged: bool = False  # cable inserted in the station's socket (always True with a fixed cable)
    ev_charging: bool = True  # the EV wants energy (False: SuspendedEV)
    ev_power_w: float = 11000.0  # what the EV draws when allowed
    relay_closed: bool = False  # contactor state
    energy_wh: float = 0.0  # meter register
    last_update: float | None = None  # `now` of the last integration
    locked: bool = False  # cable lock engaged
    fail_lock: bool = False  # the lock will fail to engage
    fail_unlock: bool = False  # the lock will fail to release
    soc_start: float = 20.0  # % at plug-in
    capacity_wh: float = 60000.0  # battery size
    session_wh: float = 0.0  # energy since plug-in (for SoC)
    fault: str | None = None  # active fault error code
    limit_w: float | None = None  # the charging limit set by the station (Smart Charging), None: none


_PERSISTED = ("ev_plugged", "station_plugged", "ev_charging", "ev_power_w", "energy_wh", "soc_start", "session_wh")
_persisted_values = operator.attrgetter(*_PERSISTED)


class SimulatedHardware:
    """The simulated station. With a ``store`` its physical state (cables, EV, meter register) survives a
    restart of the process, as a real station's does across a power cut: the register stays monotonic.
    ``initial_energy_wh`` is the register of a connector the store holds nothing for yet (a new data_dir)."""

    NS = "hardware"

    def __init__(
        self,
        connectors: int = 1,
        fixed_cable: bool = True,
        initial_energy_wh: float = 1000.0,
        store=None,
        voltage: float = VOLTAGE,
    ) -> None:
        self.fixed_cable = fixed_cable  # a fixed cable is always "in" at the station
        self.voltage = float(voltage)  # V phase to neutral ([hardware] voltage)
        self._voltages = {  # what the meter reads per phase
            **{p: self.voltage for p in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")},
            **{p: self.voltage * math.sqrt(3) for p in ("L1-L2", "L2-L3", "L3-L1")},
            "N": 0.0,  # neutral to earth
        }
        self.store = store  # where the physical state is kept, or None
        self.connectors = {  # connector id -> simulated state
            i: SimConnector(station_plugged=fixed_cable, energy_wh=initial_energy_wh) for i in range(1, connectors + 1)
        }
        self._saved_wh: dict[int, float] = {}  # register value last written, per connector
        if store is not None:
            for key, rec in store.items(self.NS).items():
                c = self.connectors.get(int(key))
                if c is not None:
                    for name in _PERSISTED:
                        if name in rec:
                            setattr(c, name, rec[name])
                    c.station_plugged = c.station_plugged or fixed_cable
                    self._saved_wh[int(key)] = c.energy_wh

    def _save(self, connector_id: int, force: bool = True) -> None:
        if self.store is None:
            return
        c = self.connectors[connector_id]
        if not force and c.energy_wh - self._saved_wh.get(connector_id, 0.0) < 1.0:
            return
        self._saved_wh[connector_id] = c.energy_wh
        self.store.put(self.NS, str(connector_id), dict(zip(_PERSISTED, _persisted_values(c))))

    # -- Hardware protocol --------------------------------------------------------------

    @staticmethod  # the same for every simulated station: the measurand key specs that check with it are shared
    def supports_measurand(item: str) -> bool:
        if item in MEASURANDS:
            return True
        base, _, phase = item.rpartition(".")
        return base in PHASED and phase in PHASES

    @staticmethod
    def _offered(c: SimConnector) -> float:
        """What the station offers the EV: its maximum, capped by the charging limit."""
        if not c.relay_closed:
            return 0.0
        return MAX_POWER_W if c.limit_w is None else max(0.0, min(MAX_POWER_W, c.limit_w))

    def _power(self, c: SimConnector) -> float:
        if c.relay_closed and c.ev_plugged and c.ev_charging and c.fault is None:
            return min(c.ev_power_w, self._offered(c))  # the EV follows the offer at once
        return 0.0

    def _integrate(self, c: SimConnector, now: float) -> None:
        if c.last_update is not None and now > c.last_update:
            wh = self._power(c) * (now - c.last_update) / 3600.0
            c.energy_wh += wh
            c.session_wh += wh
        if c.last_update is None or now > c.last_update:
            c.last_update = now

    def power_w(self, connector_id: int) -> float:
        """The power drawn through ``connector_id`` now (W), as :meth:`read` gives it, without integrating or
        saving the meter: for sampling many stations at once (the fleet's metrics)."""
        return self._power(self.connectors[connector_id])

    def read(self, connector_id: int, now: float) -> MeterSample:
        c = self.connectors[connector_id]
        self._integrate(c, now)
        self._save(connector_id, force=False)
        p = self._power(c)
        soc = min(100.0, c.soc_start + 100.0 * c.session_wh / c.capacity_wh) if c.ev_plugged else None
        amps = p / (self.voltage * PHASE_COUNT)  # a balanced three-phase load
        offered = self._offered(c)
        return MeterSample(
            energy_wh=c.energy_wh,
            power_w=p,
            current_a=amps,
            voltage_v=self.voltage,
            frequency_hz=FREQUENCY,
            soc=soc,
            current_offered_a=offered / (self.voltage * PHASE_COUNT),
            power_offered_w=offered,
            voltages=self._voltages,
            currents={"L1": amps, "L2": amps, "L3": amps, "N": 0.0},  # balanced: the phase currents cancel on N
        )

    def energy_wh(self, connector_id: int, now: float) -> float:
        c = self.connectors[connector_id]
        self._integrate(c, now)
        self._save(connector_id, force=False)
        return c.energy_wh

    def set_relay(self, connector_id: int, closed: bool, now: float) -> None:
        c = self.connectors[connector_id]
        self._integrate(c, now)
        c.relay_closed = closed
        self._save(connector_id)

    def set_limit(self, connector_id: int, watts: float | None, now: float) -> None:
        """The power the connector may deliver (Smart Charging); the EV's draw follows from ``now`` on."""
        c = self.connectors[connector_id]
        self._integrate(c, now)
        c.limit_w = None if watts is None else float(watts)

    def lock(self, connector_id: int) -> bool:
        c = self.connectors[connector_id]
        if c.fail_lock:
            return False
        c.locked = True
        return True

    def unlock(self, connector_id: int) -> bool:
        c = self.connectors[connector_id]
        if c.fail_unlock:
            return False
        c.locked = False
        return True

    def ev_plugged(self, connector_id: int) -> bool:
        return self.connectors[connector_id].ev_plugged

    def cable_at_station(self, connector_id: int) -> bool:
        return self.connectors[connector_id].station_plugged

    # -- the simulated world (control API, fleet drivers) --------------------------------

    def plug_in(self, connector_id: int, now: float) -> list[Event]:
        c = self.connectors[connector_id]
        self._integrate(c, now)
        if c.ev_plugged and c.station_plugged:
            return []
        c.ev_plugged = True
        c.station_plugged = True
        c.session_wh = 0.0
        self._save(connector_id)
        return [CablePlugged(connector_id)]

    def plug_out(self, connector_id: int, side: str, now: float) -> list[Event]:
        c = self.connectors[connector_id]
        self._integrate(c, now)
        events: list[Event] = []
        if side in ("ev", "both") and c.ev_plugged:
            c.ev_plugged = False
            events.append(CableUnplugged(connector_id, "ev"))
        if side in ("station", "both") and not self.fixed_cable and c.station_plugged:
            if c.locked:
                return events  # a locked cable cannot be pulled out of the socket
            c.station_plugged = False
            events.append(CableUnplugged(connector_id, "station"))
        self._save(connector_id)
        return events

    def set_ev(self, connector_id: int, charging: bool, power_w: float | None, now: float) -> list[Event]:
        c = self.connectors[connector_id]
        self._integrate(c, now)
        c.ev_charging = charging
        if power_w is not None:
            c.ev_power_w = float(power_w)
        self._save(connector_id)
        return [EVStateChanged(connector_id, charging, power_w)]

    def fault(self, connector_id: int, error_code: str, info: str | None, now: float) -> list[Event]:
        if connector_id in self.connectors:
            c = self.connectors[connector_id]
            self._integrate(c, now)
            c.fault = error_code
        return [FaultDetected(connector_id, error_code, info)]

    def clear_fault(self, connector_id: int, now: float) -> list[Event]:
        if connector_id in self.connectors:
            c = self.connectors[connector_id]
            self._integrate(c, now)
            c.fault = None
        return [FaultCleared(connector_id)]

    def set_lock_failures(self, connector_id: int, fail_lock: bool, fail_unlock: bool) -> None:
        c = self.connectors[connector_id]
        c.fail_lock = fail_lock
        c.fail_unlock = fail_unlock

    def snapshot(self, connector_id: int, now: float) -> dict:
        c = self.connectors[connector_id]
        s = self.read(connector_id, now)
        return {
            "evPlugged": c.ev_plugged,
            "cableAtStation": c.station_plugged,
            "locked": c.locked,
            "relayClosed": c.relay_closed,
            "energyWh": round(s.energy_wh, 3),
            "powerW": round(s.power_w, 3),
        }

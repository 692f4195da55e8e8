"""What the core needs from the hardware. Adapters for real meters, relays and locks implement these.

All methods are synchronous and cheap: an adapter that talks to a slow device
polls it in its own task and answers from its latest reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol


@dataclass(frozen=True, slots=True)
class MeterSample:
    energy_wh: float  # Energy.Active.Import.Register (monotonic register, [ERRATA] 3.9)
    power_w: float  # Power.Active.Import
    current_a: float  # Current.Import (per phase)
    voltage_v: float  # Voltage
    frequency_hz: float  # Frequency
    soc: float | None  # SoC in %, when the EV reports it
    current_offered_a: float  # Current.Offered
    power_offered_w: float  # Power.Offered
    # per phase ([SPEC] §7.31 phase), for meters that measure phases; a phase missing here reads the value above
    voltages: Mapping[str, float] = field(default_factory=dict)  # Voltage: "L1" / "L1-N" ..., "L1-L2" ..., "N"
    currents: Mapping[str, float] = field(default_factory=dict)  # Current.Import: "L1", "L2", "L3", "N"
    energy_export_wh: float | None = None  # Energy.Active.Export.Register, for meters that have one


class Hardware(Protocol):
    def supports_measurand(self, item: str) -> bool:
        """True when the meter can report ``item`` (a measurand, optionally with a phase: "Voltage.L1")."""
        ...

    def read(self, connector_id: int, now: float) -> MeterSample: ...

    def energy_wh(self, connector_id: int, now: float) -> float:
        """The energy register alone (Wh), as :meth:`read` gives it: for the register saves, which need no
        more of the sample."""
        ...

    def set_relay(self, connector_id: int, closed: bool, now: float) -> None:
        """Close (energy may flow) or open the contactor of a connector."""
        ...

    def lock(self, connector_id: int) -> bool:
        """Lock the cable in the socket; False when the lock failed."""
        ...

    def unlock(self, connector_id: int) -> bool:
        """Unlock the cable; False when the lock mechanism failed."""
        ...

    def ev_plugged(self, connector_id: int) -> bool:
        """Is an EV connected (read at boot: the cable may be in already)?"""
        ...

    def cable_at_station(self, connector_id: int) -> bool:
        """Is a cable (still) inserted in the station's socket? Always True for a fixed cable."""
        ...

    def set_limit(self, connector_id: int, watts: float | None, now: float) -> None:
        """Cap the power the connector may deliver to ``watts`` (total over its phases; None: no cap but the
        hardware's own). Smart Charging calls it whenever the charging-profile limit changes; an adapter turns it
        into what its hardware takes (the IEC 61851 PWM duty cycle, an ISO 15118 schedule, a current set-point:
        amps = watts / (voltage · phases)). 0 W: offer no energy. The default does nothing."""
        return None

"""The parts of ``[hardware]`` an adapter can stand in for, their settings, and what a device adapter offers.

Each part (``meter``, ``rfid``) is ``"simulated"`` by default; a real adapter for one part leaves the others
simulated (hardware/composite.py puts them together behind the one Hardware object the core sees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

METERS = ("simulated", "modbus-tcp", "modbus-rtu")
RFIDS = ("simulated", "serial", "evdev")
RFID_FORMATS = ("text", "hex", "decimal")
EVS = ("simulated", "modbus-tcp", "modbus-rtu")  # [hardware] ev: the EVSE controller board
RELAYS = ("simulated", "gpio")  # [hardware] relay and lock


@dataclass(slots=True)
class MeterSettings:
    kind: str = "simulated"  # [hardware] meter
    map: str = "sdm630"  # a shipped map's name or a TOML file ([hardware] meter_map)
    map_base: Path | None = None  # where a relative meter_map is
    host: str | None = None  # modbus-tcp
    port: int = 502
    device: str | None = None  # modbus-rtu: the serial port
    baudrate: int = 9600
    parity: str = "N"
    units: list[int] = field(default_factory=lambda: [1])  # Modbus unit (device) id per connector
    poll_interval: float = 1.0  # s
    timeout: float = 1.0  # s, for one read


@dataclass(slots=True)
class EvSettings(MeterSettings):
    """[hardware] ev: an EVSE controller board (control pilot state, PWM current) on Modbus."""

    map: str = "evse-din"  # [hardware] ev_map
    phases: int = 3  # [hardware] ev_phases: watts -> amps per phase
    voltage: float = 230.0  # [hardware] voltage


@dataclass(slots=True)
class RfidSettings:
    kind: str = "simulated"  # [hardware] rfid
    device: str | None = None  # the serial port or the input event device
    baudrate: int = 9600
    prefix: str = ""  # stripped from the start of a line
    suffix: str = ""  # ends a line; "" = CR or LF
    format: str = "text"  # "text" | "hex" | "decimal"
    debounce: float = 2.0  # s: the same card again within this is the same presentation
    connector: int | None = None  # the connector the reader belongs to


@dataclass(slots=True)
class GpioParts:
    relay: str = "simulated"  # [hardware] relay
    lock: str = "simulated"  # [hardware] lock
    chip: str = "/dev/gpiochip0"
    relay_lines: list[int] = field(default_factory=list)
    relay_feedback_lines: list[int] = field(default_factory=list)
    lock_lines: list[int] = field(default_factory=list)
    lock_feedback_lines: list[int] = field(default_factory=list)
    active_low: bool = False


@dataclass(slots=True)
class HardwareParts:
    meter: MeterSettings = field(default_factory=MeterSettings)
    rfid: RfidSettings = field(default_factory=RfidSettings)
    gpio: GpioParts = field(default_factory=GpioParts)
    ev: EvSettings = field(default_factory=EvSettings)

    @property
    def simulated(self) -> bool:
        return (self.meter.kind == "simulated" and self.ev.kind == "simulated" and self.rfid.kind == "simulated" and self.gpio.relay == "simulated"
                and self.gpio.lock == "simulated")


class HardwareError(Exception):
    """A device that does not answer or cannot be opened at start-up; ``key`` is the [hardware] key to fix."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


Feed = Callable[[list[Any]], None]  # hands hardware events to the station (the runtime's feed)


class Device(Protocol):
    """A real part: opened and checked at start-up, then run in its own task until cancelled."""

    async def start(self) -> None:
        """Open the device and check it answers; raises HardwareError with one line saying why not."""
        ...

    async def run(self, feed: Feed) -> None: ...

    async def close(self) -> None: ...

"""The EV side: an EVSE controller board over Modbus (TCP or RTU) giving the IEC 61851 control pilot state and
taking the charging current the PWM signal offers.

The board is polled in its own task (the Modbus client code is the meter's, :class:`~.modbus.ModbusLink`).
A change of the pilot state becomes the events the core knows, through the simulated world so that the
cables and the EV the control API shows stay true:

====================  ===========================================================
pilot state           events
====================  ===========================================================
A (no EV)             CableUnplugged (the EV's side)
B (EV connected)      CablePlugged when it was A; EVStateChanged(charging=False)
C, D (charging)       CablePlugged when it was A; EVStateChanged(charging=True)
E, F (error)          FaultDetected(OtherError, "EV pilot state E"); leaving it: FaultCleared
====================  ===========================================================

The Smart Charging limit (``set_limit``, watts) becomes amps per phase (``voltage`` × ``phases``), written
to the board's current register: none = the board's maximum, below the IEC 61851 minimum (6 A) = 0 (no
PWM: the EV pauses), above the maximum = the maximum.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..core.events import Event
from .modbus import ModbusLink, _describe
from .parts import EvSettings, Feed, HardwareError

log = logging.getLogger(__name__)

BUILTIN = {"evse-din": "evse-din.toml"}  # ev_map names of the shipped maps
PILOT_STATES = ("A", "B", "C", "D", "E", "F")
ERROR_CODE = "OtherError"  # [SPEC] §7.6 ChargePointErrorCode: the EV side has no code of its own


class MapError(ValueError):
    pass


@dataclass(slots=True)
class BoardMap:
    name: str
    current_register: int
    state_register: int
    min_current: int
    max_current: int
    states: dict[int, str] = field(default_factory=dict)  # register value -> pilot state

    def amps(self, watts: float | None, voltage: float, phases: int, cap: float | None = None) -> int:
        """The current setting for a limit of ``watts``: whole amps within the board's rules."""
        top = self.max_current if cap is None else min(self.max_current, int(cap))
        if watts is None:
            return top
        a = math.floor(max(0.0, watts) / (voltage * phases) + 1e-9)
        if a < self.min_current:
            return 0  # IEC 61851-1: below 6 A there is no charging current to offer: the EV pauses
        return min(a, top)


def load_map(ref: str, base: Path | None = None) -> BoardMap:
    try:
        if ref in BUILTIN:
            text = resources.files(__package__).joinpath("maps", BUILTIN[ref]).read_text(encoding="utf-8")
        else:
            path = Path(ref)
            if base is not None and not path.is_absolute():
                path = base / path
            text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise MapError(f"cannot read the board map {ref!r}: {e}") from None
    try:
        states = {int(k): str(v) for k, v in doc.get("states", {}).items()}
        m = BoardMap(str(doc.get("name", ref)), int(doc["current_register"]), int(doc["state_register"]),
                     int(doc.get("min_current", 6)), int(doc.get("max_current", 32)), states)
    except (KeyError, ValueError, TypeError) as e:
        raise MapError(f"the board map {ref!r} needs current_register, state_register and [states] ({e})") from None
    bad = [v for v in states.values() if v not in PILOT_STATES]
    if not states or bad:
        raise MapError(f"the board map {ref!r}: [states] must map register values to A-F, got {bad or 'none'}")
    if not 0 < m.min_current <= m.max_current <= 80:
        raise MapError(f"the board map {ref!r}: expected 0 < min_current <= max_current <= 80 A")
    return m


class EvseBoard(ModbusLink):
    part = "ev"

    def __init__(self, settings: EvSettings, board: BoardMap, connectors: int, sim: Any, max_current: float | None = None,
                 client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.map = board
        units = list(settings.units)
        self.units = {cid: units[cid - 1] if cid <= len(units) else units[-1] for cid in range(1, connectors + 1)}
        self.sim = sim  # the simulated world: cables and EV follow the board
        self.cap = max_current  # [hardware] max_current
        self.client = client
        self.clock = clock
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        self.state: dict[int, str] = {}  # connector -> last pilot state read
        self.written: dict[int, int] = {}  # connector -> last current setting written (A)
        self.failing: set[int] = set()  # connectors whose board does not answer now (logged once)
        self._wanted: dict[int, int] = {cid: self._amps(None) for cid in self.units}
        self._wake = asyncio.Event()
        self.polls = 0
        self._polled = asyncio.Event()

    def _amps(self, watts: float | None) -> int:
        return self.map.amps(watts, self.settings.voltage, self.settings.phases, self.cap)

    # -- what the core calls ---------------------------------------------------------------

    def set_limit(self, connector_id: int, watts: float | None) -> None:
        """The Smart Charging limit: written to the board by the device task at once."""
        if connector_id in self._wanted:
            self._wanted[connector_id] = self._amps(watts)
            self._wake.set()

    # -- the device task ---------------------------------------------------------------------

    async def start(self) -> None:
        if self.client is None:
            self.client = self._make_client()
        if not await self._connect():
            await self.close()
            raise HardwareError(self.key, f"no EVSE board answers at {self._where()}: cannot connect")
        for cid, unit in self.units.items():
            try:
                await self._read_state(unit)
            except Exception as exc:  # noqa: BLE001 - any failure means this board cannot be used
                await self.close()
                raise HardwareError("hardware.ev_unit", f"no answer from the EVSE board (unit {unit}) at "
                                                        f"{self._where()}: {_describe(exc)}") from None

    async def run(self, feed: Feed) -> None:
        while True:
            await self.poll(feed)
            try:
                async with asyncio.timeout(self.settings.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def poll(self, feed: Feed) -> None:
        """One round: write a changed current setting, read every pilot state, report the changes."""
        for cid, unit in self.units.items():
            try:
                if not self.client.connected:
                    await self._connect()
                want = self._wanted[cid]
                if self.written.get(cid) != want:
                    async with asyncio.timeout(self.settings.timeout + 1.0):
                        rr = await self.client.write_register(self.map.current_register, want, device_id=unit)
                    if rr.isError():
                        raise ValueError(f"exception response {rr}")
                    self.written[cid] = want
                    log.info("connector %d: EV current setting %d A", cid, want)
                state = await self._read_state(unit)
            except Exception as exc:  # noqa: BLE001 - logged once; the state stays the last one read
                if cid not in self.failing:
                    self.failing.add(cid)
                    log.warning("connector %d: EVSE board read failed (%s); keeping pilot state %s", cid,
                                _describe(exc), self.state.get(cid, "unknown"))
                continue
            if cid in self.failing:
                self.failing.discard(cid)
                log.info("connector %d: the EVSE board answers again", cid)
            events = self._events(cid, self.state.get(cid) or self._sim_state(cid), state)
            self.state[cid] = state
            if events:
                feed(events)
        self.polls += 1
        self._polled.set()

    async def polled(self, rounds: int = 1) -> None:
        target = self.polls + rounds
        while self.polls < target:
            self._polled.clear()
            await self._polled.wait()

    async def _read_state(self, unit: int) -> str:
        async with asyncio.timeout(self.settings.timeout + 1.0):
            rr = await self.client.read_holding_registers(self.map.state_register, count=1, device_id=unit)
        if rr.isError():
            raise ValueError(f"exception response {rr}")
        value = rr.registers[0]
        state = self.map.states.get(value)
        if state is None:
            raise ValueError(f"vehicle state register reads {value}")
        return state

    def _sim_state(self, cid: int) -> str:
        """The pilot state the simulated world stands for (a plugged EV saved in data_dir before a restart)."""
        c = self.sim.connectors.get(cid)
        if c is None or not c.ev_plugged:
            return "A"
        return "C" if c.ev_charging else "B"

    def _events(self, cid: int, old: str, new: str) -> list[Event]:
        """What a pilot state change means to the station (through the simulated world)."""
        if old == new:
            return []
        now = self.clock()
        sim = self.sim
        log.info("connector %d: control pilot %s -> %s", cid, old, new)
        events: list[Event] = []
        if old in ("E", "F"):
            events += sim.clear_fault(cid, now)
        if new in ("E", "F"):
            return events + sim.fault(cid, ERROR_CODE, f"EV pilot state {new}", now)
        if new == "A":
            return events + sim.plug_out(cid, "ev", now)
        if not sim.ev_plugged(cid):
            events += sim.plug_in(cid, now)
        return events + sim.set_ev(cid, new in ("C", "D"), None, now)

"""An energy meter over Modbus TCP or RTU (pymodbus), one unit id per connector.

The meter is polled in its own task every ``poll_interval`` seconds; the core's synchronous ``read`` gets the
last good sample (:meth:`ModbusMeter.latest`). A read that fails (an exception response, a timeout, a lost
connection, a value that is no number) reports ``FaultDetected(PowerMeterFailure)`` for the connector once,
and the sample stays the last good one; the next good read reports ``FaultCleared``. The energy register
never goes backwards: a lower reading keeps the highest value seen.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from ..core.events import FaultCleared, FaultDetected
from .base import MeterSample
from .parts import Feed, HardwareError, MeterSettings
from .registermap import RegisterMap

log = logging.getLogger(__name__)

ERROR_CODE = "PowerMeterFailure"  # [SPEC] §7.6 ChargePointErrorCode


class ModbusLink:
    """The Modbus client side shared by the meter and the EV controller board: the client (TCP or RTU) made
    from the part's settings, connecting with a timeout, and where the peer is (for the one-line errors)."""

    settings: Any
    client: Any
    part = "meter"  # the [hardware] key prefix: meter_host, ev_host, ...

    @property
    def key(self) -> str:
        return f"hardware.{self.part}_host" if self.settings.kind == "modbus-tcp" else f"hardware.{self.part}_device"

    def _where(self) -> str:
        s = self.settings
        return f"{s.host}:{s.port}" if s.kind == "modbus-tcp" else str(s.device)

    def _make_client(self) -> Any:
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

        s = self.settings
        if s.kind == "modbus-tcp":
            return AsyncModbusTcpClient(s.host, port=s.port, timeout=s.timeout, retries=0)
        return AsyncModbusSerialClient(s.device, baudrate=s.baudrate, parity=s.parity, bytesize=8, stopbits=1,
                                       timeout=s.timeout, retries=0)

    async def _connect(self) -> bool:
        try:
            async with asyncio.timeout(self.settings.timeout + 1.0):
                return bool(await self.client.connect())
        except (TimeoutError, OSError):
            return False  # the read that follows reports it

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()


class ModbusMeter(ModbusLink):
    def __init__(self, settings: MeterSettings, regmap: RegisterMap, connectors: int, client: Any = None) -> None:
        self.settings = settings
        self.map = regmap
        units = list(settings.units)
        self.units = {cid: units[cid - 1] if cid <= len(units) else units[-1] for cid in range(1, connectors + 1)}
        self.client = client  # a pymodbus async client; made in start() unless given
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # failures are reported here, once, in one line
        self._latest: dict[int, MeterSample] = {}  # connector -> last good sample
        self._failing: set[int] = set()  # connectors whose meter reported PowerMeterFailure
        self._blocks = regmap.blocks()
        self.polls = 0  # completed poll rounds (tests wait on it)
        self._polled = asyncio.Event()

    # -- what the core reads ---------------------------------------------------------------

    @property
    def failing(self) -> set[int]:
        """The connectors whose meter does not answer now."""
        return set(self._failing)

    def latest(self, connector_id: int) -> MeterSample | None:
        return self._latest.get(connector_id)

    def supports(self, item: str) -> bool:
        base, _, phase = item.rpartition(".")
        if item in self.map.registers:
            return True
        if item in ("Current.Import", "Voltage"):  # without a phase: the total one, else L1
            return any(k.startswith(item + ".") for k in self.map.registers)
        if base == "Voltage" and phase in ("L1", "L2", "L3"):
            return f"Voltage.{phase}-N" in self.map.registers
        return False

    # -- the device task ---------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and read every connector's meter once: the station starts with a real register."""
        if self.client is None:
            self.client = self._make_client()
        errors: dict[int, str] = {}
        if not await self._connect():
            await self.close()
            raise HardwareError(self.key, f"no Modbus meter answers at {self._where()}: cannot connect")
        for cid in self.units:
            try:
                self._store(cid, await self._read_unit(self.units[cid]))
            except Exception as exc:  # noqa: BLE001 - any failure means this meter cannot be used
                errors[cid] = _describe(exc)
        if errors:
            cid, why = next(iter(errors.items()))
            await self.close()
            raise HardwareError("hardware.meter_unit", f"no answer from the Modbus meter (unit {self.units[cid]}) at "
                                          f"{self._where()}: {why}")

    async def run(self, feed: Feed) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            await self.poll(feed)

    async def poll(self, feed: Feed) -> None:
        """One round: read every connector's meter, report a failure or a recovery."""
        for cid, unit in self.units.items():
            try:
                if not self.client.connected:
                    await self._connect()
                self._store(cid, await self._read_unit(unit))
            except Exception as exc:  # noqa: BLE001 - every read failure is a meter failure
                if cid not in self._failing:
                    self._failing.add(cid)
                    why = _describe(exc)
                    log.warning("connector %d: meter read failed (%s): PowerMeterFailure", cid, why)
                    feed([FaultDetected(cid, ERROR_CODE, why[:50])])
                continue
            if cid in self._failing:
                self._failing.discard(cid)
                log.info("connector %d: the meter answers again", cid)
                feed([FaultCleared(cid)])
        self.polls += 1
        self._polled.set()

    async def polled(self, rounds: int = 1) -> None:
        """Wait until ``rounds`` more poll rounds have completed."""
        target = self.polls + rounds
        while self.polls < target:
            self._polled.clear()
            await self._polled.wait()

    # -- reading ----------------------------------------------------------------------------

    async def _read_unit(self, unit: int) -> dict[str, float]:
        words: dict[tuple[str, int], list[int]] = {}
        for table, start, count in self._blocks:
            read = self.client.read_input_registers if table == "input" else self.client.read_holding_registers
            async with asyncio.timeout(self.settings.timeout + 1.0):
                rr = await read(start, count=count, device_id=unit)
            if rr.isError():
                raise ValueError(f"exception response {rr}")
            if len(rr.registers) < count:
                raise ValueError(f"{len(rr.registers)} registers in the answer, {count} asked")
            words[(table, start)] = list(rr.registers)
        return self.map.decode(words)

    def _store(self, cid: int, v: dict[str, float]) -> None:
        energy = v["Energy.Active.Import.Register"]
        if energy < 0:
            raise ValueError(f"energy register reads {energy:g} Wh")
        prev = self._latest.get(cid)
        if prev is not None and energy < prev.energy_wh:
            log.warning("connector %d: the energy register went back from %.0f to %.0f Wh; keeping %.0f",
                        cid, prev.energy_wh, energy, prev.energy_wh)
            energy = prev.energy_wh  # the register never goes backwards
        voltages = {k.removeprefix("Voltage."): x for k, x in v.items() if k.startswith("Voltage.")}
        for p in ("L1", "L2", "L3"):
            if f"{p}-N" in voltages:
                voltages.setdefault(p, voltages[f"{p}-N"])
        currents = {k.removeprefix("Current.Import."): x for k, x in v.items() if k.startswith("Current.Import.")}
        power = v.get("Power.Active.Import", 0.0)
        current = v.get("Current.Import", currents.get("L1", 0.0))
        voltage = v.get("Voltage", voltages.get("L1", 0.0))
        if not all(math.isfinite(x) for x in (power, current, voltage)):
            raise ValueError("a value that is no number")
        self._latest[cid] = MeterSample(
            energy_wh=energy,
            power_w=max(0.0, power),
            current_a=current,
            voltage_v=voltage,
            frequency_hz=v.get("Frequency", 0.0),
            soc=None,
            current_offered_a=0.0,
            power_offered_w=0.0,
            voltages=voltages,
            currents=currents,
            energy_export_wh=v.get("Energy.Active.Export.Register"),
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]

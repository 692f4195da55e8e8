"""An EVSE controller board for the tests: pymodbus's own server laid out as the EVSE-DIN / SimpleEVSE-WB
register table (the station's shipped board map) on TCP (127.0.0.1) or a serial port, answering the vehicle state the test
sets and recording the current settings the station writes."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ocpp_station.hardware.evse import load_map

VALUES = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}  # the EVSE-DIN vehicle state register


class BoardSim:
    def __init__(self, units: tuple[int, ...] = (1,)) -> None:
        self.map = load_map("evse-din")
        self.state: dict[int, str] = {u: "A" for u in units}
        self.current: dict[int, int | None] = {u: None for u in units}  # last current setting written (A)
        self.writes: list[tuple[int, int]] = []  # (unit, amps) in order
        self.changed = asyncio.Event()  # set on every write
        self.devices = [SimDevice(id=u, simdata=[SimData(0, count=0x800, values=0, datatype=DataType.REGISTERS)],
                                  action=functools.partial(self._action, u)) for u in units]
        self.fail = False  # answer every request with an exception response
        self.server: Any = None
        self._task: asyncio.Task | None = None

    async def _action(self, unit, func_code, start_address, address, count, registers, set_values):
        if self.fail:
            return ExcCodes.DEVICE_FAILURE
        if set_values is not None:
            if address == self.map.current_register:
                self.current[unit] = int(set_values[0])
                self.writes.append((unit, int(set_values[0])))
                self.changed.set()
            return None
        registers[self.map.state_register - start_address] = VALUES[self.state[unit]]
        return None

    async def written(self, amps: int, unit: int = 1) -> None:
        """Wait until the station has written ``amps`` as the current setting."""
        while self.current[unit] != amps:
            self.changed.clear()
            await self.changed.wait()

    async def start_tcp(self) -> int:
        self.server = ModbusTcpServer(self.devices, address=("127.0.0.1", 0))
        self._task = asyncio.create_task(self.server.serve_forever())
        while getattr(self.server, "transport", None) is None:
            await asyncio.sleep(0.01)
        return self.server.transport.sockets[0].getsockname()[1]

    async def start_serial(self, port: str) -> None:
        from pymodbus import FramerType
        from pymodbus.server import ModbusSerialServer

        self.server = ModbusSerialServer(self.devices, framer=FramerType.RTU, port=port, baudrate=9600)
        self._task = asyncio.create_task(self.server.serve_forever())
        while getattr(self.server, "transport", None) is None:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
        if self._task is not None:
            self._task.cancel()

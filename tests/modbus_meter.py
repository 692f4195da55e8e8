"""A Modbus energy meter for the tests: pymodbus's own server, answering from the values the test sets, laid
out by a register map (the station's shipped maps), on TCP (127.0.0.1) or a serial port (a pseudo-terminal).

``fail`` makes it misbehave: "exception" answers every read with an exception response (Server Device
Failure), "silent" never answers (the client times out)."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ocpp_station.hardware import registermap


class MeterSim:
    def __init__(self, map_name: str = "sdm630", units: tuple[int, ...] = (1,)) -> None:
        self.map = registermap.load(map_name)
        self.values: dict[int, dict[str, float]] = {
            u: {"Energy.Active.Import.Register": 5000.0, "Frequency": 50.0, "Voltage.L1-N": 230.0,
                "Voltage.L2-N": 231.0, "Voltage.L3-N": 229.0, "Current.Import.L1": 0.0, "Power.Active.Import": 0.0}
            for u in units
        }
        self.fail: str | None = None  # None | "exception" | "silent"
        self.reads = 0  # answered reads
        self.devices = [SimDevice(id=u, simdata=[SimData(0, count=0x200, values=0, datatype=DataType.REGISTERS)],
                                  action=functools.partial(self._action, u)) for u in units]
        self.server: Any = None
        self._task: asyncio.Task | None = None

    def set(self, unit: int = 1, **values: float) -> None:
        """Set measurands: energy (Wh), power (W), or a map's name through ``values`` directly."""
        names = {"energy": "Energy.Active.Import.Register", "power": "Power.Active.Import"}
        self.values[unit].update({names.get(k, k): v for k, v in values.items()})

    async def _action(self, unit, func_code, start_address, address, count, registers, set_values):
        if self.fail == "exception":
            return ExcCodes.DEVICE_FAILURE
        if self.fail == "silent":
            await asyncio.sleep(3600)
        for item, r in self.map.registers.items():
            v = self.values.get(unit, {}).get(item, 0.0)
            words = r.encode(v)
            registers[r.address - start_address : r.address - start_address + r.count] = words
        self.reads += 1
        return None

    async def start_tcp(self) -> int:
        self.server = ModbusTcpServer(self.devices, address=("127.0.0.1", 0))
        self._task = asyncio.create_task(self.server.serve_forever())
        while getattr(self.server, "transport", None) is None:
            await asyncio.sleep(0.01)
        return self.server.transport.sockets[0].getsockname()[1]

    async def start_serial(self, port: str) -> None:
        from pymodbus import FramerType

        self.server = ModbusSerialServer(self.devices, framer=FramerType.RTU, port=port, baudrate=9600)
        self._task = asyncio.create_task(self.server.serve_forever())
        while getattr(self.server, "transport", None) is None:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
        if self._task is not None:
            self._task.cancel()


class PtyPair:
    """Two pseudo-terminals joined back to back, as a null-modem cable joins two serial ports: what one side
    writes to ``a`` is read from ``b`` and the other way round."""

    def __init__(self) -> None:
        self._ma, sa = os.openpty()
        self._mb, sb = os.openpty()
        self.a, self.b = os.ttyname(sa), os.ttyname(sb)
        self._slaves = (sa, sb)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        import select

        pairs = {self._ma: self._mb, self._mb: self._ma}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(pairs), [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    os.write(pairs[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        for fd in (self._ma, self._mb, *self._slaves):
            try:
                os.close(fd)
            except OSError:
                pass

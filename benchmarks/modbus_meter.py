"""One poll round of the Modbus meter adapter against pymodbus's own server on 127.0.0.1 (both in one process):
the SDM630 map (2 reads: 76 + 26 registers) and the EM340 map (1 read of 80), TCP; and the core's ``read``,
which answers from the last good sample.

    .venv/bin/python benchmarks/modbus_meter.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from modbus_meter import MeterSim  # noqa: E402

from ocpp_station.hardware import registermap  # noqa: E402
from ocpp_station.hardware.composite import CompositeHardware  # noqa: E402
from ocpp_station.hardware.modbus import ModbusMeter  # noqa: E402
from ocpp_station.hardware.parts import MeterSettings  # noqa: E402
from ocpp_station.hardware.simulated import SimulatedHardware  # noqa: E402

ROUNDS = 300


async def rounds(name: str) -> None:
    sim = MeterSim(name)
    port = await sim.start_tcp()
    meter = ModbusMeter(MeterSettings(kind="modbus-tcp", host="127.0.0.1", port=port), registermap.load(name), 1)
    await meter.start()
    times = []
    for i in range(ROUNDS):
        sim.set(energy=10000.0 + i)
        t = time.perf_counter()
        await meter.poll(lambda evs: None)
        times.append(time.perf_counter() - t)
    resolution = meter.map.registers["Energy.Active.Import.Register"].scale  # EM340: 0.1 kWh steps
    assert abs(meter.latest(1).energy_wh - (10000.0 + ROUNDS - 1)) <= max(0.5, resolution / 2)
    hw = CompositeHardware(SimulatedHardware(1), meter)
    n = 100_000
    t = time.perf_counter()
    for _ in range(n):
        hw.read(1, 0.0)
    read_us = (time.perf_counter() - t) / n * 1e6
    times.sort()
    print(f"{name}: {len(meter._blocks)} reads per round; round median {statistics.median(times) * 1e3:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)] * 1e3:.2f} ms over {ROUNDS}; core read {read_us:.1f} µs")
    await meter.close()
    await sim.stop()


async def main() -> None:
    for name in ("sdm630", "em340"):
        await rounds(name)


if __name__ == "__main__":
    asyncio.run(main())

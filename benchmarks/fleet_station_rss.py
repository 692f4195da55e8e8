"""Memory of the fleet's stations themselves: N ``FleetStation`` objects (each a full ``Station`` with the
MemoryStore and simulated hardware of ``examples/fleet-peer-load.toml``) built and started, no connection;
VmRSS before and after, per station.

    .venv/bin/python benchmarks/fleet_station_rss.py --count 2000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from pathlib import Path

from ocpp_station.fleet import load_scenario
from ocpp_station.fleet.metrics import rss_kib
from ocpp_station.fleet.sim import FleetStation, Worker

SCENARIO = Path(__file__).resolve().parent.parent / "examples" / "fleet-peer-load.toml"


async def measure(count: int) -> None:
    sc = load_scenario(SCENARIO)
    r0 = rss_kib() or 0
    w = Worker(0, list(range(1, count + 1)), sc, 1, "ws://127.0.0.1:1", time.time(), 60)
    gc.disable()  # as the worker builds them
    for n in range(1, count + 1):
        w.stations.append(FleetStation(w, n, sc.identity(n), sc.settings(sc.identity(n)), 1))
    gc.enable()
    gc.collect()
    r1 = rss_kib() or 0
    now = time.time()
    for fs in w.stations:
        fs.station.start(now)
        fs.flush(now)
    gc.collect()
    r2 = rss_kib() or 0
    w.scheduler.close()
    print(f"{count} stations: built {(r1 - r0) / count:.1f} KiB per station, started {(r2 - r0) / count:.1f} KiB "
          f"per station (process before: {r0 / 1024:.0f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    args = ap.parse_args()
    asyncio.run(measure(args.count))


if __name__ == "__main__":
    main()

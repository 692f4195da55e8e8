"""The cost of one fleet metrics tick with the power and limit sample: ``Worker.gauges(power=True)`` against
``gauges(power=False)`` over N stations, best of 20 ticks.

``--charging F`` closes the contactor of that fraction of the stations (their meter is then read);
``--limit`` gives every station a SmartCharging feature (a stand-in with a fixed limit: the real module's
``limit_w`` costs what its schedule arithmetic costs).

    .venv/bin/python benchmarks/fleet_metrics_tick.py --count 1000 --charging 0.3 --limit
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ocpp_station import features
from ocpp_station.features.base import Feature
from ocpp_station.fleet.scenario import parse_scenario
from ocpp_station.fleet.sim import VIRTUAL_EPOCH, FleetStation, Worker


class FixedLimit(Feature):
    profile = "SmartCharging"

    def limit_w(self, connector_id: int, now: float) -> float | None:
        return 7400.0 if connector_id else None


async def measure(count: int, charging: float, limit: bool) -> tuple[float, float]:
    if limit:
        features._PROFILES["SmartCharging"] = lambda: [FixedLimit]
    sc = parse_scenario({})
    w = Worker(0, list(range(1, count + 1)), sc, 1, "ws://127.0.0.1:1", VIRTUAL_EPOCH, 60, virtual=True)
    for n in range(1, count + 1):
        fs = FleetStation(w, n, sc.identity(n), sc.settings(sc.identity(n)), 1)
        if n <= charging * count:
            c = fs.hardware.connectors[1]
            c.ev_plugged = c.relay_closed = True
        w.stations.append(fs)
    best = {}
    for power in (False, True):
        runs = []
        for _ in range(20):
            t = time.perf_counter()
            w.gauges(power=power)
            runs.append(time.perf_counter() - t)
        best[power] = min(runs) * 1000
    return best[False], best[True]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--charging", type=float, default=0.3)
    ap.add_argument("--limit", action="store_true")
    args = ap.parse_args()
    without, with_power = asyncio.run(measure(args.count, args.charging, args.limit))
    print(f"{args.count} stations, {args.charging:.0%} charging, limit {'yes' if args.limit else 'no'}: "
          f"gauges {without:.2f} ms, with power and limits {with_power:.2f} ms "
          f"(+{(with_power - without) / args.count * 1000:.2f} µs per station and tick)")


if __name__ == "__main__":
    main()

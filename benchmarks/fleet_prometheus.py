"""The cost of `fleet --metrics-listen`: the exporter's update after a snapshot, and one scrape.

    .venv/bin/python benchmarks/fleet_prometheus.py --workers 2 --samples 2000

Feeds an Aggregator worker snapshots shaped like a 10,000-station worker's (per-action counters, a second of
latency samples), times Aggregator.handle with and without the exporter's listener, and the rendering of
/metrics (prometheus_client.generate_latest of the fleet's registry).
"""

from __future__ import annotations

import argparse
import random
import time

from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry

from ocpp_station.fleet.metrics import Aggregator
from ocpp_station.fleet.prom import FleetCollector

ACTIONS = ["Authorize", "BootNotification", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification",
           "StopTransaction"]


def snapshot(w: int, k: int, samples: int, rng: random.Random) -> dict:
    per = {a: 1000 * k + i for i, a in enumerate(ACTIONS)}
    return {"type": "snapshot", "worker": w, "phase": "drive", "connected": 5000, "accepted": 5000,
            "charging_stations": 800, "queued": 3, "accepted_ever": 5000, "all_accepted_at": None,
            "frames_in": 4000 * k, "frames_out": 4000 * k, "call_errors": 0, "call_timeouts": 0, "connects": 5000,
            "reconnects": 10, "disconnects": 10, "sent": per, "received_calls": {"RemoteStartTransaction": k},
            "answered": per, "failed": {}, "latencies": [rng.lognormvariate(-6.5, 0.8) for _ in range(samples)],
            "wall": 1000.0 + k}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2000, help="latency samples per worker snapshot (CALLs a second)")
    ap.add_argument("--seconds", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(1)
    snaps = [[snapshot(w, k, args.samples, rng) for w in range(args.workers)] for k in range(args.seconds)]
    for with_exporter in (False, True):
        agg = Aggregator(10000, args.workers, 0.0)
        if with_exporter:
            c = FleetCollector(10000, "0/10", 1)
            agg.listeners.append(c.update)
        t0 = time.perf_counter()
        for row in snaps:
            for s in row:
                agg.handle(dict(s))
        dt = (time.perf_counter() - t0) / args.seconds
        print(f"{'with' if with_exporter else 'without'} exporter: {dt * 1000:.3f} ms of aggregation per second of run")
    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)
    t0 = time.perf_counter()
    for _ in range(100):
        body = generate_latest(reg)
    print(f"one scrape: {(time.perf_counter() - t0) * 10:.3f} ms, {len(body)} bytes, "
          f"{sum(1 for ln in body.splitlines() if ln and not ln.startswith(b'#'))} series")


if __name__ == "__main__":
    main()

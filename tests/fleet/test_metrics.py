"""Aggregator: the steady driving window (CPU and latency once the ramp-up is over)."""

from __future__ import annotations

from ocpp_station.fleet.metrics import Aggregator


def _snap(worker: int, wall: float, cpu: float, lat: list[float], accepted: int, phase: str = "drive") -> dict:
    return {"type": "snapshot", "worker": worker, "phase": phase, "wall": wall, "cpu_s": cpu,
            "latencies": lat, "accepted_ever": accepted, "all_accepted_at": 10.0 if accepted == 2 else None}


def test_steady_window_opens_settle_seconds_after_all_accepted_and_closes_with_driving():
    agg = Aggregator(4, 2, 0.0)
    for step in (
        lambda w: _snap(w, 5.0, 1.0, [0.5], 1),  # ramp-up
        lambda w: _snap(w, 11.0, 2.0, [0.4], 2),  # all accepted at 10.0, not settled yet
        lambda w: _snap(w, 15.0, 3.0, [0.3], 2),  # the window opens: (15, 3.0)
        lambda w: _snap(w, 25.0, 3.5, [0.002, 0.004], 2),
        lambda w: _snap(w, 35.0, 4.0 + w, [0.001], 2),
        lambda w: _snap(w, 36.0, 9.0, [0.9], 2, phase="stop"),  # the stop phase is not steady
    ):
        for w in (0, 1):
            agg.handle(step(w))
    r = agg.result(40.0)
    # worker 0: 1.0 s over 20 s = 5 %, worker 1: 2.0 s over 20 s = 10 %
    assert r["steady_cpu"] == {"window_s": 20.0, "percent": 15.0, "cpu_s": 3.0, "calls": 0, "us_per_call": None,
                               "start": 15.0, "end": 35.0}
    assert r["steady_latency_ms"]["count"] == 6  # the samples after each worker's first steady snapshot
    assert r["steady_latency_ms"]["max"] == 4.0


def test_no_steady_window_before_every_worker_reported_one():
    agg = Aggregator(4, 2, 0.0)
    agg.handle(_snap(0, 11.0, 2.0, [], 2))
    agg.handle(_snap(1, 11.0, 2.0, [], 2))
    agg.handle(_snap(0, 16.0, 3.0, [], 2))
    agg.handle(_snap(0, 20.0, 3.5, [], 2))
    assert agg.result(30.0)["steady_cpu"] is None  # worker 1 never reached the window

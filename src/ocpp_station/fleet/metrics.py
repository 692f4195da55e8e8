"""Fleet metrics: counters kept per worker, snapshots sent to the aggregator, the progress line and summary.

A worker keeps :class:`WorkerMetrics` (counters, new latency samples) and a
:class:`StationTrace` per station. Every second it sends a *snapshot* (gauges +
cumulative counters + the latency samples since the last snapshot); at the end
a *final* report with the per-station traces. :class:`Aggregator` merges the
workers' reports, prints the progress line and builds the summary/JSON.

Latency is measured by the stations' drivers: from the moment a CALL goes out
(``OutgoingCall.sent_at``, the ``now`` the station sent it with) to the moment
its CALLRESULT/CALLERROR is received.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[i]


@dataclass(slots=True)
class StationTrace:
    """What one station did (the fleet's own trace; tests assert on it)."""

    identity: str
    accepted_at: float | None = None  # wall time of the first Accepted BootNotification.conf
    boots: int = 0  # BootNotification answered
    connections: int = 0
    answered: Counter = field(default_factory=Counter)  # action -> CALLRESULTs received
    failed: Counter = field(default_factory=Counter)  # action -> CALLERRORs / timeouts
    sent: Counter = field(default_factory=Counter)  # action -> CALLs sent (retries included)
    queued: int = 0  # transaction messages still queued at the end
    open_transactions: int = 0  # transactions still running at the end
    registration: str = "Unknown"

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "registration": self.registration,
            "accepted_at": self.accepted_at,
            "boots": self.boots,
            "connections": self.connections,
            "answered": dict(self.answered),
            "failed": dict(self.failed),
            "sent": dict(self.sent),
            "queued": self.queued,
            "open_transactions": self.open_transactions,
        }


@dataclass(slots=True)
class WorkerMetrics:
    frames_in: int = 0
    frames_out: int = 0
    calls_answered: int = 0
    call_errors: int = 0  # CALLERROR answers received
    call_timeouts: int = 0
    exceptions: int = 0  # bugs in the fleet driver or the station (logged)
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    drops: int = 0  # injected network drops
    latencies: list[float] = field(default_factory=list)  # since the last snapshot (s)

    @property
    def errors(self) -> int:
        return self.call_errors + self.call_timeouts + self.exceptions


class Aggregator:
    """Merges worker snapshots; prints progress; builds the summary and the metrics document."""

    WINDOW = 10.0  # s of latency samples the progress line's percentiles cover

    def __init__(self, count: int, workers: int, started: float) -> None:
        self.count = count
        self.workers = workers
        self.started = started  # wall time the fleet started (station 1's start)
        self.snap: dict[int, dict[str, Any]] = {}  # worker -> last snapshot
        self.finals: dict[int, dict[str, Any]] = {}
        self.latencies: list[float] = []  # every sample of the driving phase (ramp-up included)
        self.stop_latencies: list[float] = []  # samples of the stop phase (every session stopped at once)
        self._recent: deque[tuple[float, list[float]]] = deque()
        self._last_frames = (time.time(), 0)
        self.all_accepted_at: float | None = None
        self.max_queued = 0
        self.rss_max: dict[int, int] = {}  # worker -> highest VmRSS seen in its snapshots (KiB)

    def handle(self, msg: dict[str, Any]) -> None:
        w = msg["worker"]
        if msg["type"] == "snapshot" or msg["type"] == "final":
            self.snap[w] = msg
            lat = msg.get("latencies", [])
            (self.stop_latencies if msg.get("phase") == "stop" else self.latencies).extend(lat)
            self._recent.append((time.time(), lat))
        if msg.get("rss_kib"):
            self.rss_max[w] = max(self.rss_max.get(w, 0), msg["rss_kib"])
        if msg["type"] == "final":
            self.finals[w] = msg
        total = self.total("accepted_ever")
        if self.all_accepted_at is None and total >= self.count and len(self.snap) == self.workers:
            self.all_accepted_at = max(s["all_accepted_at"] or 0 for s in self.snap.values())
        self.max_queued = max(self.max_queued, self.total("queued"))

    def total(self, key: str) -> int:
        return sum(s.get(key, 0) for s in self.snap.values())

    def progress_line(self) -> str:
        now = time.time()
        frames = self.total("frames_in") + self.total("frames_out")
        t0, f0 = self._last_frames
        rate = (frames - f0) / (now - t0) if now > t0 else 0.0
        self._last_frames = (now, frames)
        while self._recent and self._recent[0][0] < now - self.WINDOW:
            self._recent.popleft()
        recent = sorted(x for _, lat in self._recent for x in lat)
        p50, p99 = percentile(recent, 50), percentile(recent, 99)

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.1f}"

        clocks = [s_["clock"] for s_ in self.snap.values() if s_.get("clock")]
        jumps = self.total("jumps")
        vt = f" (virtual {min(clocks) - self.started:.0f}s)" if jumps and clocks else ""
        return (
            f"[{now - self.started:6.1f}s]{vt} connected {self.total('connected')}/{self.count} "
            f"accepted {self.total('accepted')} charging {self.total('charging')} "
            f"msg/s {rate:.0f} latency p50 {ms(p50)} ms p99 {ms(p99)} ms "
            f"errors {self.total('errors')} queued-tx {self.total('queued')}"
        )

    def result(self, wall: float, cpu: dict[str, float] | None = None) -> dict[str, Any]:
        stations: dict[str, Any] = {}
        for f in self.finals.values():
            stations.update(f["stations"])
        lat = sorted(self.latencies)
        answered: Counter = Counter()
        failed: Counter = Counter()
        for s in stations.values():
            answered.update(s["answered"])
            failed.update(s["failed"])
        accepted = sum(1 for s in stations.values() if s["accepted_at"] is not None)
        return {
            "stations": self.count,
            "workers": self.workers,
            "wall_s": round(wall, 3),
            "virtual_s": round(min(s["clock"] for s in self.finals.values()) - self.started, 3)
            if self.total("jumps") and self.finals else None,
            "virtual_jumps": self.total("jumps"),
            "accepted": accepted,
            "time_to_all_accepted_s": None
            if self.all_accepted_at is None
            else round(self.all_accepted_at - self.started, 3),
            "frames_in": self.total("frames_in"),
            "frames_out": self.total("frames_out"),
            "messages_per_s": round((self.total("frames_in") + self.total("frames_out")) / wall, 1) if wall else 0,
            "latency_ms": _lat(lat),  # driving phase (ramp-up included)
            "stop_latency_ms": _lat(sorted(self.stop_latencies)),  # stop phase: every open session ends at once
            "errors": self.total("errors"),
            "call_errors": self.total("call_errors"),
            "call_timeouts": self.total("call_timeouts"),
            "exceptions": self.total("exceptions"),
            "connects": self.total("connects"),
            "connect_failures": self.total("connect_failures"),
            "disconnects": self.total("disconnects"),
            "network_drops": self.total("drops"),
            "max_queued_tx": self.max_queued,
            "queued_tx_at_end": sum(s["queued"] for s in stations.values()),
            "open_transactions_at_end": sum(s["open_transactions"] for s in stations.values()),
            "answered": dict(sorted(answered.items())),
            "failed": dict(sorted(failed.items())),
            "rss_kib": {str(w): v for w, v in sorted(self.rss_max.items())},  # peak VmRSS per worker process
            "cpu": cpu or {},
            "per_station": stations,
        }


def _lat(lat: list[float]) -> dict[str, Any]:
    def ms(q: float) -> float | None:
        v = percentile(lat, q)
        return None if v is None else round(v * 1000, 3)

    return {"count": len(lat), "p50": ms(50), "p90": ms(90), "p99": ms(99), "max": ms(100)}


def summary_text(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    a = r["answered"]
    lines = [
        f"fleet: {r['stations']} stations, {r['workers']} worker(s), {r['wall_s']:.1f} s"
        + (f" ({r['virtual_s']:.0f} s of virtual time, {r['virtual_jumps']} jumps)" if r.get("virtual_s") else ""),
        f"  accepted {r['accepted']}/{r['stations']}"
        + (f" (all after {r['time_to_all_accepted_s']:.1f} s)" if r["time_to_all_accepted_s"] is not None else ""),
        f"  messages {r['frames_in'] + r['frames_out']} ({r['messages_per_s']}/s)",
        f"  CSMS latency p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms ({lat['count']} calls)",
        f"  stop phase latency p50 {r['stop_latency_ms']['p50']} ms, p99 {r['stop_latency_ms']['p99']} ms "
        f"({r['stop_latency_ms']['count']} calls)",
        f"  transactions: {a.get('StartTransaction', 0)} started, {a.get('StopTransaction', 0)} stopped; "
        f"open at end {r['open_transactions_at_end']}, queued messages at end {r['queued_tx_at_end']}",
        f"  errors {r['errors']} (CALLERROR {r['call_errors']}, timeouts {r['call_timeouts']}, "
        f"exceptions {r['exceptions']}); connect failures {r['connect_failures']}, network drops {r['network_drops']}",
    ]
    if r.get("cpu"):
        lines.append("  cpu " + ", ".join(f"{k} {v}" for k, v in r["cpu"].items()))
    if any(v for v in r["rss_kib"].values()):
        lines.append("  RSS per worker (MiB): " + ", ".join(
            f"{(v or 0) / 1024:.1f}" for v in r["rss_kib"].values()))
    return "\n".join(lines)


def rss_kib() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None

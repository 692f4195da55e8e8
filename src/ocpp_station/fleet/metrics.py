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

import bisect
import math
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


def station_totals(stations: dict[str, Any]) -> tuple[Counter, Counter, Counter, dict[str, Counter]]:
    """The CALLs the stations had answered, failed and received, per action, and their answers to the CSMS's
    CALLs per action and status (the per-station entries of a report, summed)."""
    answered: Counter = Counter()
    failed: Counter = Counter()
    received: Counter = Counter()
    answers: dict[str, Counter] = {}
    for s in stations.values():
        answered.update(s["answered"])
        failed.update(s["failed"])
        received.update(s["received"])
        for key, n in s.get("answers", {}).items():
            action, _, status = key.partition(" ")
            answers.setdefault(action, Counter())[status] += n
    return answered, failed, received, answers


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[i]


# the latency histogram's upper bounds (s): 10 a decade from 0.1 ms to 100 s (each 1.26 x the previous), then
# +Inf. Percentiles of several runs (the shards of one) are merged from these counts, not averaged
LATENCY_BOUNDS_S: tuple[float, ...] = tuple(float(f"{10 ** (k / 10 - 4):.3g}") for k in range(61))


def histogram(samples: list[float], counts: list[int] | None = None) -> list[int]:
    """Add ``samples`` (s) to per-bucket ``counts`` (not cumulative; the last bucket is +Inf)."""
    if counts is None:
        counts = [0] * (len(LATENCY_BOUNDS_S) + 1)
    bounds = LATENCY_BOUNDS_S
    for x in samples:
        counts[bisect.bisect_left(bounds, x)] += 1
    return counts


def sparse_histogram(samples: list[float]) -> dict[str, int]:
    """The :func:`histogram` of ``samples`` with only its non-empty buckets: bucket index (as a string, a JSON
    key) -> count. A time series point carries one (``latency_hist``) so that shards' points can be merged."""
    out: dict[str, int] = {}
    bounds = LATENCY_BOUNDS_S
    for x in samples:
        k = str(bisect.bisect_left(bounds, x))
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))


def dense_histogram(sparse: dict[str, int]) -> list[int]:
    counts = [0] * (len(LATENCY_BOUNDS_S) + 1)
    for k, c in sparse.items():
        counts[int(k)] += c
    return counts


def histogram_percentile(counts: list[int], q: float) -> float | None:
    """The q-th percentile (ms) of a histogram: the upper bound of the bucket that holds the sample of rank
    round(q / 100 x (count - 1)) (the same rank :func:`percentile` takes), so "at most" that many ms. The
    +Inf bucket answers the last finite bound."""
    total = sum(counts)
    if not total:
        return None
    rank = min(total - 1, max(0, round(q / 100.0 * (total - 1))))
    seen = 0
    for i, c in enumerate(counts):
        seen += c
        if seen > rank:
            return round(LATENCY_BOUNDS_S[min(i, len(LATENCY_BOUNDS_S) - 1)] * 1000, 3)
    return None


def histogram_latency(counts: list[int]) -> dict[str, Any]:
    """``count``, ``p50``, ``p90``, ``p99``, ``max`` (ms, bucket upper bounds) of a histogram."""
    return {"count": sum(counts), **{f"p{q}": histogram_percentile(counts, q) for q in (50, 90, 99)},
            "max": histogram_percentile(counts, 100)}


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
    received: Counter = field(default_factory=Counter)  # action -> CALLs received from the CSMS
    answers: Counter = field(default_factory=Counter)  # "<action> <status>" -> the station's answers to them
    queued: int = 0  # transaction messages still queued at the end
    open_transactions: int = 0  # transactions still running at the end
    dropped: int = 0  # transaction messages given up after TransactionMessageAttempts failures
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
            "received": dict(self.received),
            "answers": dict(self.answers),
            "queued": self.queued,
            "open_transactions": self.open_transactions,
            "dropped_tx_messages": self.dropped,
        }


GAUGES = ("connected", "accepted", "charging_stations", "charging_connectors", "queued", "errors")
# sampled once per tick: the power of every station, the sum of the Smart Charging limits, the power of the
# limited stations (those with a limit) and how many they are (W; sim.FleetStation.power_and_limit)
POWER_GAUGES = ("power_w", "limit_w", "limited_power_w", "limited_stations")
SERIES_POINTS = 1000  # a virtual-time series has at most about this many buckets


def series_step(duration: float) -> float:
    """Virtual time: the width (virtual s) of the time series' buckets for a run of ``duration`` s: 1 s, or
    the smallest of 2, 5, 10, 20, 30, 60, 120, 300, 600... s that keeps it to SERIES_POINTS buckets."""
    for step in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600):
        if duration / step <= SERIES_POINTS:
            return float(step)
    return 3600.0 * math.ceil(duration / SERIES_POINTS / 3600.0)


@dataclass(slots=True)
class Bucket:
    """One second of the time series: a wall-clock second, or with virtual time one bucket of the
    stations' clock (``series_step`` virtual seconds)."""

    messages: int = 0  # frames in + out counted in it
    spans: dict[int, float] = field(default_factory=dict)  # worker -> s its reports here covered
    latencies: list[float] = field(default_factory=list)
    gauges: dict[int, dict[str, int]] = field(default_factory=dict)  # worker -> its last GAUGES in it
    clock: float | None = None  # wall clock: the stations' clock - its start


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
    connect_failure_reasons: Counter = field(default_factory=Counter)  # failure_reason() -> attempts
    disconnects: int = 0
    reconnects: int = 0  # connections of a station after its first
    drops: int = 0  # injected network drops
    power_cuts: int = 0  # power cuts through the control API
    sent: Counter = field(default_factory=Counter)  # action -> CALLs sent by the worker's stations
    received: Counter = field(default_factory=Counter)  # action -> CALLs received from the CSMS
    answered: Counter = field(default_factory=Counter)  # action -> CALLRESULTs received
    failed: Counter = field(default_factory=Counter)  # action -> CALLERRORs and timeouts
    latencies: list[float] = field(default_factory=list)  # since the last snapshot (s)
    series_latencies: list[float] | None = None  # virtual time: since the last bucket of the series (s)

    @property
    def errors(self) -> int:
        return self.call_errors + self.call_timeouts + self.exceptions


class Aggregator:
    """Merges worker snapshots; prints progress; builds the summary and the metrics document."""

    WINDOW = 10.0  # s of latency samples the progress line's percentiles cover
    SETTLE = 5.0  # s after every station was Accepted before the steady driving window opens

    def __init__(self, count: int, workers: int, started: float, clock_start: float | None = None,
                 step: float | None = None) -> None:
        self.count = count
        self.step = step  # virtual time: the series is the workers' buckets of this many virtual s
        self.workers = workers
        self.started = started  # wall time the fleet started (station 1's start)
        self.clock_start = started if clock_start is None else clock_start  # the stations' clock then (virtual)
        self.series: dict[int, Bucket] = {}  # wall second since started (virtual: bucket number) -> its figures
        self._prev: dict[int, tuple[float, int]] = {}  # worker -> (wall, frames) of its previous snapshot
        self.snap: dict[int, dict[str, Any]] = {}  # worker -> last snapshot
        self.finals: dict[int, dict[str, Any]] = {}
        self.latencies: list[float] = []  # every sample of the driving phase (ramp-up included)
        self.stop_latencies: list[float] = []  # samples of the stop phase (every session stopped at once)
        self._recent: deque[tuple[float, list[float]]] = deque()
        self._last_frames = (time.time(), 0)
        self.all_accepted_at: float | None = None
        self.max_queued = 0
        self.rss_max: dict[int, int] = {}  # worker -> highest VmRSS seen in its snapshots (KiB)
        # worker -> (wall, process CPU s, CALLs sent) at the first and the last snapshot of steady driving:
        # every station Accepted SETTLE s ago, the driving phase not over (real time only)
        self.steady_first: dict[int, tuple[float, float, int]] = {}
        self.steady_last: dict[int, tuple[float, float, int]] = {}
        self.steady_latencies: list[float] = []  # the samples of the snapshots after each worker's first steady one
        self.hist_drive = histogram([])  # every latency sample in LATENCY_BOUNDS_S buckets: driving phase
        self.hist_stop = histogram([])  # and stop phase
        self.latency_sum = 0.0  # s: of every sample (the Prometheus histogram's _sum)
        self.listeners: list[Any] = []  # called with the aggregator after each report (the Prometheus exporter)

    def handle(self, msg: dict[str, Any]) -> None:
        w = msg["worker"]
        if msg["type"] == "snapshot" or msg["type"] == "final":
            self.snap[w] = msg
            lat = msg.get("latencies", [])
            if self.step is None:
                self._bucket(w, msg, lat)
            for sample in msg.get("samples", ()):
                self._sample(w, sample)
            (self.stop_latencies if msg.get("phase") == "stop" else self.latencies).extend(lat)
            histogram(lat, self.hist_stop if msg.get("phase") == "stop" else self.hist_drive)
            self.latency_sum += sum(lat)
            self._recent.append((time.time(), lat))
        if msg.get("rss_kib"):
            self.rss_max[w] = max(self.rss_max.get(w, 0), msg["rss_kib"])
        if msg["type"] == "final":
            self.finals[w] = msg
        total = self.total("accepted_ever")
        if self.all_accepted_at is None and total >= self.count and len(self.snap) == self.workers:
            self.all_accepted_at = max(s["all_accepted_at"] or 0 for s in self.snap.values())
        self.max_queued = max(self.max_queued, self.total("queued"))
        if (msg["type"] == "snapshot" and msg.get("phase") == "drive" and "cpu_s" in msg
                and self.all_accepted_at is not None and self.clock_start == self.started
                and msg.get("wall", 0) >= self.all_accepted_at + self.SETTLE):
            if w in self.steady_first:
                self.steady_latencies.extend(lat)
            point = (msg["wall"], msg["cpu_s"], sum(msg.get("sent", {}).values()))
            self.steady_first.setdefault(w, point)
            self.steady_last[w] = point
        for listener in self.listeners:
            listener(self)

    def steady_cpu(self) -> dict[str, float] | None:
        """The fleet's CPU over the steady driving window, or None: ``percent`` (sum over workers, 100 = one
        core), ``cpu_s`` and ``calls`` (CALLs the stations sent, retries included) summed over the workers'
        windows, ``us_per_call`` (their ratio), the window's ``start`` and ``end`` (wall time, the latest
        first and the earliest last snapshot)."""
        spans = [(self.steady_last[w][0] - t0, self.steady_last[w][1] - c0, self.steady_last[w][2] - n0)
                 for w, (t0, c0, n0) in self.steady_first.items() if self.steady_last[w][0] > t0]
        if len(spans) < self.workers or not spans:
            return None
        window = min(s for s, _, _ in spans)
        cpu = sum(c for _, c, _ in spans)
        calls = sum(n for _, _, n in spans)
        return {"window_s": round(window, 1),
                "percent": round(100 * sum(c / s for s, c, _ in spans), 1),
                "cpu_s": round(cpu, 3), "calls": calls,
                "us_per_call": round(1e6 * cpu / calls, 1) if calls else None,
                "start": max(t0 for t0, _, _ in self.steady_first.values()),
                "end": min(t1 for t1, _, _ in self.steady_last.values())}

    def _bucket(self, w: int, msg: dict[str, Any], lat: list[float]) -> None:
        wall = msg.get("wall") or time.time()
        frames = msg.get("frames_in", 0) + msg.get("frames_out", 0)
        t0, f0 = self._prev.get(w, (self.started, 0))
        self._prev[w] = (wall, frames)
        sec = max(0, int(wall - self.started))
        b = self.series.get(sec)
        if b is None:
            b = self.series[sec] = Bucket()
        b.messages += frames - f0
        b.spans[w] = b.spans.get(w, 0.0) + (wall - t0)
        b.latencies.extend(lat)
        b.gauges[w] = {g: msg.get(g, 0) for g in GAUGES + POWER_GAUGES}
        clock = msg.get("clock")
        if clock is not None:
            b.clock = clock - self.clock_start if b.clock is None else min(b.clock, clock - self.clock_start)

    def _sample(self, w: int, sample: dict[str, Any]) -> None:
        """Virtual time: one worker's bucket of the stations' clock (see Worker._bucket)."""
        b = self.series.get(sample["k"])
        if b is None:
            b = self.series[sample["k"]] = Bucket()
        b.messages += sample["messages"]
        b.spans[w] = sample["span"]
        b.latencies.extend(sample["latencies"])
        b.gauges[w] = {g: sample.get(g, 0) for g in GAUGES + POWER_GAUGES}

    def time_series(self) -> list[dict[str, Any]]:
        """Per second of the run: messages/s (in + out), the latency percentiles of the CALLs answered in
        it, and the gauges at its end. Wall-clock seconds; with virtual time, buckets of ``step`` seconds
        of the stations' clock (``t`` is where the bucket starts, its rate is per virtual second)."""
        out = []
        for sec in sorted(self.series):
            b = self.series[sec]
            lat = sorted(b.latencies)
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            g = list(b.gauges.values())
            if self.step is not None:
                span = max(b.spans.values(), default=self.step)
                t: float = sec * self.step
                rate = round(b.messages / max(span, 1.0), 3)  # the last bucket may be a part of one
            else:
                span = sum(b.spans.values()) / len(b.spans) if b.spans else 0.0
                t = sec
                rate = round(b.messages / span, 1) if span > 0.05 else float(b.messages)
            point = {
                "t": t,
                "virtual_t": t if self.step is not None else None,
                "span_s": round(span, 3),
                "messages": b.messages,
                "messages_per_s": rate,
                "latency_count": len(lat),
                "latency_p50_ms": None if p50 is None else round(p50 * 1000, 3),
                "latency_p99_ms": None if p99 is None else round(p99 * 1000, 3),
                "latency_hist": sparse_histogram(lat),  # for fleet merge: the same buckets as latency_histogram
            }
            for name in GAUGES:
                point[name] = sum(x[name] for x in g)
            limited = sum(x["limited_stations"] for x in g)
            point["power_w"] = round(sum(x["power_w"] for x in g), 1)
            point["limited_stations"] = limited
            # no station limited: no limit to show (null), rather than a limit of 0 W
            point["limit_w"] = round(sum(x["limit_w"] for x in g), 1) if limited else None
            point["limited_power_w"] = round(sum(x["limited_power_w"] for x in g), 1) if limited else None
            out.append(point)
        return out

    def total(self, key: str) -> int:
        return sum(s.get(key, 0) for s in self.snap.values())

    def reasons(self) -> dict[str, int]:
        """Why connection attempts failed, over every worker: reason -> attempts, most frequent first."""
        c: Counter = Counter()
        for s in self.snap.values():
            c.update(s.get("connect_failure_reasons", {}))
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

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
        vt = f" (virtual {min(clocks) - self.clock_start:.0f}s)" if jumps and clocks else ""
        return (
            f"[{now - self.started:6.1f}s]{vt} connected {self.total('connected')}/{self.count} "
            f"accepted {self.total('accepted')} charging {self.total('charging_stations')} "
            f"msg/s {rate:.0f} latency p50 {ms(p50)} ms p99 {ms(p99)} ms "
            f"errors {self.total('errors')} queued-tx {self.total('queued')}"
        )

    def progress_table(self) -> list[str]:
        """The live table (a terminal redraws it in place): one header row, one row of values."""
        line = self.progress_line()  # also advances the msg/s window
        clocks = [s_["clock"] for s_ in self.snap.values() if s_.get("clock")]
        t = time.time() - self.started
        vt = f"{min(clocks) - self.clock_start:.0f}" if self.total("jumps") and clocks else "-"
        m = re.search(r"msg/s (\S+) latency p50 (\S+) ms p99 (\S+) ms", line)
        rate, p50, p99 = m.groups() if m else ("-", "-", "-")
        cols = [("time s", f"{t:.0f}"), ("virtual s", vt), ("connected", f"{self.total('connected')}/{self.count}"),
                ("accepted", str(self.total("accepted"))), ("charging", str(self.total("charging_stations"))),
                ("msg/s", rate), ("p50 ms", p50), ("p99 ms", p99), ("errors", str(self.total("errors"))),
                ("queued tx", str(self.total("queued")))]
        widths = [max(len(h), len(v)) for h, v in cols]
        head = " ".join(h.rjust(w) for (h, _), w in zip(cols, widths))
        vals = " ".join(v.rjust(w) for (_, v), w in zip(cols, widths))
        return ["fleet " + head, "      " + vals]

    def result(self, wall: float, cpu: dict[str, float] | None = None) -> dict[str, Any]:
        stations: dict[str, Any] = {}
        for f in self.finals.values():
            stations.update(f["stations"])
        lat = sorted(self.latencies)
        answered, failed, received, answers = station_totals(stations)
        accepted = sum(1 for s in stations.values() if s["accepted_at"] is not None)
        return {
            "stations": self.count,
            "workers": self.workers,
            "wall_s": round(wall, 3),
            "virtual_s": round(min(s["clock"] for s in self.finals.values()) - self.clock_start, 3)
            if self.total("jumps") and self.finals else None,
            "virtual_jumps": self.total("jumps"),
            "accepted": accepted,
            "time_to_all_accepted_s": None
            if self.all_accepted_at is None
            else round(self.all_accepted_at - self.clock_start, 3),
            "frames_in": self.total("frames_in"),
            "frames_out": self.total("frames_out"),
            "messages_per_s": round((self.total("frames_in") + self.total("frames_out")) / wall, 1) if wall else 0,
            "latency_ms": _lat(lat),  # driving phase (ramp-up included)
            "stop_latency_ms": _lat(sorted(self.stop_latencies)),  # stop phase: every open session ends at once
            # the same samples in buckets: `fleet merge` takes the percentiles of several runs from these
            "latency_histogram": {"bounds_ms": [round(b * 1000, 6) for b in LATENCY_BOUNDS_S] + [None],
                                  "driving": list(self.hist_drive), "stop": list(self.hist_stop)},
            "errors": self.total("errors"),
            "call_errors": self.total("call_errors"),
            "call_timeouts": self.total("call_timeouts"),
            "exceptions": self.total("exceptions"),
            "connects": self.total("connects"),
            "connect_failures": self.total("connect_failures"),
            "connect_failure_reasons": self.reasons(),
            "disconnects": self.total("disconnects"),
            "network_drops": self.total("drops"),
            "max_queued_tx": self.max_queued,
            "queued_tx_at_end": sum(s["queued"] for s in stations.values()),
            "open_transactions_at_end": sum(s["open_transactions"] for s in stations.values()),
            "dropped_tx_messages": sum(s["dropped_tx_messages"] for s in stations.values()),
            "drain_given_up": any(f.get("drain_given_up") for f in self.finals.values()),  # a second signal
            "answered": dict(sorted(answered.items())),
            "failed": dict(sorted(failed.items())),
            "received": dict(sorted(received.items())),  # CALLs from the CSMS, by action
            # the stations' answers to them: action -> status (CALLRESULT) or error code (CALLERROR) -> count
            "csms_call_answers": {a: dict(sorted(c.items())) for a, c in sorted(answers.items())},
            "rss_kib": {str(w): v for w, v in sorted(self.rss_max.items())},  # peak VmRSS per worker process
            "cpu": cpu or {},
            "steady_cpu": self.steady_cpu(),  # CPU once the ramp-up is over, until the driving phase ends
            "steady_latency_ms": _lat(sorted(self.steady_latencies)),  # the CALLs answered in that window
            "power_cuts": self.total("power_cuts"),
            "time_base": "wall" if self.step is None else "virtual",  # the seconds of time_series
            "bucket_s": 1.0 if self.step is None else self.step,
            "time_series": self.time_series(),  # per second (virtual: per bucket): messages/s, latency, gauges
            "started_wall": self.started,  # time.time() at the start: the origin of time_series' t
            # per worker: the collector's pauses (longPauses: [wall s, generation, ms]) and the loop's stalls
            "gc": {str(w): f.get("gc") for w, f in sorted(self.finals.items())},
            "loop_stalls": {str(w): f.get("loop_stalls") for w, f in sorted(self.finals.items())},
            "per_station": stations,
        }


def _lat(lat: list[float]) -> dict[str, Any]:
    def ms(q: float) -> float | None:
        v = percentile(lat, q)
        return None if v is None else round(v * 1000, 3)

    return {"count": len(lat), "p50": ms(50), "p90": ms(90), "p99": ms(99), "max": ms(100)}


DASH = "–"  # an empty cell (no sample, not measured)


def _cell(v: Any, fmt: str = "") -> str:
    return DASH if v is None else format(v, fmt)


def _align(rows: list[list[str]], first_width: int = 0, indent: str = "  ") -> list[str]:
    """Rows of cells as text columns: the first left-aligned (at least ``first_width`` wide), the
    others right-aligned; a row of two cells is a label and its text, left-aligned."""
    first = max([first_width] + [len(r[0]) for r in rows])
    cols = max(len(r) for r in rows)
    widths = [first] + [max((len(r[i]) for r in rows if i < len(r) and len(r) > 2), default=0) for i in range(1, cols)]
    out = []
    for r in rows:
        if len(r) == 2:
            cells = [r[0].ljust(first), r[1]]
        else:
            cells = [c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _reasons(r: dict[str, Any]) -> str:
    reasons = r.get("connect_failure_reasons") or {}
    return " (" + ", ".join(f"{k} {v}" for k, v in reasons.items()) + ")" if reasons else ""


def unreported(r: dict[str, Any]) -> str:
    """What the CSMS was not told at the end of the run ("" when everything was delivered): transactions
    still open, transaction messages still queued, messages given up after TransactionMessageAttempts."""
    parts = []
    for key, one, many in (("open_transactions_at_end", "open transaction", "open transactions"),
                           ("queued_tx_at_end", "queued transaction message", "queued transaction messages"),
                           ("dropped_tx_messages", "transaction message dropped after its last attempt",
                            "transaction messages dropped after their last attempt")):
        n = r.get(key) or 0
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts)


def summary_text(r: dict[str, Any]) -> str:
    """The end-of-run summary: one aligned table (a row per figure, the latencies as columns)."""
    virtual = r.get("virtual_s")
    n, accepted, t_all = r["stations"], r["accepted"], r["time_to_all_accepted_s"]
    unit = " virtual" if virtual else ""
    if accepted == n and t_all is not None:
        acc = f"all {n} accepted after {t_all:.1f} s{unit}"
    elif accepted == n:
        acc = f"all {n} accepted"
    else:
        acc = f"{accepted} of {n} accepted"
    messages = r["frames_in"] + r["frames_out"]
    rates = f"{r['messages_per_s']}/s wall-clock"
    if virtual:
        rates += f", {messages / virtual:.1f}/s virtual"
    time_text = f"{r['wall_s']:.1f} s wall-clock"
    if virtual:
        time_text += f", {virtual:.0f} s virtual ({r['virtual_jumps']} jumps)"
    a = r["answered"]
    rows = [
        ["time", time_text],
        ["stations", acc],
        ["messages", f"{messages} ({rates})"],
        ["transactions", f"{a.get('StartTransaction', 0)} started, {a.get('StopTransaction', 0)} stopped; at the end "
                         f"{r['open_transactions_at_end']} open, {r['queued_tx_at_end']} messages queued, "
                         f"{r.get('dropped_tx_messages', 0)} dropped"],
        ["errors", f"{r['errors']} (CALLERROR {r['call_errors']}, timeouts {r['call_timeouts']}, "
                   f"exceptions {r['exceptions']})"],
        ["connections", f"connect failures {r['connect_failures']}{_reasons(r)}, network drops {r['network_drops']}"],
    ]
    answers = r.get("csms_call_answers") or {}
    if answers:
        rows.append(["CSMS calls answered", "; ".join(f"{a} " + ", ".join(f"{k} {v}" for k, v in c.items())
                                                      for a, c in answers.items())])
    limited = [p["limited_stations"] for p in r.get("time_series", []) if p.get("limited_stations") is not None]
    powers = [p["power_w"] for p in r.get("time_series", []) if p.get("power_w") is not None]
    if powers:
        text = f"peak {max(powers) / 1000:.1f} kW (all stations)"
        if any(limited):
            text += f"; up to {max(limited)} stations with a Smart Charging limit"
        rows.append(["power", text])
    missing = unreported(r)
    if missing:
        if r.get("drain_given_up"):
            drain = " (ended early by a signal)"
        else:
            drain = f" of {r['drain_s']:g} s{unit}" if r.get("drain_s") is not None else ""
        rows.append(["UNREPORTED", f"{missing} after the drain{drain}: the CSMS was not told of every "
                                   "transaction (exit status 3)"])
    if r.get("cpu"):
        rows.append(["cpu", ", ".join(f"{k} {v}" for k, v in r["cpu"].items())])
    if any(v for v in r["rss_kib"].values()):
        rows.append(["RSS per worker", ", ".join(f"{(v or 0) / 1024:.1f} MiB" for v in r["rss_kib"].values())])
    lat_rows = [["CSMS latency (ms)", "p50", "p90", "p99", "max", "calls"]]
    for name, key in (("  driving", "latency_ms"), ("  stop phase", "stop_latency_ms")):
        lat = r[key]
        lat_rows.append([name] + [_cell(lat[q], ".3f") for q in ("p50", "p90", "p99", "max")] + [str(lat["count"])])
    width = max(len(row[0]) for row in rows + lat_rows)
    lines = [f"fleet: {n} stations, {r['workers']} worker(s)"]
    lines += _align(rows, width) + _align(lat_rows, width)
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


# -- the --plot page: inline SVG drawn here, no script, no external resource -----------------------

def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) from at or below ``lo`` to at or
    above ``hi``: the finest such step that needs at most ``target + 2`` intervals."""
    if not hi > lo:
        hi = lo + 1.0
    mag = 10.0 ** math.floor(math.log10((hi - lo) / target))
    for step in (mag, 2 * mag, 5 * mag, 10 * mag):
        first = math.floor(lo / step + 1e-9) * step
        if math.ceil((hi - first) / step - 1e-9) <= target + 2:
            break
    ticks = [first]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(first + len(ticks) * step)
    return [round(t, 12) for t in ticks]


def _tick_text(v: float, ticks: list[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{v:.{decimals}f}"


def _svg_chart(title: str, xs: list[float], lines: list[tuple[str, str, list[float | None]]], unit: str,
               width: int = 900, height: int = 260, xlabel: str = "wall-clock seconds since the start",
               dashed: tuple[str, ...] = ()) -> str:
    """A line chart; the lines named in ``dashed`` are drawn dashed."""
    from html import escape

    left, right, top, bottom = 60, 20, 30, 40
    pw, ph = width - left - right, height - top - bottom
    values = [v for _, _, ys in lines for v in ys if v is not None]
    yticks = nice_ticks(0.0, max(values) if values and max(values) > 0 else 1.0)
    ymax = yticks[-1]
    xticks = nice_ticks(min(xs), max(xs)) if xs else nice_ticks(0.0, 1.0)
    xmin, xmax = xticks[0], xticks[-1]

    def px(x: float) -> float:
        return left + (x - xmin) / (xmax - xmin) * pw

    def py(y: float) -> float:
        return top + ph - y / ymax * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for y in yticks:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" font-size="11" text-anchor="end">'
                   f'{_tick_text(y, yticks)}</text>')
    for x in xticks:
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">'
                   f'{_tick_text(x, xticks)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" font-size="11" text-anchor="middle">'
               f'{escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" font-size="11" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2})">{escape(unit)}</text>')
    # the legend, right-aligned above the plot: each entry as wide as its name
    widths = [24 + 6.2 * len(name) for name, _, _ in lines]
    legend_x = [left + pw - sum(widths[n:]) for n in range(len(lines))]
    for n, (name, color, ys) in enumerate(lines):
        pts = []
        segs = []
        for x, y in zip(xs, ys):
            if y is None:
                if pts:
                    segs.append(pts)
                pts = []
            else:
                pts.append(f"{px(x):.1f},{py(y):.1f}")
        if pts:
            segs.append(pts)
        dash = ' stroke-dasharray="6 4"' if name in dashed else ""
        for seg in segs:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            else:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} '
                           f'points="{" ".join(seg)}"/>')
        lx = legend_x[n]
        out.append(f'<line x1="{lx}" x2="{lx + 14}" y1="10" y2="10" stroke="{color}" stroke-width="3"{dash}/>'
                   f'<text x="{lx + 18}" y="14" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


LIMIT_NOTE = ("The sum of the limits covers the stations with a Smart Charging limit at that moment; a station "
              "without the SmartCharging profile or without a limit in effect counts as unlimited: it adds its "
              "power to the power of all stations and nothing to the sum of the limits (no line where no station "
              "is limited). Compare the power of the limited stations with the sum of the limits.")


def plot_html(result: dict[str, Any]) -> str:
    """A self-contained HTML page: messages/s, CALL latency p50/p99 and the stations connected and charging,
    per second of the run.

    With virtual time the x axis is the stations' (virtual) clock, in buckets of ``bucket_s`` virtual
    seconds, and the rates are per virtual second: the same clock on both axes."""
    from html import escape

    series = result.get("time_series", [])
    xs = [float(p["t"]) for p in series]
    if result.get("time_base") == "virtual":
        step = result.get("bucket_s", 1.0)
        xlabel = "virtual seconds since the start (the stations' clock)"
        per = "virtual second"
        bucket = "per virtual second" if step == 1 else f"per {step:g} virtual seconds"
    else:
        xlabel = "wall-clock seconds since the start"
        per = "wall-clock second"
        bucket = "per second"
    thr = _svg_chart(f"Throughput (messages in + out per {per})", xs,
                     [("messages/s", "#1f77b4", [p["messages_per_s"] for p in series])], "messages/s", xlabel=xlabel)
    lat = _svg_chart(f"CSMS latency {bucket} (CALL to answer, real ms)", xs,
                     [("p50", "#2ca02c", [p["latency_p50_ms"] for p in series]),
                      ("p99", "#d62728", [p["latency_p99_ms"] for p in series])], "ms", xlabel=xlabel)
    gauges = _svg_chart("Stations", xs,
                        [("connected", "#1f77b4", [p["connected"] for p in series]),
                         ("charging", "#ff7f0e", [p["charging_stations"] for p in series]),
                         ("with a limit", "#d62728", [p.get("limited_stations") for p in series])], "stations",
                        xlabel=xlabel)

    def kw(key: str) -> list[float | None]:
        return [None if p.get(key) is None else p[key] / 1000 for p in series]

    power = _svg_chart("Power and Smart Charging limits", xs,
                       [("power, all stations", "#1f77b4", kw("power_w")),
                        ("power, limited stations", "#9467bd", kw("limited_power_w")),
                        ("sum of the limits", "#d62728", kw("limit_w"))], "kW", xlabel=xlabel,
                       dashed=("sum of the limits",))
    text = summary_text(result) if "latency_ms" in result else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>ocpp-station fleet: {result.get('stations', '?')} stations</title>"
        "<style>body{font-family:sans-serif;margin:20px}pre{background:#f6f6f6;padding:8px}</style>"
        "</head><body>\n"
        f"<h1>ocpp-station fleet: {result.get('stations', '?')} stations, seed {escape(str(result.get('seed')))}</h1>\n"
        f"<pre>{escape(text)}</pre>\n{thr}\n{lat}\n{gauges}\n{power}\n<p>{escape(LIMIT_NOTE)}</p>\n</body></html>\n"
    )

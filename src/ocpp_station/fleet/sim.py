"""Many full stations on one event loop: the per-station driver and the worker's shared scheduler.

Theory of operation
-------------------
A :class:`FleetStation` is the same sans-I/O :class:`Station` that ``run``
drives (every feature, the MemoryStore, SimulatedHardware); what is lighter is
only the I/O around it:

* one asyncio task per station: its connection loop (connect, wait for the
  link to go, reconnect with jittered exponential back-off). The websocket is a
  :class:`~.link.Link`: frames are read in ``data_received`` and handed to the
  station at once, and written to the transport as the station produces them;
* no timer task per station: the worker's :class:`Scheduler` keeps one heap of
  ``(deadline, seq, target)`` and one ``loop.call_later`` handle for the
  earliest entry. After every input the station is re-armed from
  ``station.get_timer()``; stale heap entries are skipped when popped;

The seeded :class:`~.scenario.Driver`'s actions, the back-off and outage
waits and the end of the run go through the same scheduler. A :class:`Worker`
owns the stations of one process.

Virtual time (``virtual=True``): the stations' ``now`` comes from a
:class:`VirtualClock` (real time plus an offset). Whenever the worker is idle
-- no station has a CALL in flight, none is in
a websocket handshake -- the scheduler jumps the clock to its next deadline
instead of sleeping. Heartbeats, meter values and hour-long sessions then cost
only the CPU they need; the CSMS still answers over real websockets. A CALL the
builtin CSMS leaves unanswered on purpose (``[csms] silence_rate``) does not
keep the worker busy: the worker draws the same :class:`~.faults.CsmsFaults` as
the CSMS, so the clock jumps on to the CALL's timeout.

Injected faults (all from the seed): network drops (:meth:`FleetStation.drop`),
power cuts (:meth:`FleetStation.power_cut`: the station restarts on its
MemoryStore; with backup power it first stops its transactions), and with
``--csms builtin`` CALLERRORs and silence from the CSMS. Their CALLERRORs and
timeouts are counted apart (``csms_faults``), not as errors.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import heapq
import itertools
import logging
import math
import os
import random
import re
import socket
import ssl
import time
from collections import Counter
from operator import add as _add, sub as _sub
from typing import Any, Callable, Iterator
from urllib.parse import quote

import orjson

from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus

from ..config import station_url
from ..core.clock import Clock
from ..core.commands import Reboot, Reconnect
from ..core.events import CardPresented, Event
from ..assembly import build_station, simulated_hardware
from ..core.station import Registration, Station
from ..runtime.timing import SteadyClock, reconnect_delay
from ..runtime.framelog import FrameLog
from ..store.memory import MemoryStore
from .faults import FAULT_DESCRIPTION, CsmsFaults
from .link import Link
from .security import FleetSecurity
from ..csms.stats import FREEZE_MIN_NEW, GcPauses, LoopStalls, freeze_young
from .metrics import StationTrace, WorkerMetrics, rss_kib, series_step
from .scenario import Driver, Planned, Scenario

log = logging.getLogger(__name__)

RECONNECT_MIN = 1.0
RECONNECT_MAX = 30.0
CONNECT_TIMEOUT = 30.0  # s for TCP, TLS and the websocket handshake together


class NoOcppSubprotocol(ConnectionError):
    """The CSMS completed the handshake without the ocpp1.6 subprotocol."""


_TYPE_IDS = ("2", "3", "4")  # OCPP-J MessageTypeIds: CALL, CALLRESULT, CALLERROR ([OCPPJ] §4.1.3)

SILENT_LINK = "closed before the CSMS answered"  # the handshake went through, the CSMS never said a word

_ERRNO_REASONS = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset", errno.ETIMEDOUT: "timeout",
                  errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable"}


def failure_reason(exc: BaseException) -> str:
    """Why a connection attempt failed, as a short label the summary counts: "refused", "HTTP 404",
    "TLS certificate: self-signed certificate", "TLS WRONG_VERSION_NUMBER", "timeout", "DNS", "reset",
    "closed during the handshake", "invalid HTTP response", "bad handshake: ...", "no ocpp1.6 subprotocol"..."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, NoOcppSubprotocol):
        return "no ocpp1.6 subprotocol"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate: {exc.verify_message or exc.reason or 'not trusted'}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS {exc.reason or type(exc).__name__}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, socket.gaierror):
        return "DNS"
    if isinstance(exc, InvalidMessage):
        return "invalid HTTP response"  # not an HTTP/1.1 server (or not HTTP at all)
    if isinstance(exc, InvalidHandshake):
        return f"bad handshake: {type(exc).__name__}"
    if isinstance(exc, OSError):
        # asyncio reports one error per address tried ("Multiple exceptions: [Errno 111] ..., [Errno 111] ...")
        codes = {exc.errno} if exc.errno is not None else {int(c) for c in re.findall(r"\[Errno (\d+)\]", str(exc))}
        if len(codes) == 1:
            code = codes.pop()
            return _ERRNO_REASONS.get(code) or os.strerror(code).lower()
        if isinstance(exc, ConnectionError):
            return "closed during the handshake"  # the CSMS closed the TCP connection (Link.connection_lost)
        return "network error"
    return type(exc).__name__


VIRTUAL_EPOCH = 1_735_689_600.0  # 2025-01-01T00:00:00Z: virtual time starts here (wall-clock independent)
WATCHDOG = 5.0  # real s: virtual time, a worker busy this long (a CSMS that does not answer) advances anyway
BACKUP_POWER_S = 5.0  # s a power cut with backup power leaves the StopTransactions to go out


class VirtualClock:
    """Virtual time (``virtual=True``): starts at ``start`` and moves only when the scheduler advances it.

    It never follows the wall clock, so a run's timestamps, deadlines and message order depend on the
    seed only, not on how fast the machine or the CSMS is."""

    def __init__(self, start: float = VIRTUAL_EPOCH) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance_to(self, t: float) -> None:
        if t > self.t:
            self.t = t


class _PinnedClock(Clock):
    """A station clock that ignores the CSMS's currentTime (virtual time: the virtual clock is the truth)."""

    def sync(self, current_time: str, now: float) -> None:
        pass


class Scheduler:
    """The deadlines of every station and driver action of a worker.

    Real time with a grain: a timer wheel. Deadline ``d`` goes to the bucket of tick ``ceil(d / grain)``
    (a list: O(1), however many deadlines are pending), a small heap holds the ticks that have a bucket,
    and one ``loop.call_later`` waits for the earliest tick. At a tick every bucket due is taken, sorted
    by (deadline, insertion) and run: the same order as one heap of every deadline, without its
    O(log n) per push and pop over thousands of (mostly stale: re-armed) entries. Virtual time, and real
    time without a grain: one heap of ``(deadline, seq, target)``.
    """

    def __init__(self, clock: Callable[[], float] = time.time, idle: Callable[[], bool] | None = None,
                 grain: float = 0.0, virtual_grain: float = 0.0) -> None:
        self.clock = clock
        self.grain = grain  # real time: wake-ups on multiples of this (s), one for every deadline in it
        # virtual time: jumps land on multiples of this (s), so that every deadline within it fires in one
        # jump and the stations' CALLs of that moment travel together (0: each jump to the next deadline)
        self.virtual_grain = virtual_grain
        self.idle = idle  # virtual time: () -> True when nothing but the heap can make progress
        self.jumps = 0  # virtual-time jumps made
        self.horizon: float | None = None  # virtual time: never jump past this
        self.hold: Callable[[], bool] | None = None  # virtual time: no jump while this says so
        self._heap: list[tuple[float, int, Any]] = []
        self._wheel_on = idle is None and grain > 0  # a timer wheel (see the class docstring)
        self._wheel: dict[int, list[tuple[float, int, Any]]] = {}  # tick -> its bucket
        self._ticks: list[int] = []  # heap of the ticks that have a bucket
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None  # the worker's loop, bound at first use
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at: float | None = None
        self._watchdog = False
        self.on_error: Callable[[BaseException], None] = lambda exc: log.exception("scheduled call failed")

    def __len__(self) -> int:
        return len(self._heap) + sum(len(b) for b in self._wheel.values())

    def arm(self, fs: FleetStation) -> None:
        """Re-read the station's next deadline (after every input)."""
        d = fs.station.get_timer()
        if d == fs.armed:
            return
        fs.armed = d
        if d is not None:
            self._push(d, fs)

    def at(self, when: float, fn: Callable[[float], None]) -> None:
        self._push(when, fn)

    def _push(self, when: float, target: Any) -> None:
        if not self._wheel_on:
            heapq.heappush(self._heap, (when, next(self._seq), target))
            self._wake(when)
            return
        k = math.ceil(when / self.grain)
        if k * self.grain < when:  # rounding: a tick is never before its deadlines
            k += 1
        bucket = self._wheel.get(k)
        if bucket is None:
            bucket = self._wheel[k] = []
            heapq.heappush(self._ticks, k)
            if self._handle_at is None or k * self.grain < self._handle_at:
                self._wake_tick(k)
        bucket.append((when, next(self._seq), target))

    def _wake_tick(self, k: int) -> None:
        """Wheel: wake up at tick ``k`` (its bucket's deadlines are all <= k * grain)."""
        if self._handle is not None:
            self._handle.cancel()
        at = self._handle_at = k * self.grain
        loop = self._loop or self._bind()
        self._handle = loop.call_later(max(0.0, at - self.clock()), self._run)

    def _wake(self, when: float) -> None:
        if self._handle_at is not None and self._handle_at <= when:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle_at = when
        now = self.clock()
        if self.idle is None:
            delay = max(0.0, when - now)
            if self.grain:
                delay += -(now + delay) % self.grain
        elif when <= now or self.idle():
            delay = 0.0
        else:  # virtual time stands still while a station waits for the CSMS; a watchdog for a silent one
            delay = WATCHDOG
        self._watchdog = delay == WATCHDOG
        loop = self._loop or self._bind()
        self._handle = loop.call_later(delay, self._run)

    def kick(self) -> None:
        """Virtual time: the worker may have become idle; jump now if so."""
        if self.idle is None or not self._heap or not self.idle():
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle_at = self._heap[0][0]
        self._watchdog = False
        self._handle = (self._loop or self._bind()).call_soon(self._run)

    def _bind(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        return self._loop

    async def sleep_until(self, when: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        self.at(when, lambda _now: fut.done() or fut.set_result(None))
        await fut

    def _run(self) -> None:
        if self._wheel_on:
            self._run_wheel()
            return
        watchdog, self._watchdog = self._watchdog, False  # fired after WATCHDOG real seconds of waiting
        self._handle = self._handle_at = None
        heap = self._heap
        if self.idle is not None and heap and heap[0][0] > self.clock() and (self.idle() or watchdog) \
                and not (self.hold is not None and self.hold()):
            target = heap[0][0]
            if self.virtual_grain:
                target = math.ceil(target / self.virtual_grain - 1e-9) * self.virtual_grain
            if self.horizon is not None:
                target = min(target, self.horizon)
            if target > self.clock():
                self.clock.advance_to(target)  # type: ignore[attr-defined]
                self.jumps += 1
        now = self.clock()
        due = []
        while heap and heap[0][0] <= now:
            due.append(heapq.heappop(heap))
        self._fire(due, now)
        if heap:
            self._wake(heap[0][0])

    def _fire(self, due: list[tuple[float, int, Any]], now: float) -> None:
        """Run one round's due timers in order; what is re-armed in the past runs in the next round (no busy loop)."""
        for when, _, target in due:
            try:
                if isinstance(target, FleetStation):
                    if target.armed == when:  # not re-armed meanwhile
                        target.armed = None
                        target.on_timer(now)
                else:
                    target(now)
            except Exception as exc:
                self.on_error(exc)

    def _run_wheel(self) -> None:
        self._handle = self._handle_at = None
        now = self.clock()
        ticks, wheel, g = self._ticks, self._wheel, self.grain
        due: list[tuple[float, int, Any]] = []
        while ticks and ticks[0] * g <= now:
            due += wheel.pop(heapq.heappop(ticks))
        due.sort(key=_when_seq)  # the order of one heap: deadline, then insertion
        self._fire(due, now)
        if ticks and (self._handle_at is None or ticks[0] * g < self._handle_at):
            self._wake_tick(ticks[0])  # the earliest bucket (one re-armed during the round may be later)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._handle_at = None
        self._watchdog = False
        self._heap.clear()
        self._wheel.clear()
        self._ticks.clear()


def _when_seq(entry: tuple[float, int, Any]) -> tuple[float, int]:
    return entry[0], entry[1]


class SeededDraws:
    """The draws of ``random.Random(seed)``, in the same sequence, without holding its generator (~2.5 KiB of
    Mersenne Twister state per station): each draw seeds a new generator and skips the 32-bit words the earlier
    draws used. A fleet station draws seldom (its message-id prefix at each build, a back-off jitter at each
    reconnection), so thousands of stations keep a seed and a count each instead."""

    __slots__ = ("seed", "used")

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.used = 0  # 32-bit words of the sequence drawn so far

    def _at(self, words: int) -> random.Random:
        r = random.Random(self.seed)
        if self.used:
            r.getrandbits(32 * self.used)  # takes exactly `used` words
        self.used += words
        return r

    def getrandbits(self, k: int) -> int:
        return self._at((k + 31) // 32).getrandbits(k)  # k bits take ceil(k / 32) words

    def random(self) -> float:
        return self._at(2).random()  # a float takes 2 words


class FleetStation:
    """One full station driven on the worker's loop."""

    # thousands per process: attributes in slots, not a dict each (~1.3 KiB less per station)
    __slots__ = ("worker", "index", "identity", "settings", "rng", "store", "hardware", "smart", "station",
                 "trace", "_answering", "armed", "url", "ws", "task", "offline_until", "_offline_wake", "_plan",
                 "_reboot", "started", "frames", "unplugged", "_parked", "_sleeping", "_closing_ws", "_call_ref",
                 "_call_perf", "heard", "_control", "_backup_until", "_fault_ref", "_silent", "dropped_before",
                 "_tx_cond", "gauge_part", "_save_at", "_saving", "_metering")

    def __init__(self, worker: Worker, index: int, identity: str, settings: Any, seed: Any) -> None:
        self.worker = worker
        self.index = index
        self.identity = identity
        self.settings = settings
        self.rng: Any = SeededDraws(f"{seed}/{identity}/station")
        self.store = MemoryStore()
        self.hardware = simulated_hardware(settings, store=self.store)  # [hardware] voltage too
        self.smart: Any = None  # the Smart Charging feature of the current station (None: no such profile)
        self.station = self._new_station()
        self.trace = StationTrace(identity)
        self._answering: tuple[str, str] | None = None  # (message id, action) of a CSMS CALL being answered
        self.armed: float | None = None  # deadline currently in the scheduler's heap
        self.gauge_part: tuple[int, ...] | None = None  # real time: its gauge_values() in the worker's sums
        # [OCPPJ] §3.1: the identity is percent-encoded into the URL, as `run` does (runtime/app.py)
        self.url = station_url(worker.csms_url, identity)
        self.ws: Link | None = None  # the open link to the CSMS
        self.task: asyncio.Task | None = None
        self.offline_until = 0.0  # injected network outage
        self._offline_wake: asyncio.Event | None = None
        self._plan: Iterator[Planned] | None = None
        self._reboot = False
        self.started = False
        self.frames: FrameLog | None = FrameLog(worker.frame_log_size) if worker.frame_log_size else None  # --control
        self.unplugged = False  # the control API pulled the network cable (POST .../network/disconnect)
        self._parked: asyncio.Future | None = None  # the connection loop waits for the cable to come back
        self._sleeping: asyncio.Future | None = None  # the connection loop sleeps (back-off, outage)
        self._closing_ws: Any = None  # a connection being torn down (virtual time waits for it)
        self._call_ref: Any = None  # the in-flight CALL whose real send time is _call_perf
        self._call_perf = 0.0
        self.heard = False  # the CSMS sent something on the current link
        self._control: Any = None
        self._backup_until: float | None = None  # a power cut with backup power: the battery's end
        self._fault_ref: Any = None  # the last CALL the CSMS faults twin was asked about
        self._silent: Any = None  # the in-flight CALL the builtin CSMS will not answer (csms.silence_rate)
        self.dropped_before = 0  # transaction messages given up by the station's earlier lives (power cuts)

    def _new_station(self) -> Station:
        st = build_station(self.settings, self.store, self.hardware, self.rng)
        if self.worker.virtual:
            st.clock = _PinnedClock()
        # the feature registered under profile "SmartCharging" gives each connector's limit (limit_w)
        self.smart = next((f for f in st.features if f.profile == "SmartCharging" and hasattr(f, "limit_w")), None)
        self._tx_cond = st.feature["Transactions"].cond  # connector id -> its state (the gauges read .tx)
        # register saves on the worker's scheduler, not as timer inputs of the station (Metering.save_registers)
        self._save_at: float | None = None  # the save pass currently in the scheduler (an earlier one is stale)
        self._saving = False
        self._metering = st.feature.get("Metering")
        if self._metering is not None:
            self._metering.save_armed = self._save_armed
        return st

    def _save_armed(self, due: float) -> None:
        if not self._saving and (self._save_at is None or due < self._save_at):
            self._save_at = due
            self.worker.scheduler.at(due, self._save_registers)

    def _save_registers(self, now: float) -> None:
        """The station's due register saves (the bound on what a power cut loses), then the next pass armed."""
        at = self._save_at
        if at is None or at > now:
            return  # stale: re-armed earlier or later, or the station was replaced (power cut)
        metering = self._metering
        self._save_at = None
        self._saving = True
        try:
            metering.save_registers(now)
        finally:
            self._saving = False
            nxt = metering.next_register_save()
            if nxt is not None:
                self._save_armed(nxt)

    def power_and_limit(self, now: float) -> tuple[float, float | None]:
        """The station's power (W, the sum over its connectors' meters) and its Smart Charging limit (W): the
        sum of its connectors' limits, capped by the limit of connector 0 (the station as a whole) when the
        feature gives one. None when the station has no SmartCharging feature or a connector has no limit
        (unlimited). Called once per metrics tick, not per message."""
        hw = self.hardware
        power = 0.0
        for cid, c in hw.connectors.items():
            if c.relay_closed:  # no power through an open contactor
                power += hw.power_w(cid)  # the meter is neither integrated nor saved here
        smart = self.smart
        if smart is None:
            return power, None
        limit: float | None = 0.0
        for cid in hw.connectors:
            lim = smart.limit_w(cid, now)
            if lim is None:
                limit = None
                break
            limit += lim  # type: ignore[operator]
        try:
            whole = smart.limit_w(0, now)
        except Exception:  # a feature that knows limits per connector only
            whole = None
        if whole is not None:
            limit = whole if limit is None else min(limit, whole)
        return power, limit

    # -- inputs (each followed by flush) ----------------------------------------------

    def start(self, now: float) -> None:
        self.started = True
        self.station.start(now)
        self.flush(now)
        self.worker.connecting += 1  # until its first connection is up (virtual time waits for it)
        self.task = asyncio.get_running_loop().create_task(self._connection_loop(), name=self.identity)
        self.worker.tasks.add(self.task)
        self.task.add_done_callback(self.worker.tasks.discard)

    def on_timer(self, now: float) -> None:
        if self.worker.ending and self.settled():
            # the drain: a station with every transaction message delivered and nothing in flight has done
            # its part and stays quiet (no Heartbeat, no MeterValues) until the fleet closes. What it sends
            # then never depends on how long the other stations of its worker, shard or machine take
            return
        prev = self.station.session.in_flight
        self.station.handle_timer(now)
        if prev is not None and self.station.session.in_flight is not prev and now >= prev.deadline:
            if prev is self._silent:  # a CALL the builtin CSMS left unanswered on purpose
                self.worker.csms_silences += 1
            else:
                self.worker.metrics.call_timeouts += 1
            self.trace.failed[prev.action] += 1
            self.worker.metrics.failed[prev.action] += 1
        self.flush(now)

    def feed(self, events: list[Event], now: float) -> None:
        for ev in events:
            self.station.handle_event(ev, now)
        self.flush(now)

    def on_frame(self, data: str | bytes, now: float) -> None:
        self.heard = True
        w = self.worker
        m = w.metrics
        m.frames_in += 1
        if self.frames is not None:
            self.frames.add("in", data, now)
        st = self.station
        session = st.session
        prev = session.in_flight
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        kind = text[1:2]  # the MessageTypeId of "[3,...": no copy of the frame to strip its start
        if text[:1] != "[" or kind not in _TYPE_IDS:
            kind = text.lstrip("[ \t\r\n")[:1]
        if kind == "2":
            try:  # a CALL from the CSMS (rare beside the answers): count it by action, and its answer (flush)
                call = orjson.loads(data)
                self.trace.received[str(call[2])] += 1
                m.received[str(call[2])] += 1
                self._answering = (str(call[1]), str(call[2]))
            except (orjson.JSONDecodeError, IndexError, TypeError):
                pass  # the station answers the malformed frame itself
        st.receive(data, now)
        if prev is not None and session.in_flight is not prev:
            # latency in real seconds (virtual time stands still while a CALL is in flight)
            lat = time.perf_counter() - self._call_perf if prev is self._call_ref else now - prev.sent_at
            if kind == "3":
                m.calls_answered += 1
                m.latencies.append(lat)
                if m.series_latencies is not None:
                    m.series_latencies.append(lat)
                action = prev.action
                self.trace.answered[action] += 1
                m.answered[action] += 1
                if action == "BootNotification":
                    self.trace.boots += 1
            elif kind == "4":
                if FAULT_DESCRIPTION in text:  # injected by the builtin CSMS (csms.error_rate)
                    w.csms_errors += 1
                else:
                    m.call_errors += 1
                m.latencies.append(lat)
                if m.series_latencies is not None:
                    m.series_latencies.append(lat)
                self.trace.failed[prev.action] += 1
                m.failed[prev.action] += 1
        if self.trace.accepted_at is None and st.registration == Registration.ACCEPTED:
            self.trace.accepted_at = w.clock()
            w.accepted_ever += 1
        self.flush(now)

    def flush(self, now: float) -> None:
        st = self.station
        w = self.worker
        frames = st.data_to_send()
        if frames:
            w.metrics.frames_out += len(frames)
            inflight = st.session.in_flight
            if inflight is not None and inflight.sent_at == now:
                self.trace.sent[inflight.action] += 1
                w.metrics.sent[inflight.action] += 1
                if inflight is not self._call_ref:
                    self._call_ref, self._call_perf = inflight, time.perf_counter()
            ws = self.ws
            if ws is not None:
                if self.frames is not None:
                    for f in frames:
                        self.frames.add("out", f, now)
                if w.call_trace is not None and not w.closing:
                    w.record(self, frames, now)
                faults = w.csms_faults
                if faults is not None and inflight is not None and inflight is not self._fault_ref:
                    # the twin of the builtin CSMS's draw: virtual time does not wait for a silenced CALL
                    self._fault_ref = inflight
                    if faults.decide(self.identity, inflight.unique_id) == "silence":
                        self._silent = inflight
                for f in frames:
                    ws.send(f)
        if self._answering is not None:
            self._count_answer(frames)
        for cmd in st.commands():
            if isinstance(cmd, Reboot):
                self._reboot = True
                self._close()
            elif isinstance(cmd, Reconnect):
                self._close()
        if self._backup_until is not None and (not st.connected or st.feature["Reset"].drained()):
            self._backup_until = None  # the StopTransactions are out (or cannot go): the backup gives up
            self._cut()
        w.scheduler.arm(self)
        if w.virtual:
            w.update_busy(self)
        else:
            w.gauge_input(self, now)

    def gauge_values(self, now: float) -> tuple[int, ...]:
        """This station's part of :meth:`Worker.gauges`, in integers (W as mW) so that the worker's running
        sums stay exact: connected, accepted, charging (0/1), connectors with a transaction, transaction
        messages queued, power, limit, power when limited, limited (0/1)."""
        st = self.station
        n = 0
        for c in self._tx_cond.values():
            if c.tx is not None:
                n += 1
        p, lim = self.power_and_limit(now)
        pm = round(p * 1000)
        limited = (0, 0, 0) if lim is None else (round(lim * 1000), pm, 1)
        return (st.connected + 0, (st.registration == Registration.ACCEPTED) + 0, (n > 0) + 0, n,
                len(st.tx_queue._queue), pm, *limited)

    def _count_answer(self, frames: list[str]) -> None:
        """The station's answer to the CSMS CALL it just received, counted by action and status: a
        CALLRESULT's ``status`` (Accepted, Rejected...; "answered" without one), a CALLERROR's code
        (NotSupported, NotImplemented...)."""
        uid, action = self._answering  # type: ignore[misc]
        self._answering = None
        for f in frames:
            if uid not in f:
                continue
            try:
                msg = orjson.loads(f)
            except orjson.JSONDecodeError:
                continue
            if msg[0] == 3 and msg[1] == uid:
                status = msg[2].get("status", "answered") if isinstance(msg[2], dict) else "answered"
            elif msg[0] == 4 and msg[1] == uid:
                status = str(msg[2])
            else:
                continue
            self.trace.answers[f"{action} {status}"] += 1
            return

    def _close(self) -> None:
        ws = self.ws
        if ws is not None:
            self._tearing_down(ws)
            loop = asyncio.get_running_loop()
            t = loop.create_task(ws.close())
            self.worker.tasks.add(t)
            t.add_done_callback(self.worker.tasks.discard)

    def _tearing_down(self, ws: Link) -> None:
        """``ws`` is going away: virtual time waits until the connection loop has seen it go."""
        if self._closing_ws is None:
            self._closing_ws = ws
            self.worker.connecting += 1

    def _abort(self) -> None:
        """The link goes away at once, as a cable pulled out: no closing handshake."""
        ws = self.ws
        if ws is not None:
            self._tearing_down(ws)
            ws.abort()

    def _wake(self) -> None:
        for fut in (self._parked, self._sleeping):
            if fut is not None and not fut.done():
                fut.set_result(None)

    # -- control API (--control) --------------------------------------------------

    def network_disconnect(self, mode: str = "drop") -> None:
        """The link goes down: ``"drop"`` without a closing handshake, ``"close"`` with one (1000)."""
        self.unplugged = True
        if mode == "close":
            self._close()
        else:
            self._abort()

    def network_connect(self) -> None:
        self.unplugged = False
        self._wake()

    def power_cut(self, backup_power: bool = False) -> None:
        """Power fails: the link drops and the station restarts on its same MemoryStore (its open
        transactions are stopped with PowerLoss at that boot). With backup power it first stops them
        itself and gives the StopTransactions up to 5 s (of the stations' clock) to go out: the power goes
        when they are answered, when the link is down, or at the end of the 5 s, whichever comes first
        (checked after every input, see :meth:`flush`, so virtual time gives the same trace every run).
        The process lives on."""
        if not backup_power:
            self._cut()
            return
        now = self.worker.clock()
        self.station.feature["Reset"].stop_all("PowerLoss", now)
        self.station.pump(now)
        self._backup_until = until = now + BACKUP_POWER_S
        self.worker.scheduler.at(until, self._backup_empty)
        self.flush(now)

    def _backup_empty(self, now: float) -> None:
        if self._backup_until is not None and now >= self._backup_until:
            self._backup_until = None
            self._cut()

    def _cut(self) -> None:
        self.worker.metrics.power_cuts += 1
        self._reboot = True
        if self.ws is not None:
            self._abort()
        else:
            self._wake()

    # -- driver actions -------------------------------------------------------------

    def do(self, ev: Planned, now: float) -> None:
        hw, cid = self.hardware, ev.connector
        if ev.kind == "plug_in":
            hw.connectors[cid].ev_power_w = float(ev.arg)
            hw.connectors[cid].ev_charging = True
            self.feed(hw.plug_in(cid, now), now)
        elif ev.kind == "card_start":
            if hw.connectors[cid].ev_plugged:
                self.feed([CardPresented(ev.arg, cid)], now)
        elif ev.kind == "card_stop":
            # the driver comes back to stop the charging; if there is none (a power cut stopped it, the
            # start was refused) the card is not presented: it would start a new transaction
            if hw.connectors[cid].ev_plugged and self.station.feature["Transactions"].cond[cid].tx is not None:
                self.feed([CardPresented(ev.arg, cid)], now)
        elif ev.kind == "plug_out":
            self.feed(hw.plug_out(cid, "both", now), now)
        elif ev.kind == "drop":
            self.drop(float(ev.arg), now)
        elif ev.kind == "power_cut":
            self.power_cut(bool(ev.arg))

    def drop(self, outage: float, now: float) -> None:
        """Injected network failure: the link goes away for ``outage`` seconds."""
        self.worker.metrics.drops += 1
        self.offline_until = max(self.offline_until, now + outage)
        self._abort()

    def end_sessions(self, now: float) -> None:
        """The fleet stops: every driver presents the card again (also for a transaction left open after
        its EV was unplugged: StopTransactionOnEVSideDisconnect is false by default) and unplugs."""
        tx = self.station.feature["Transactions"]
        for cid, sim in self.hardware.connectors.items():
            cond = tx.cond[cid]
            if cond.tx is not None:
                self.feed([CardPresented(cond.tx.id_tag, cid)], now)
            if sim.ev_plugged:
                self.feed(self.hardware.plug_out(cid, "both", now), now)

    def open_transactions(self) -> int:
        return sum(1 for c in self.station.feature["Transactions"].cond.values() if c.tx is not None)

    def dropped_tx(self) -> int:
        """Transaction messages given up after TransactionMessageAttempts failures ([SPEC] §3.7.1): the CSMS
        never got them."""
        return self.dropped_before + self.station.tx_queue.dropped

    def drained(self) -> bool:
        return len(self.station.tx_queue) == 0 and self.open_transactions() == 0

    def settled(self) -> bool:
        """Drained and no CALL in flight: the station will send and receive nothing more before the close."""
        return not self.station.session.busy and self.drained()

    # -- connection -----------------------------------------------------------------

    async def _sleep_until(self, when: float) -> None:
        w = self.worker
        w.connecting -= 1
        w.scheduler.kick()
        fut = self._sleeping = asyncio.get_running_loop().create_future()
        w.scheduler.at(when, lambda _now: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            self._sleeping = None
            w.connecting += 1

    async def _park(self) -> None:
        """Wait (outside the scheduler) until the control API plugs the network back in."""
        w = self.worker
        w.connecting -= 1
        w.scheduler.kick()
        fut = self._parked = asyncio.get_running_loop().create_future()
        try:
            await fut
        finally:
            self._parked = None
            w.connecting += 1

    async def _connection_loop(self) -> None:
        try:
            await self._connection_loop_inner()
        finally:
            self.worker.connecting -= 1
            self.worker.scheduler.kick()

    async def _connection_loop_inner(self) -> None:
        failures = 0
        m = self.worker.metrics
        while not self.worker.closing:
            if self._reboot:
                self._reboot = False
                now = self.worker.clock()
                for cid in self.hardware.connectors:
                    self.hardware.set_relay(cid, False, now)
                self.armed = None
                self.dropped_before += self.station.tx_queue.dropped
                self.station = self._new_station()
                self.station.start(now)
                self.flush(now)
            if self.unplugged:
                await self._park()
                continue
            if self.offline_until > self.worker.clock():
                await self._sleep_until(self.offline_until)
                continue
            connected = False
            reason = SILENT_LINK  # unless the attempt fails before the link is up
            ping = self.station.config["WebSocketPingInterval"] or None
            try:
                sec = self.worker.security
                ws = await Link.open(self.url, max(4 * self.settings.max_frame_bytes, 1 << 20), ping,
                                     timeout=CONNECT_TIMEOUT, headers=sec.headers(self.identity),
                                     ssl=sec.ssl_context(self.identity))
                try:
                    if ws.subprotocol != "ocpp1.6":
                        raise NoOcppSubprotocol("subprotocol ocpp1.6 not accepted")
                    # the back-off restarts only once the CSMS answered on the link: one that takes the
                    # connection and drops it at once is not hammered
                    connected = await self._serve(ws)
                    if connected:
                        failures = 0
                finally:
                    await ws.close()
            except asyncio.CancelledError:
                raise
            except (OSError, InvalidHandshake, TimeoutError, ConnectionError) as exc:
                reason = failure_reason(exc)
                log.info("%s: connection failed (%s): %s", self.identity, reason, exc or type(exc).__name__)
            except Exception:
                reason = "exception"
                m.exceptions += 1
                log.exception("%s: connection loop", self.identity)
            if self.worker.closing:
                return
            if self._reboot or self.unplugged:
                continue
            if not connected:
                failures += 1
                m.connect_failures += 1
                m.connect_failure_reasons[reason] += 1
            delay = reconnect_delay(failures, RECONNECT_MIN, RECONNECT_MAX, self.rng.random())
            await self._sleep_until(self.worker.clock() + delay)

    async def _serve(self, ws: Link) -> bool:
        """Run the station on this link until it goes; True if the CSMS sent anything on it."""
        m = self.worker.metrics
        if self._reboot:  # the power went while the handshake was under way
            return False
        self.ws = ws
        self.worker.connecting -= 1
        self.trace.connections += 1
        m.connects += 1
        if self.trace.connections > 1:
            m.reconnects += 1
        clock = self.worker.clock
        now = clock()
        self.station.connection_made(now)
        self.flush(now)
        self.worker.scheduler.kick()  # the handshake is over: maybe nothing else keeps virtual time waiting
        self.heard = False
        try:
            ws.attach(lambda message: self.on_frame(message, clock()))
            await ws.closed
        finally:
            self.worker.connecting += 1
            if self._closing_ws is ws:
                self._closing_ws = None
                self.worker.connecting -= 1
                self.worker.scheduler.kick()
            self.ws = None
            m.disconnects += 1
            now = clock()
            self.station.connection_lost(now)
            self.flush(now)
        return self.heard


class Worker:
    """The stations of one process, on one event loop."""

    def __init__(
        self,
        worker_id: int,
        indices: list[int],
        scenario: Scenario,
        seed: Any,
        csms_url: str,
        start_at: float,
        duration: float,
        drain_timeout: float = 300.0,
        report: Callable[[dict[str, Any]], None] = lambda msg: None,
        virtual: bool = False,
        control: bool = False,
        trace: bool = False,
        builtin: bool = False,
    ) -> None:
        self.worker_id = worker_id
        self.indices = indices
        self.scenario = scenario
        self.driver = Driver(scenario, seed)
        self.seed = seed
        self.csms_url = csms_url
        # [fleet] security_profile: the stations' Basic-auth keys and TLS contexts
        self.security = FleetSecurity(scenario.security_profile, seed, scenario.pki_dir, scenario.ca_file,
                                      builtin)
        self.start_at = start_at  # wall time of the fleet's t = 0
        self.duration = duration  # s of driving (after start_at)
        self.drain_timeout = drain_timeout
        self.report = report
        self.virtual = virtual
        self.clock: Callable[[], float] = VirtualClock(start_at) if virtual else SteadyClock()
        self.frame_log_size = 100 if control else 0  # a small FrameLog per station, only for --control
        self.call_trace: list[tuple[float, str, int, str, str, str]] | None = [] if trace else None
        self.by_identity: dict[str, FleetStation] = {}
        self.busy: set[FleetStation] = set()  # virtual time: stations with a CALL in flight or frames to write
        self.connecting = 0  # websocket handshakes under way
        self.scheduler = Scheduler(self.clock, self.idle if virtual else None, scenario.timer_grain,
                                   scenario.virtual_grain if virtual else 0.0)
        self.metrics = WorkerMetrics()
        # virtual time: the time series is sampled on the stations' clock, every series_step virtual seconds
        self.step = series_step(duration) if virtual else None
        self.samples: list[dict[str, Any]] = []  # virtual-time buckets not reported yet
        # the collector's pauses and the loop's stalls, with their wall times (in the final snapshot)
        self.gc_pauses = GcPauses()
        self.heap_frozen = False  # the ramp-up is over: its connections frozen (_freeze_heap)
        self.loop_stalls = LoopStalls()
        self._sampled_frames = 0  # frames in + out up to the last bucket
        if virtual:
            self.metrics.series_latencies = []
        self.tasks: set[asyncio.Task] = set()
        self.stations: list[FleetStation] = []
        self.closing = False  # websockets are being closed: no reconnect
        self.ending = False  # the driving phase is over
        self.accepted_ever = 0
        self.all_accepted_at: float | None = None
        # --csms builtin with [csms] error_rate / silence_rate: a twin of the CSMS's fault draws
        self.csms_faults = (CsmsFaults(seed, scenario.csms_error_rate, scenario.csms_silence_rate)
                            if builtin and scenario.csms_faults else None)
        self.csms_errors = 0  # CALLERRORs the builtin CSMS injected (not counted as errors)
        self.csms_silences = 0  # CALLs it left unanswered on purpose (their timeouts are not errors)
        self.templates: Counter = Counter()  # template name -> stations of this worker built from it
        # real time: the gauges are running sums over the stations, each station's part recomputed after each
        # of its inputs (flush, while its objects are still in the CPU's caches), instead of a walk over every
        # station each second
        self._gauge_sums = [0] * 9
        self._stop = asyncio.Event()
        self._give_up = False  # a second stop: end the drain now, whatever is still undelivered

    def stop(self) -> None:
        """End the driving phase now (SIGINT/SIGTERM); a second one during the drain ends the drain too
        (what is undelivered then is reported as such)."""
        if self.ending:
            self._give_up = True
        self._stop.set()

    def idle(self) -> bool:
        return not self.busy and self.connecting == 0

    def update_busy(self, fs: FleetStation) -> None:
        session = fs.station.session
        if session.busy and (fs._silent is None or session.in_flight is not fs._silent):
            self.busy.add(fs)
        elif fs in self.busy:
            self.busy.discard(fs)
            if not self.busy:
                self.scheduler.kick()

    def record(self, fs: FleetStation, frames: list[str], now: float) -> None:
        """Trace the CALLs ``fs`` sends (``--trace``; the determinism tests compare these)."""
        for f in frames:
            if not f.startswith("[2"):
                continue
            try:
                msg = orjson.loads(f)
                self.call_trace.append((now, fs.identity, len(self.call_trace), msg[1], msg[2],  # type: ignore[union-attr]
                                        orjson.dumps(msg[3], option=orjson.OPT_SORT_KEYS).decode()))
            except Exception:
                pass

    def _error(self, exc: BaseException) -> None:
        self.metrics.exceptions += 1
        log.error("fleet: scheduled action failed", exc_info=exc)

    def _schedule_next(self, fs: FleetStation) -> None:
        if fs._plan is None:
            return
        ev = next(fs._plan, None)
        if ev is None or ev.t >= self.duration:
            fs._plan = None
            return

        def fire(now: float, fs: FleetStation = fs, ev: Planned = ev) -> None:
            if self.ending:
                return
            fs.do(ev, now)
            self._schedule_next(fs)

        self.scheduler.at(self.start_at + ev.t, fire)

    def gauges(self, power: bool = True) -> dict[str, Any]:
        """Stations connected and Accepted, stations with a transaction and their connectors with one,
        transaction messages queued; with ``power`` also the power of every station, the sum of the Smart
        Charging limits, the power of the limited stations and their count (W; see
        FleetStation.power_and_limit)."""
        if not self.virtual:
            return self._running_gauges(power)
        connected = accepted = stations = connectors = queued = 0
        acc = Registration.ACCEPTED
        for fs in self.stations:  # over every station: kept to plain loads and compares
            st = fs.station
            connected += st.connected
            accepted += st.registration == acc
            n = 0
            for c in st.feature["Transactions"].cond.values():
                if c.tx is not None:
                    n += 1
            if n:
                stations += 1
                connectors += n
            queued += len(st.tx_queue._queue)
        g: dict[str, Any] = {"connected": connected, "accepted": accepted, "charging_stations": stations,
                             "charging_connectors": connectors, "queued": queued}
        if power:
            now = self.clock()
            total = limits = limited_power = 0.0
            limited = 0
            for fs in self.stations:
                p, lim = fs.power_and_limit(now)
                total += p
                if lim is not None:
                    limited += 1
                    limits += lim
                    limited_power += p
            g.update(power_w=total, limit_w=limits, limited_power_w=limited_power, limited_stations=limited)
        return g

    def gauge_input(self, fs: FleetStation, now: float) -> None:
        """Real time: ``fs`` had an input; its part of the running sums follows."""
        new = fs.gauge_values(now)
        old = fs.gauge_part
        if old != new:  # most inputs (a register save, a Heartbeat) change no gauge
            fs.gauge_part = new
            sums = self._gauge_sums
            self._gauge_sums = list(map(_add, sums, new)) if old is None else list(map(_add, sums, map(_sub, new, old)))

    def _running_gauges(self, power: bool) -> dict[str, Any]:
        """Real time: :meth:`gauges` from the running sums (see :meth:`gauge_input`). Every change of what a
        gauge reads (a connection, a transaction, a relay, a limit applied on a Smart Charging timer) is an
        input of the station."""
        sums = self._gauge_sums
        g: dict[str, Any] = {"connected": sums[0], "accepted": sums[1], "charging_stations": sums[2],
                             "charging_connectors": sums[3], "queued": sums[4]}
        if power:
            g.update(power_w=sums[5] / 1000, limit_w=sums[6] / 1000, limited_power_w=sums[7] / 1000,
                     limited_stations=sums[8])
        return g

    def _sample_at_end_of(self, k: int) -> None:
        """Virtual time: bucket ``k`` is closed when the stations' clock reaches its end."""
        assert self.step is not None

        def close(_now: float) -> None:
            self._bucket(k, self.step)  # type: ignore[arg-type]
            if not self.closing:
                self._sample_at_end_of(k + 1)

        self.scheduler.at(self.start_at + (k + 1) * self.step, close)

    def _bucket(self, k: int, span: float) -> None:
        """One bucket of the virtual-time series: what was sent and received in [k * step, k * step + span)
        of the stations' clock, the latencies of the CALLs answered in it, the gauges at its end."""
        m = self.metrics
        frames = m.frames_in + m.frames_out
        lat, m.series_latencies = m.series_latencies, []
        self.samples.append({"k": k, "span": span, "messages": frames - self._sampled_frames, "latencies": lat,
                             "errors": m.errors, **self.gauges()})
        self._sampled_frames = frames

    def _last_bucket(self) -> None:
        """Virtual time: the part of a bucket the run ends in (before the stations disconnect)."""
        if self.step is None:
            return
        m = self.metrics
        t = self.clock() - self.start_at
        k = int(t // self.step)
        if t - k * self.step > 1e-9 or m.frames_in + m.frames_out > self._sampled_frames:
            self._bucket(k, t - k * self.step)

    def snapshot(self, kind: str = "snapshot") -> dict[str, Any]:
        m = self.metrics
        # virtual time: power and limits are sampled per bucket of the stations' clock (_bucket), where
        # reading the meters happens at the same virtual instants in every run of a seed
        g = self.gauges(power=not self.virtual)
        if self.all_accepted_at is None and self.accepted_ever >= len(self.indices):
            self.all_accepted_at = max(fs.trace.accepted_at or 0 for fs in self.stations) if self.stations else self.clock()
        lat, m.latencies = m.latencies, []
        return {
            "type": kind,
            "worker": self.worker_id,
            "phase": "stop" if self.ending else "drive",
            **g,
            "accepted_ever": self.accepted_ever,
            "all_accepted_at": self.all_accepted_at,
            "frames_in": m.frames_in,
            "frames_out": m.frames_out,
            "errors": m.errors,
            "call_errors": m.call_errors,
            "call_timeouts": m.call_timeouts,
            "exceptions": m.exceptions,
            "connects": m.connects,
            "connect_failures": m.connect_failures,
            "connect_failure_reasons": dict(m.connect_failure_reasons),
            "sent": dict(m.sent),  # per action: CALLs sent (retries included)
            "received_calls": dict(m.received),  # per action: CALLs received from the CSMS
            "answered": dict(m.answered),  # per action: CALLRESULTs received
            "failed": dict(m.failed),  # per action: CALLERRORs and timeouts
            "disconnects": m.disconnects,
            "reconnects": m.reconnects,
            "drops": m.drops,
            "power_cuts": m.power_cuts,
            "csms_errors_injected": self.csms_errors,
            "csms_silences_injected": self.csms_silences,
            "wall": time.time(),
            "latencies": lat,
            "rss_kib": rss_kib(),
            "cpu_s": _process_cpu(),
            "clock": self.clock(),
            "jumps": self.scheduler.jumps,
            "samples": self._take_samples(),
        }

    def _freeze_heap(self) -> None:
        """After the ramp-up: the last connections frozen, the collector's thresholds raised."""
        self.heap_frozen = True
        _freeze_heap()

    def _take_samples(self) -> list[dict[str, Any]]:
        samples, self.samples = self.samples, []
        return samples

    async def run(self) -> dict[str, Any]:
        self.scheduler.on_error = self._error
        sc = self.scenario
        # thousands of stations are a heap of long-lived objects that every full collection would walk
        # again (~0.1 s each at 2,000 stations, 0.3-1.1 s at 5,000 connected ones): no collection while
        # they are built, then freeze them; during the ramp-up freeze each second's new connections
        # (_freeze_new), and after it the rest. A freeze follows a collection of the young generations
        # only, never a full one: cyclic garbage among frozen objects would outlive the run.
        gc.disable()
        try:
            for n in self.indices:
                identity = sc.identity(n)
                tpl = self.driver.template(n)
                self.templates[tpl.name] += 1
                fs = FleetStation(self, n, identity, sc.settings(identity, tpl), self.seed)
                fs._plan = self.driver.station_plan(n)
                self.stations.append(fs)
                self.by_identity[identity] = fs

                def boot(now: float, fs: FleetStation = fs) -> None:
                    if not self.ending:
                        fs.start(now)

                self.scheduler.at(self.start_at + self.driver.start_offset(n), boot)
                self._schedule_next(fs)
        finally:
            gc.enable()
        gc.freeze()  # what construction left as garbage is little: no full pass over it all

        ramp_end = max((self.driver.start_offset(n) for n in self.indices), default=0.0)
        frozen_at = [0]  # connections made at the last freeze

        async def reporter() -> None:
            while True:
                await asyncio.sleep(1.0)
                if not self.heap_frozen and self.metrics.connects - frozen_at[0] >= FREEZE_MIN_NEW:
                    frozen_at[0] = self.metrics.connects
                    freeze_young()
                self.report(self.snapshot())

        rep = asyncio.get_running_loop().create_task(reporter())
        self.gc_pauses.install()
        stalls = None if self.virtual else asyncio.get_running_loop().create_task(self.loop_stalls.run())
        if self.step is not None:
            self._sample_at_end_of(0)
        self.scheduler.at(self.start_at + ramp_end + 5.0, lambda _now: self._freeze_heap())
        thresholds = gc.get_threshold()  # _freeze_heap raises them; the process gets its own back at the end
        try:
            self.scheduler.at(self.start_at + self.duration, lambda _now: self._stop.set())
            await self._stop.wait()
            # the driving phase is over: end the sessions, let the queues drain, then close
            self.report(self.snapshot())  # latencies so far belong to the driving phase
            self.ending = True
            now = self.clock()
            for fs in self.stations:
                if fs.started:
                    try:
                        fs.end_sessions(now)
                    except Exception as exc:
                        self._error(exc)
            deadline = self.clock() + self.drain_timeout
            if self.virtual:
                self.scheduler.horizon = deadline
                # once every queue is drained the clock stops: what the run sent never depends on how
                # fast the loop below notices (the same seed, the same trace); and the close waits for the
                # answers in flight, so the counts of answers never depend on it either
                self.scheduler.hold = lambda: all(fs.settled() for fs in self.stations if fs.started)
                self.scheduler.kick()
            done = FleetStation.settled if self.virtual else FleetStation.drained
            real_end = time.monotonic() + self.drain_timeout + 5  # virtual time: a bound in real time too
            while self.clock() < deadline and not all(done(fs) for fs in self.stations if fs.started):
                if time.monotonic() > real_end or self._give_up:
                    break
                await asyncio.sleep(0.01 if self.virtual else 0.2)
            self._last_bucket()
            self.closing = True
            self.scheduler.close()
            closers = [fs.ws.close() for fs in self.stations if fs.ws is not None]
            if closers:
                await asyncio.gather(*closers, return_exceptions=True)
            for t in list(self.tasks):
                t.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            rep.cancel()
            if stalls is not None:
                stalls.cancel()
            self.gc_pauses.uninstall()
            gc.set_threshold(*thresholds)
        final = self.snapshot("final")
        final["gc"] = self.gc_pauses.document(count_frozen=True)  # the run is over: the walk stalls nothing
        final["loop_stalls"] = self.loop_stalls.stalls  # [wall s, ms late]
        for fs in self.stations:
            fs.trace.queued = len(fs.station.tx_queue)
            fs.trace.open_transactions = fs.open_transactions()
            fs.trace.dropped = fs.dropped_tx()
            fs.trace.registration = fs.station.registration
        final["stations"] = {fs.identity: fs.trace.to_dict() for fs in self.stations}
        final["templates"] = dict(self.templates)
        final["drain_given_up"] = self._give_up
        if self.call_trace is not None:
            final["trace"] = trace_lines(self.call_trace)
        self.report(final)
        return final


def _process_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _freeze_heap() -> None:
    freeze_young()
    # after the ramp-up the stations add a few hundred long-lived container objects a second (records,
    # queued requests, the scheduler's entries): at the default threshold (700) that was a young collection
    # every ~3 s at 2,000 stations (~6 ms each) and a generation-1 one every ~30 s (~14 ms), ~2% of the
    # fleet's CPU; collected every 20,000 they cost a sixth of that. Cyclic garbage waits that much longer
    gc.set_threshold(20_000, 20, 10)


def trace_lines(trace: list[tuple[float, str, int, str, str, str]]) -> list[str]:
    """The CALLs of a run in a canonical order: by virtual time, then identity (percent-encoded, as in
    the URL: one field without spaces), then the order each station sent them. Within one virtual instant the stations' relative order follows which answer
    the worker read first (socket timing); each station's own order never does."""
    rows = sorted(((t, quote(ident, safe=""), seq, uid, action, payload)  # one field, as in the URL
                   for t, ident, seq, uid, action, payload in trace), key=lambda r: (r[0], r[1], r[2]))
    return [f"{t:.3f} {ident} {uid} {action} {payload}" for t, ident, _seq, uid, action, payload in rows]

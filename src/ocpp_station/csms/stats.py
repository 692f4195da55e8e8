"""What the development CSMS costs while it runs: CPU, memory, garbage-collector pauses, CALLs answered.

``ocpp-station csms`` reports it in the operator API's ``GET /api/status`` and, with ``--stats-file``,
writes it as one JSON document to a file every second (and once more when it stops), for load tests.

Garbage collection: the CSMS's long-lived objects (one link and one connection per station) are moved
out of the collector's sight with :func:`gc.freeze` after start-up and after every burst of new
connections (:meth:`CsmsStats.housekeeping`), so a full collection scans only what came since, not every
station's state. :class:`GcPauses` times every collection through :data:`gc.callbacks`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

FREEZE_EVERY = 1.0  # s between checks for new connections to freeze
FREEZE_MIN_NEW = 50  # connections opened since the last freeze that make the next one worth it
LONG_PAUSE = 0.05  # s: a collection at least this long is listed with its wall time (GcPauses.long)
LONG_KEPT = 200  # the first this many of them


def freeze_young() -> None:
    """Collect the young generations' garbage, then move everything that lives out of the collector's sight:
    ~1 ms per 100 new connections, where a full collection walks every connection (0.3-1.1 s at 5,000). The
    dev CSMS after each burst of connections, the fleet after each second of its ramp-up."""
    gc.collect(1)
    gc.freeze()


class LoopStalls:
    """Wall times at which the event loop was late (a task that sleeps ``every`` s woke up more than
    ``late`` s after its time): a stall of the loop, whatever held it (a collection, a long callback)."""

    def __init__(self, every: float = 0.1, late: float = LONG_PAUSE) -> None:
        self.every = every
        self.late = late
        self.stalls: list[list[float]] = []  # [wall s, ms late]

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(self.every)
            lag = loop.time() - t - self.every
            if lag >= self.late and len(self.stalls) < LONG_KEPT:
                self.stalls.append([round(time.time() - lag, 3), round(lag * 1000, 1)])


class GcPauses:
    """Pause times of the garbage collector, per generation (installed in :data:`gc.callbacks`)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total = [0.0, 0.0, 0.0]  # s
        self.max = [0.0, 0.0, 0.0]  # s
        self.collected = [0, 0, 0]  # objects freed
        self.cpu = 0.0  # s of CPU in collections (a pause is wall time: longer when the core is shared)
        self.cpu_max = 0.0  # s of CPU of the costliest collection
        self.max_at = 0.0  # s after start of the longest pause
        self.long: list[list[float]] = []  # [wall s at the start, generation, ms] of pauses >= LONG_PAUSE
        # objects out of the collector's sight when last counted: gc.get_freeze_count() walks every one of
        # them (0.1-0.2 s at 10,000 connections), too much for a document written every second or for each
        # freeze of the ramp-up; counted when the operator API asks (document(count_frozen=True))
        self.frozen = 0
        self._born = time.monotonic()
        self._t0 = 0.0
        self._c0 = 0.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            self._c0 = time.thread_time()
            return
        g = info.get("generation", 2)
        d = time.perf_counter() - self._t0
        c = time.thread_time() - self._c0
        self.cpu += c
        if c > self.cpu_max:
            self.cpu_max = c
        self.count[g] += 1
        self.total[g] += d
        if d > self.max[g]:
            if d > max(self.max):
                self.max_at = time.monotonic() - self._born
            self.max[g] = d
        self.collected[g] += info.get("collected", 0)
        if d >= LONG_PAUSE and len(self.long) < LONG_KEPT:
            self.long.append([round(time.time() - d, 3), g, round(d * 1000, 1)])

    def document(self, count_frozen: bool = False) -> dict[str, Any]:
        if count_frozen:
            self.frozen = gc.get_freeze_count()
        return {
            "collections": self.count,
            "pauseTotalMs": [round(t * 1000, 1) for t in self.total],
            "pauseMaxMs": [round(t * 1000, 1) for t in self.max],
            "maxPauseMs": round(max(self.max) * 1000, 1),
            "maxPauseAtS": round(self.max_at, 1),
            "cpuMs": round(self.cpu * 1000, 1),
            "cpuMaxMs": round(self.cpu_max * 1000, 1),
            "freed": self.collected,
            "frozen": self.frozen,
            "longPauses": self.long,  # [wall s, generation, ms]
        }


def _proc_status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class CsmsStats:
    """The figures of one CSMS process; ``csms`` is the :class:`~.server.DevCsms` it serves."""

    def __init__(self, csms: Any, worker: int | None = None) -> None:
        self.csms = csms
        self.worker = worker
        self.gc = GcPauses()
        self.started = time.monotonic()
        self._cpu0 = self._cpu()
        self._frozen_connections = 0

    @staticmethod
    def _cpu() -> float:
        t = os.times()
        return t.user + t.system

    def document(self, count_frozen: bool = False) -> dict[str, Any]:
        """``count_frozen``: count the frozen objects now (a walk over all of them; see GcPauses.frozen)."""
        links = self.csms.links
        connected = sum(1 for link in links.values() if link.ws is not None)
        cpu = self._cpu() - self._cpu0
        calls = self.csms.calls_received
        wall = time.monotonic() - self.started
        doc: dict[str, Any] = {
            "pid": os.getpid(),
            "uptimeS": round(wall, 1),
            "stations": len(links),
            "connected": connected,
            "callsReceived": calls,
            "cpuSeconds": round(cpu, 2),
            "cpuPercent": round(100 * cpu / wall, 1) if wall > 0 else 0.0,
            "cpuMicrosecondsPerCall": round(1e6 * cpu / calls, 1) if calls else None,
            "rssKiB": _proc_status_kib("VmRSS"),
            "rssPeakKiB": _proc_status_kib("VmHWM"),
            "gc": self.gc.document(count_frozen),
        }
        if self.worker is not None:
            doc["worker"] = self.worker
        return doc

    def freeze(self) -> None:
        """Move what lives now out of the collector's sight (after a young collection of the garbage)."""
        freeze_young()
        self._frozen_connections = self._connections()

    def _connections(self) -> int:
        return self.csms.connections_opened

    async def housekeeping(self, stats_file: Path | None = None, every: float = 1.0) -> None:
        """Until cancelled: freeze after bursts of new connections; write ``stats_file`` every ``every`` s."""
        from ..ocpp import actions, validation

        # what the first stations would make (the request schemas' validators) is made now and frozen
        validation.precompile([a for a in actions.ACTIONS if actions.sent_by_cp(a)])
        self.gc.install()
        self.freeze()
        last_check = time.monotonic()
        try:
            while True:
                await asyncio.sleep(every)
                now = time.monotonic()
                if now - last_check >= FREEZE_EVERY:
                    last_check = now
                    if self._connections() - self._frozen_connections >= FREEZE_MIN_NEW:
                        self.freeze()
                if stats_file is not None:
                    self.write(stats_file)
        finally:
            if stats_file is not None:
                self.write(stats_file)
            self.gc.uninstall()

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.document()))
            os.replace(tmp, path)
        except OSError:
            pass

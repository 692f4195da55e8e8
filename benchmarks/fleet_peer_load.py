"""Fleet at a common simulator's automatic-transaction load, the CALLs counted where the CSMS receives them.

The scenario is ``examples/fleet-peer-load.toml`` (sessions of 60-80 s, 15-30 s between them, Authorize
before each StartTransaction, MeterValues every 60 s of charging, a Heartbeat after 30 s without a CALL:
~0.105 CALLs/s per station). The CSMS is the development CSMS in its own process(es) (``--csms-workers``
of them on one port with SO_REUSEPORT: one process cannot hold 20,000 connections under an open-file limit
of 20,000); each counts the CALLs it receives and writes its counts and its CPU seconds to a file every
0.5 s, which this script samples every second. Printed:

* the achieved CALLs/s per station, counted at the CSMS over the steady window (and the fleet's own count
  of CALLs sent in it, as a cross-check);
* fleet CPU µs per CALL over the steady window (from 5 s after every station was Accepted to the end of
  driving; every worker's ``os.times()``, plus this parent process with more than one worker), and the
  CSMS's CPU µs per CALL over the same window;
* peak RSS of the fleet process(es) per station; latency p50/p99 (CALL out to answer in) of the steady
  window and of ramp-up + driving; the time until every station was Accepted.

    .venv/bin/python benchmarks/fleet_peer_load.py --count 2000 --duration 120
    .venv/bin/python benchmarks/fleet_peer_load.py --count 10000 --workers 2 --ramp 500 --duration 180
    .venv/bin/python benchmarks/fleet_peer_load.py --count 20000 --workers 2 --csms-workers 2 --ramp 600
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "fleet-peer-load.toml"


# -- the counting CSMS (one process; run as `fleet_peer_load.py --serve-csms PORT FILE BOOT_INTERVAL`) ---------

def serve_csms(port: int, counts_path: Path, boot_interval: int, housekeeping: bool) -> None:
    import asyncio

    from ocpp_station.csms import server as server_mod
    from ocpp_station.csms.stats import CsmsStats, LoopStalls

    calls: dict[str, int] = {}

    def on_frame(_identity: str, direction: str, data: str | bytes, _t: float) -> None:
        if direction == "in" and isinstance(data, str) and data.startswith("[2,"):
            action = data.split('"', 5)[3] if data.count('"') >= 4 else "?"
            calls[action] = calls.get(action, 0) + 1

    stalls = LoopStalls()

    write_max = [0.0]  # s: the longest write() (the counting must not be what stalls the CSMS)

    def write(stats: CsmsStats) -> None:
        w0 = time.perf_counter()
        t = os.times()
        tmp = counts_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t": time.time(), "cpu_s": t.user + t.system, "calls": calls,
                                   "gc": stats.gc.document(), "loop_stalls": stalls.stalls,
                                   "write_max_ms": round(1000 * write_max[0], 1)}))
        os.replace(tmp, counts_path)
        write_max[0] = max(write_max[0], time.perf_counter() - w0)

    async def main() -> None:
        csms = server_mod.DevCsms("127.0.0.1", port, boot_interval=boot_interval, log_frames=False,
                                  on_frame=on_frame, keep_history=False)
        csms.reuse_port = True  # several processes share the port (SO_REUSEPORT): the kernel spreads the connections
        # as `ocpp-station csms` serves: its housekeeping freezes the connections after each burst of
        # them (csms/stats.py); without it (--no-csms-housekeeping) only the pauses are timed
        csms.stats = stats = CsmsStats(csms)
        async with csms:
            tasks = [asyncio.ensure_future(stalls.run())]
            if housekeeping:
                tasks.append(asyncio.ensure_future(stats.housekeeping()))
            else:
                stats.gc.install()
            print(f"CSMS listening on {csms.url}/<identity>", flush=True)
            while True:
                write(stats)
                await asyncio.sleep(0.5)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class CountingCsms:
    """``workers`` counting CSMS processes on one port, sampled every second by a thread."""

    def __init__(self, workers: int, boot_interval: int, tmp: Path, housekeeping: bool = True) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.files = [tmp / f"csms-{i}.json" for i in range(workers)]
        self.procs = []
        for f in self.files:
            p = subprocess.Popen([sys.executable, __file__, "--serve-csms", str(self.port), str(f), str(boot_interval),
                                  "1" if housekeeping else "0"],
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
            line = p.stdout.readline()
            if "listening" not in line:
                raise RuntimeError(f"counting CSMS did not start: {line!r}")
            self.procs.append(p)
            self.url = line.split()[-1].removesuffix("/<identity>")
        self.samples: list[tuple[float, int, float, float]] = []  # (wall, CALLs, CSMS CPU s, this process's CPU s)
        self.user_sys: list[tuple[float, float, float]] = []  # (wall, this process's user s, system s)
        self.by_action: dict[str, int] = {}
        self.docs: list[dict] = []  # each process's last document (its gc pauses and loop stalls)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def read(self) -> tuple[int, float, dict[str, int]]:
        calls, cpu, by, docs = 0, 0.0, {}, []
        for f in self.files:
            try:
                d = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            docs.append(d)
            cpu += d["cpu_s"]
            for a, n in d["calls"].items():
                by[a] = by.get(a, 0) + n
                calls += n
        if len(docs) == len(self.files):
            self.docs = docs
        return calls, cpu, by

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            calls, cpu, by = self.read()
            t = os.times()
            now = time.time()
            self.samples.append((now, calls, cpu, t.user + t.system))
            self.user_sys.append((now, t.user, t.system))
            self.by_action = by

    def at(self, wall: float) -> tuple[float, float, float]:
        """(CALLs, CSMS CPU s, own CPU s) at ``wall``, interpolated between the samples around it."""
        s = self.samples
        for (t0, n0, c0, o0), (t1, n1, c1, o1) in zip(s, s[1:]):
            if t0 <= wall <= t1:
                f = (wall - t0) / (t1 - t0) if t1 > t0 else 0.0
                return n0 + f * (n1 - n0), c0 + f * (c1 - c0), o0 + f * (o1 - o0)
        t, n, c, o = min(s, key=lambda x: abs(x[0] - wall))
        return n, c, o

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=120.0, help="s of driving (default: 120)")
    ap.add_argument("--workers", type=int, default=1, help="fleet worker processes (default: 1)")
    ap.add_argument("--csms-workers", type=int, default=1, help="CSMS processes on one port (default: 1)")
    ap.add_argument("--ramp", type=float, default=200.0, help="stations started per second (default: 200)")
    ap.add_argument("--event-loop", choices=("asyncio", "uvloop"), help="[fleet] event_loop (default: the scenario's)")
    ap.add_argument("--scenario", type=Path, default=SCENARIO, help=f"(default: {SCENARIO.relative_to(ROOT)})")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--metrics", type=Path, help="write the full metrics JSON here")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--no-csms-housekeeping", action="store_true",
                    help="the CSMS processes without the housekeeping of `ocpp-station csms` (no gc.freeze of "
                    "its connections)")
    ap.add_argument("--series", action="store_true",
                    help="print the steady window's per-second series (messages/s, p50, p99) beside the "
                    "collections and loop stalls of >= 50 ms of every fleet worker and CSMS process")
    args = ap.parse_args()

    import tempfile

    from ocpp_station.fleet import FleetOptions, load_scenario, run_fleet

    sc = load_scenario(args.scenario)
    changes = {"ramp_rate": args.ramp, "csms_keys": []}  # [csms] boot_interval goes to the counting CSMS
    if args.event_loop:
        changes["event_loop"] = args.event_loop
    sc = dataclasses.replace(sc, **changes)
    with tempfile.TemporaryDirectory() as tmp:
        csms = CountingCsms(args.csms_workers, sc.boot_interval, Path(tmp), not args.no_csms_housekeeping)
        try:
            r = run_fleet(FleetOptions(
                csms_url=csms.url, count=args.count, scenario=sc, seed=args.seed, duration=args.duration,
                workers=args.workers, drain_timeout=30.0, metrics_path=args.metrics, progress=not args.quiet,
                err=io.StringIO() if args.quiet else sys.stderr))
        finally:
            csms.stop()
    st = r.get("steady_cpu") or {}
    n = r["stations"]
    rss = sum(v or 0 for v in r["rss_kib"].values())
    lat, sl = r["latency_ms"], r.get("steady_latency_ms") or {}
    print()
    print(f"stations {n}, fleet workers {r['workers']}, CSMS processes {args.csms_workers}, "
          f"event loop {getattr(sc, 'event_loop', 'asyncio')}, wall {r['wall_s']:.1f} s (driving {args.duration:g} s), "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"all {r['accepted']} Accepted after {r['time_to_all_accepted_s']} s; errors {r['errors']}, "
          f"connect failures {r['connect_failures']}")
    row = {}
    if st:
        t0, t1 = st["start"], st["end"]
        n0, c0, o0 = csms.at(t0)
        n1, c1, o1 = csms.at(t1)
        win = t1 - t0
        calls = n1 - n0
        fleet_cpu = st["cpu_s"] + ((o1 - o0) if r["workers"] > 1 else 0.0)
        rate = calls / win / n
        row = {"rate": rate, "us": 1e6 * fleet_cpu / calls, "csms_us": 1e6 * (c1 - c0) / calls}
        print(f"steady window {win:.1f} s: {calls:.0f} CALLs received by the CSMS = "
              f"**{rate:.4f} CALLs/s per station** (the fleet counted {st['calls']} sent)")
        print(f"fleet CPU {fleet_cpu:.2f} s = **{row['us']:.0f} µs per CALL** ({100 * fleet_cpu / win:.1f}% of a core); "
              f"CSMS CPU {c1 - c0:.2f} s = {row['csms_us']:.0f} µs per CALL")
        if r["workers"] == 1:  # the stations ran in this process: its user and system time apart
            us = [x for x in csms.user_sys if t0 <= x[0] <= t1]
            if len(us) >= 2:
                span = us[-1][0] - us[0][0]
                per = calls * span / win
                print(f"  of which user {1e6 * (us[-1][1] - us[0][1]) / per:.0f} µs, system (kernel) "
                      f"{1e6 * (us[-1][2] - us[0][2]) / per:.0f} µs per CALL")
    else:
        print("no steady window (the run ended before every station was Accepted + 5 s)")
    print(f"fleet RSS {rss / 1024:.1f} MiB = **{rss / n:.1f} KiB per station** (peak VmRSS, summed over workers)")
    print(f"latency steady p50 {sl.get('p50')} ms, p99 {sl.get('p99')} ms ({sl.get('count', 0)} CALLs); "
          f"ramp-up + driving p50 {lat['p50']} ms, p99 {lat['p99']} ms ({lat['count']} CALLs)")
    print(f"CALLs by action at the CSMS (whole run): {json.dumps(dict(sorted(csms.by_action.items())))}")
    csms.read()
    print_pauses(r, csms.docs, args.series)
    cmd = (f"`.venv/bin/python benchmarks/fleet_peer_load.py --count {args.count} --duration {args.duration:g}"
           + (f" --workers {args.workers}" if args.workers != 1 else "")
           + (f" --csms-workers {args.csms_workers}" if args.csms_workers != 1 else "")
           + (f" --ramp {args.ramp:g}" if args.ramp != 200.0 else "")
           + (f" --event-loop {args.event_loop}" if args.event_loop else "")
           + (" --no-csms-housekeeping" if args.no_csms_housekeeping else "") + "`")
    if row:
        print(f"| {n} | {cmd} | {row['rate']:.4f} | {row['us']:.0f} | {row['csms_us']:.0f} | {rss / n:.1f} | "
              f"{sl.get('p50')} / {sl.get('p99')} | {lat['p50']} / {lat['p99']} | {r['time_to_all_accepted_s']} |")
    return 0 if r["accepted"] == n and r["errors"] == 0 else 1


def print_pauses(r: dict, csms_docs: list[dict], series: bool) -> None:
    """The collections and loop stalls of >= 50 ms per process (seconds since the fleet started), and with
    ``series`` the steady window's per-second messages/s and latency with the pauses of each second."""
    t0 = r["started_wall"]
    events: list[tuple[float, str]] = []  # (s since start, what)
    for w, doc in sorted((r.get("gc") or {}).items()):
        for wall, gen, ms in (doc or {}).get("longPauses", []):
            events.append((wall - t0, f"fleet{w} gc{gen} {ms:.0f}ms"))
    for w, stalls in sorted((r.get("loop_stalls") or {}).items()):
        for wall, ms in stalls or []:
            events.append((wall - t0, f"fleet{w} stall {ms:.0f}ms"))
    for i, d in enumerate(csms_docs):
        for wall, gen, ms in d.get("gc", {}).get("longPauses", []):
            events.append((wall - t0, f"csms{i} gc{gen} {ms:.0f}ms"))
        for wall, ms in d.get("loop_stalls", []):
            events.append((wall - t0, f"csms{i} stall {ms:.0f}ms"))
    events.sort()
    for label, docs in (("fleet", [d for _, d in sorted((r.get("gc") or {}).items())]),
                        ("CSMS", [d.get("gc", {}) for d in csms_docs])):
        for i, g in enumerate(docs):
            if g:
                print(f"{label} process {i}: collections {g['collections']} (pause total "
                      f"{g['pauseTotalMs']} ms, max {g['pauseMaxMs']} ms), frozen {g['frozen']}"
                      + (f"; its counts written in {csms_docs[i]['write_max_ms']} ms at most" if label == "CSMS" else ""))
    print("pauses and stalls >= 50 ms (s since start): "
          + (", ".join(f"{t:.1f} {what}" for t, what in events) or "none"))
    if not series:
        return
    st = r.get("steady_cpu") or {}
    lo, hi = (st.get("start", t0) - t0, st.get("end", t0 + 1e9) - t0)
    print("steady window per second: t  messages/s  p50 ms  p99 ms  [pauses and stalls]")
    for p in r["time_series"]:
        t = p["t"]
        if lo - 1 <= t <= hi:
            what = [w for s, w in events if t <= s < t + 1]
            print(f"  {t:4.0f} {p['messages_per_s']:8.0f} {p.get('latency_p50_ms')!s:>8} "
                  f"{p.get('latency_p99_ms')!s:>8}  {' '.join(what)}")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--serve-csms":
        serve_csms(int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
        sys.exit(0)
    sys.exit(main())

"""Fleet benchmark: N one-connector stations against the dev CSMS in its own process.

Reference load (the issue's): 2,000 stations; heartbeat (BootNotification interval) and
meter values every 60 s; a session every ~1.5 min per station (exponential gap of mean 45 s,
then 30-60 s of charging, 2 s + 2 s around it). Reports the fleet process(es)' peak RSS
(VmRSS from /proc/<pid>/status, sampled every second), average CPU over the wall time
(os.times deltas) and over the steady driving window (each worker's os.times in its snapshots, from
5 s after every station was Accepted to the end of driving), the CSMS response latency p50/p99 seen by the stations, and the time
until every station was Accepted. The benchmark starts the dev CSMS itself (``ocpp-station csms --port 0
--quiet --stats-file F``, with ``--csms-workers N`` as N worker processes) and reports its own cost: CPU
(% of one core over its lifetime, µs per CALL received), peak RSS and longest garbage-collector pause.

    .venv/bin/python benchmarks/fleet.py --count 2000 --duration 60
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet

REFERENCE = {
    "fleet": {"identity_pattern": "BENCH{n:05d}", "ramp_rate": 200.0},
    "station": {"connectors": 1},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "driver": {
        "sessions_per_hour": 80.0,  # exponential gap of mean 45 s ...
        "session_duration": {"distribution": "uniform", "min": 30, "max": 60},  # ... + ~45 s charging
        "plug_to_card": 2.0,
        "card_to_unplug": 2.0,
    },
    "csms": {"boot_interval": 60},
}


def start_csms(workers: int, stats_file: Path, boot_interval: int) -> tuple[subprocess.Popen, str]:
    """The dev CSMS as the fleet's builtin one runs it, with a stats file; its process and ws:// URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet", "--log-level", "WARNING",
         "--boot-interval", str(boot_interval), "--workers", str(workers), "--stats-file", str(stats_file)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"(wss?://\S+?)/<identity>", line)
    if not m:
        proc.terminate()
        raise RuntimeError(f"CSMS did not start: {line!r}")
    return proc, m.group(1)


def stop_csms(proc: subprocess.Popen, stats_file: Path) -> dict:
    """Stop the CSMS (SIGTERM, it writes its stats a last time) and return its stats document."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    try:
        return json.loads(stats_file.read_text())
    except (OSError, ValueError):
        return {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ramp", type=float, default=200.0, help="stations started per second")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--metrics", type=Path, help="write the full metrics JSON here")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--csms-workers", type=int, default=1, help="worker processes of the dev CSMS (default: 1)")
    args = ap.parse_args()
    doc = json.loads(json.dumps(REFERENCE))
    doc["fleet"]["ramp_rate"] = args.ramp
    boot_interval = doc.pop("csms")["boot_interval"]  # given to the CSMS the benchmark starts
    scenario = parse_scenario(doc)
    stats_file = Path(tempfile.mkdtemp(prefix="fleet-bench-")) / "csms-stats.json"
    csms_proc, csms_url = start_csms(args.csms_workers, stats_file, boot_interval)
    try:
        r = run_fleet(FleetOptions(
            csms_url=csms_url, count=args.count, scenario=scenario, seed=args.seed, duration=args.duration,
            workers=args.workers, drain_timeout=30.0, metrics_path=args.metrics, progress=not args.quiet,
            err=io.StringIO() if args.quiet else sys.stderr,
        ))
    finally:
        cs = stop_csms(csms_proc, stats_file)
    rss = sum(v or 0 for v in r["rss_kib"].values()) / 1024
    lat = r["latency_ms"]
    a = r["answered"]
    print()
    print(f"stations {r['stations']}, workers {r['workers']}, wall {r['wall_s']:.1f} s (driving {args.duration:g} s)")
    print(f"RSS of the fleet process(es): {rss:.1f} MiB ({rss * 1024 / r['stations']:.1f} KiB per station)")
    steady = r.get("steady_cpu") or {}
    print(f"CPU: fleet {r['cpu']['fleet_cpu_percent']}% of one core on average over the whole run "
          f"({r['cpu']['fleet_cpu_s']} s: start-up, ramp-up, driving, stop)"
          + (f", builtin CSMS {r['cpu']['csms_cpu_s']} s" if "csms_cpu_s" in r["cpu"] else ""))
    print(f"CPU in steady driving (from {5:g} s after all were Accepted to the end of driving, "
          f"{steady.get('window_s', '–')} s): {steady.get('percent', '–')}% of one core")
    stop = r["stop_latency_ms"]
    print(f"CSMS latency p50 {lat['p50']} ms, p99 {lat['p99']} ms ({lat['count']} calls, ramp-up + driving); "
          f"stop phase (all open sessions stopped at once) p50 {stop['p50']} ms, p99 {stop['p99']} ms")
    sl = r.get("steady_latency_ms") or {}
    print(f"CSMS latency in steady driving p50 {sl.get('p50')} ms, p99 {sl.get('p99')} ms ({sl.get('count', 0)} calls)")
    g = cs.get("gc") or {}
    print(f"CSMS ({args.csms_workers} process(es)): CPU {cs.get('cpuSeconds')} s = {cs.get('cpuPercent')}% of one core "
          f"over its {cs.get('uptimeS')} s, {cs.get('cpuMicrosecondsPerCall')} µs per CALL received "
          f"({cs.get('callsReceived')} CALLs), RSS peak {(cs.get('rssPeakKiB') or 0) / 1024:.0f} MiB, "
          f"longest gc pause {g.get('maxPauseMs')} ms (CPU of the costliest collection {g.get('cpuMaxMs')} ms, "
          f"of all {g.get('cpuMs')} ms; collections per generation {g.get('collections')})")
    print(f"all {r['accepted']} Accepted after {r['time_to_all_accepted_s']} s")
    print(f"transactions {a.get('StartTransaction', 0)} started / {a.get('StopTransaction', 0)} stopped, "
          f"errors {r['errors']}, messages {r['messages_per_s']}/s")
    print(
        f"| {r['stations']} stations, {r['workers']} worker(s), {args.duration:g} s | "
        f"`.venv/bin/python benchmarks/fleet.py --count {args.count} --duration {args.duration:g}"
        + (f" --workers {args.workers}" if args.workers != 1 else "")
        + (f" --ramp {args.ramp:g}" if args.ramp != 200.0 else "")
        + (f" --csms-workers {args.csms_workers}" if args.csms_workers != 1 else "") + "` | "
        f"RSS {rss:.0f} MiB, CPU {r['cpu']['fleet_cpu_percent']}% (steady driving {steady.get('percent', '–')}%), "
        f"p50 {lat['p50']} ms, p99 {lat['p99']} ms (steady driving p99 {sl.get('p99')} ms), "
        f"all Accepted after {r['time_to_all_accepted_s']} s; CSMS {cs.get('cpuPercent')}% of a core, "
        f"{cs.get('cpuMicrosecondsPerCall')} µs/CALL, RSS peak {(cs.get('rssPeakKiB') or 0) / 1024:.0f} MiB, "
        f"gc pause max {g.get('maxPauseMs')} ms |"
    )
    return 0 if r["accepted"] == r["stations"] and r["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

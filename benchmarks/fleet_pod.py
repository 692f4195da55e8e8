"""One fleet pod as deploy/kubernetes/job.yaml runs it, on this machine: its cost and its /metrics.

    .venv/bin/python benchmarks/fleet_pod.py --count 2000 --duration 120
    .venv/bin/python benchmarks/fleet_pod.py               # 10,000 stations, the Job's pod

Reads the container's args from deploy/kubernetes/job.yaml and the scenario from configmap.yaml, and runs
`ocpp-station fleet` with them as shard 0 of the Job's N: `--count` is the stations of this one pod (the Job's
--count is set to COUNT x N, so `--shard 0/N` gets COUNT of them), `--duration`, `--csms`, `--scenario`,
`--metrics` and the `--metrics-listen` port are replaced by this machine's; everything else (`--workers`,
`--seed`, `--no-progress`...) is the Job's, `--start-at` 2 s ahead. The CSMS is the development CSMS in its own process
(`ocpp-station csms --port 0 --quiet --operator-listen off --boot-interval B`, B = 60 s by default: the
heartbeat of the ConfigMap's MeterValueSampleInterval). The ramp is the whole run's (the ConfigMap's 500/s, or
--ramp): this pod, shard 0 of N, starts ramp/N stations a second, so 10,000 take 200 s to connect as in the Job.

Scrapes the pod's /metrics once a second as Prometheus would (Accept: OpenMetrics or text, gzip), and samples
the RSS (VmRSS) and CPU (utime + stime) of the fleet's whole process tree (the fleet and its workers) from
/proc at each scrape. Reports: peak RSS of the tree (and per station), CPU in cores over the whole run
(getrusage of the reaped tree) and over the steady window (from 5 s after every station was Accepted, as the
scrape shows it, to the end of driving), the fleet's CSMS latency p50/p99 (its --metrics file), the scrape's
time and size, the CSMS process's CPU and RSS, and the load average before and after.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "kubernetes"
TICK = os.sysconf("SC_CLK_TCK")
SETTLE = 5.0  # s after every station was Accepted before the steady window opens
ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def job_args() -> tuple[list[str], int]:
    """The fleet container's args in job.yaml and the Job's N (completions)."""
    job = yaml.safe_load((DEPLOY / "job.yaml").read_text())
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return list(container["args"]), int(job["spec"]["completions"])


def scenario_text() -> str:
    cm = yaml.safe_load((DEPLOY / "configmap.yaml").read_text())
    return cm["data"]["scenario.toml"]


def set_opt(args: list[str], name: str, value: str) -> list[str]:
    out = list(args)
    if name in out:
        out[out.index(name) + 1] = value
    else:
        out += [name, value]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """pid and its descendants (from /proc/*/stat)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return out


def cpu_rss(pids: list[int]) -> tuple[float, int]:
    """CPU s (utime + stime) and VmRSS (KiB) summed over pids."""
    cpu, rss = 0.0, 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICK
            m = re.search(r"^VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text(), re.M)
            rss += int(m.group(1)) if m else 0
        except (OSError, IndexError):
            continue
    return cpu, rss


def metric(body: str, name: str) -> float | None:
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000, help="stations in this pod (default: 10000, the Job's)")
    ap.add_argument("--duration", type=float, default=300.0, help="s of driving (default: 300)")
    ap.add_argument("--ramp", type=float, help="stations started per second (default: the ConfigMap's)")
    ap.add_argument("--boot-interval", type=int, default=60, help="the CSMS's heartbeat interval (default: 60)")
    ap.add_argument("--keep", type=Path, help="keep the fleet's metrics file here")
    args = ap.parse_args()

    load0 = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="fleet-pod-"))
    (work / "scenario.toml").write_text(scenario_text())
    metrics = args.keep or work / "shard-0.json"
    csms = subprocess.Popen([sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet",
                             "--operator-listen", "off", "--boot-interval", str(args.boot_interval)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = csms.stdout.readline()
    m = re.search(r"CSMS listening on (\S+)/<identity>", line)
    if not m:
        csms.kill()
        print(f"the CSMS did not start: {line!r}", file=sys.stderr)
        return 2
    threading.Thread(target=lambda: [None for _ in csms.stdout], daemon=True).start()
    csms_url = m.group(1)

    raw, n = job_args()
    port = free_port()
    start = time.time() + 2.0  # --start-at (the ConfigMap's start_at in the Job): 2 s from now
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start)) + f".{int(start % 1 * 1000):03d}Z"
    fleet_args = [a.replace("$(SHARD)", "0").replace("$(CSMS_URL)", csms_url).replace("$(START_AT)", when)
                  for a in raw]
    fleet_args = set_opt(fleet_args, "--count", str(args.count * n))
    fleet_args = set_opt(fleet_args, "--duration", f"{args.duration:g}")
    fleet_args = set_opt(fleet_args, "--scenario", str(work / "scenario.toml"))
    fleet_args = set_opt(fleet_args, "--metrics", str(metrics))
    fleet_args = set_opt(fleet_args, "--metrics-listen", f"127.0.0.1:{port}")
    if args.ramp:
        fleet_args = set_opt(fleet_args, "--ramp", f"{args.ramp:g}")
    cmd = [sys.executable, "-m", "ocpp_station", *fleet_args]
    print("fleet:", " ".join(cmd[1:]), file=sys.stderr)

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    driving_end = start - time.time() + args.duration  # s after `started`
    fleet = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(work / "fleet.log", "w"))
    samples: list[tuple[float, float, int, float | None]] = []  # (t, tree CPU s, tree RSS KiB, accepted)
    scrapes: list[tuple[float, int, int]] = []  # (s, bytes on the wire, bytes of text)
    body = ""
    url = f"http://127.0.0.1:{port}/metrics"
    while fleet.poll() is None:
        t = time.monotonic() - started
        cpu, rss = cpu_rss(tree(fleet.pid))
        accepted = None
        try:
            req = urllib.request.Request(url, headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=5) as resp:
                wire = resp.read()
                gz = resp.headers.get("Content-Encoding") == "gzip"
            dt = time.perf_counter() - t0
            body = (gzip.decompress(wire) if gz else wire).decode()
            scrapes.append((dt, len(wire), len(body)))
            accepted = metric(body, "ocpp_fleet_stations_accepted")
        except OSError:
            pass  # not listening yet, or gone
        samples.append((t, cpu, rss, accepted))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started - t)))
    wall = time.monotonic() - started
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    csms_cpu, csms_rss = cpu_rss([csms.pid])
    csms.terminate()
    csms.wait(timeout=30)
    load1 = os.getloadavg()

    import json

    r = json.loads(Path(metrics).read_text())
    fleet_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    peak = max((s[2] for s in samples), default=0)
    all_at = next((s[0] for s in samples if s[3] is not None and s[3] >= args.count), None)
    steady = [s for s in samples if all_at is not None and all_at + SETTLE <= s[0] <= driving_end]
    steady_cores = ((steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
                    if len(steady) >= 2 and steady[-1][0] > steady[0][0] else None)
    lat, sl = r["latency_ms"], r.get("steady_latency_ms") or {}
    times = sorted(s[0] for s in scrapes)
    series = sum(1 for ln in body.splitlines() if ln and not ln.startswith("#"))

    def ms(q: float) -> str:
        return f"{times[min(len(times) - 1, int(q * (len(times) - 1)))] * 1000:.1f}" if times else "-"

    print(f"pod: {r['stations']} stations (shard 0/{n} of --count {args.count * n}), {r['workers']} worker(s), "
          f"wall {wall:.1f} s (driving {args.duration:g} s), exit status {fleet.returncode}")
    print(f"RSS of the fleet's process tree: peak {peak / 1024:.0f} MiB ({peak / r['stations']:.1f} KiB per station)")
    run_wall = r["wall_s"]  # the fleet's own: from the --start-at wait's end to its exit
    print(f"CPU: {fleet_cpu:.1f} s, {fleet_cpu / run_wall:.3f} cores over the whole run ({run_wall:.1f} s); steady window "
          + (f"({steady[0][0]:.0f}-{steady[-1][0]:.0f} s): " if steady else "(none): ")
          + (f"{steady_cores:.3f} cores" if steady_cores is not None else "-")
          + f" (the fleet's own steady_cpu: {r.get('steady_cpu')})")
    print(f"all Accepted after {r['time_to_all_accepted_s']} s; CSMS latency p50 {lat['p50']} ms, p99 {lat['p99']} ms "
          f"({lat['count']} calls), steady p99 {sl.get('p99')} ms; errors {r['errors']}, "
          f"reconnects {r['connects'] - r['stations']}, network drops {r['network_drops']}")
    print(f"scrapes: {len(scrapes)}, time p50 {ms(0.5)} ms, p99 {ms(0.99)} ms, max {ms(1.0)} ms; "
          f"last {scrapes[-1][2] if scrapes else 0} bytes of text ({scrapes[-1][1] if scrapes else 0} gzip), "
          f"{series} series")
    print(f"CSMS process: {csms_cpu:.1f} s CPU ({csms_cpu / wall:.3f} cores), RSS {csms_rss / 1024:.0f} MiB")
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    return 0 if fleet.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""run_fleet: N stations over K worker processes, progress on stderr, summary and metrics JSON.

With one worker the stations run on the caller's process (one event loop);
with more, each worker is a ``spawn``-ed process running :func:`_worker_main`
with every K-th station, sending snapshots to the parent over a
multiprocessing queue. ``csms_url="builtin"`` starts the development CSMS in
a subprocess (``python -m ocpp_station csms --port 0 --quiet``; with virtual
time or the scenario's [csms] error_rate / silence_rate its fleet variant,
:mod:`.csms_main`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import multiprocessing
import os
import queue as queue_mod
import re
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .metrics import Aggregator, plot_html, series_step, summary_text, unreported
from .scenario import Scenario, new_event_loop
from .sim import RECONNECT_MAX, VIRTUAL_EPOCH, Worker

log = logging.getLogger(__name__)

# exit status of `ocpp-station fleet` (2 is a bad option or scenario, from the CLI)
EXIT_OK = 0  # every station Accepted, no error, every transaction reported
EXIT_FAILED = 1  # a station never Accepted, or errors (CALLERRORs, timeouts, exceptions) not injected by the scenario
EXIT_UNREPORTED = 3  # transactions open or transaction messages queued or dropped at the end (checked first)


def exit_status(result: dict[str, Any]) -> int:
    """The exit status for a run's result: unreported transactions first (the CSMS would bill wrongly),
    then stations never Accepted or errors."""
    if unreported(result):
        return EXIT_UNREPORTED
    if result["accepted"] < result["stations"] or result["errors"]:
        return EXIT_FAILED
    return EXIT_OK


def default_drain(scenario: Scenario) -> float:
    """Seconds the end of a run waits for the transaction messages by default: one message's whole retry
    policy (:meth:`Scenario.transaction_retry_s`), a reconnect at the longest back-off, and the scenario's
    longest network outage when it has drops (a station may be offline when the driving ends)."""
    outage = scenario.outage_max if scenario.drop_probability > 0 else 0.0
    return scenario.transaction_retry_s() + RECONNECT_MAX + outage


BUILD_S = 0.0005  # s to build one station (a full Station, its store and hardware; ~0.35-0.45 ms measured)

CONTROL_VIRTUAL = ("--control cannot be combined with --virtual-time: virtual time runs the whole scenario in a "
                   "few seconds of wall time, before a client could use the control API")


def raise_nofile(needed: int, err: TextIO | None = sys.stderr, stations: int | None = None) -> tuple[int, int]:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; say so on ``err`` if it stays below ``needed``
    (the descriptors ``stations`` stations need)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            if err:
                print(f"fleet: cannot raise the open-file limit from {soft} to {target}: {exc}", file=err)
    if soft < needed and err:
        who = f"{stations} stations" if stations is not None else "the fleet"
        print(
            f"fleet: open-file limit {soft} (hard {hard}) is below the ~{needed} descriptors "
            f"{who} need here; raise it (ulimit -Hn) or use fewer stations",
            file=err,
        )
    return soft, hard


@dataclass
class BuiltinCsms:
    """The development CSMS in a subprocess."""

    boot_interval: int = 60
    deterministic: bool = False  # virtual time: transactionIds from the message ids (see csms_main)
    seed: Any = 1  # of the CSMS faults
    error_rate: float = 0.0  # [csms] error_rate: CALLs answered CALLERROR InternalError
    silence_rate: float = 0.0  # [csms] silence_rate: CALLs left unanswered
    local_list_fraction: float = 0.0  # [csms] local_list_fraction: stations sent a local list after boot
    local_list_size: int = 50  # [csms] local_list_size
    reservation_fraction: float = 0.0  # [csms] reservation_fraction: stations sent a reservation after boot
    reservation_duration: float = 300.0  # [csms] reservation_duration
    id_tags: list[str] = field(default_factory=list)  # the driver's id_tags (the local list's first entries)
    smart_charging_fraction: float = 0.0  # [csms] smart_charging_fraction: stations sent a charging profile
    smart_charging_purpose: str = "TxDefaultProfile"  # [csms] smart_charging_purpose
    smart_charging_unit: str = "W"  # [csms] smart_charging_unit
    smart_charging_periods: list = field(default_factory=list)  # [csms] smart_charging_periods: (start s, limit)
    smart_charging_stagger: float = 0.0  # [csms] smart_charging_stagger
    security_profile: int = 0  # [fleet] security_profile
    pki_dir: str | None = None  # the fleet CA's directory (profiles 2, 3)
    proc: subprocess.Popen | None = None
    url: str = ""

    def start(self) -> str:
        faults = self.error_rate > 0 or self.silence_rate > 0
        pushes = self.local_list_fraction > 0 or self.reservation_fraction > 0 or self.smart_charging_fraction > 0
        cmd = ([sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet"]
               if not (self.deterministic or faults or pushes or self.security_profile) else
               [sys.executable, "-m", "ocpp_station.fleet.csms_main", "--port", "0", "--seed", str(self.seed),
                "--error-rate", repr(self.error_rate), "--silence-rate", repr(self.silence_rate),
                "--local-list-fraction", repr(self.local_list_fraction), "--local-list-size", str(self.local_list_size),
                "--reservation-fraction", repr(self.reservation_fraction),
                "--reservation-duration", repr(self.reservation_duration), "--id-tags", json.dumps(self.id_tags),
                "--smart-charging-fraction", repr(self.smart_charging_fraction),
                "--smart-charging-purpose", self.smart_charging_purpose, "--smart-charging-unit", self.smart_charging_unit,
                "--smart-charging-periods", json.dumps([list(p) for p in self.smart_charging_periods]),
                "--smart-charging-stagger", repr(self.smart_charging_stagger),
                "--security-profile", str(self.security_profile)]
               + (["--pki-dir", self.pki_dir] if self.pki_dir else []))
        self.proc = subprocess.Popen(
            cmd + ["--log-level", "WARNING", "--boot-interval", str(self.boot_interval)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C in the terminal must not kill it before the stations drain
            preexec_fn=_die_with_parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"(wss?://\S+?)/<identity>", line)
        if not m:
            self.stop()
            raise RuntimeError(f"builtin CSMS did not start: {line!r}")
        self.url = m.group(1)
        return self.url

    def cpu(self) -> float | None:
        """CPU seconds used by the CSMS process so far (from /proc)."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _die_with_parent() -> None:
    """In the CSMS child before exec (Linux): SIGTERM when the fleet process dies, even by SIGKILL,
    so that no orphaned CSMS keeps its port and CPU."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class FleetOptions:
    csms_url: str
    count: int
    scenario: Scenario
    seed: Any = 1
    duration: float = 60.0
    workers: int = 1
    drain_timeout: float | None = None  # None: default_drain(scenario)
    metrics_path: Path | None = None
    progress: bool = True
    virtual_time: bool = False  # jump to the next timer whenever the stations are idle
    control: tuple[str, int] | None = None  # serve /api/stations/{identity}/... here (one worker only)
    trace: bool = False  # record every CALL the stations send (result["trace"])
    trace_path: Path | None = None  # and write it here, one line per CALL
    plot_path: Path | None = None  # HTML page with throughput and latency over time
    shard: tuple[int, int] | None = None  # (I, N): run only shard I of N (0 <= I < N), see shard_indices
    metrics_listen: tuple[str, int] | None = None  # serve Prometheus /metrics here (see prom.py)
    pki_dir: Path | None = None  # write the fleet CA (and the stations' certificates) here
    ca_file: Path | None = None  # the external CSMS's root certificate (PEM), for wss://
    start_at: float | None = None  # real time: the wall-clock instant (epoch s) of t = 0, the same for every shard
    err: TextIO = field(default_factory=lambda: sys.stderr)


class MetricsListenError(OSError):
    """--metrics-listen: the address cannot be bound."""


def _wait_for_start(start_at: float, lead: float, err: TextIO) -> None:
    """--start-at: sleep until ``lead`` s before it (the workers' start-up), or say how late this shard is."""
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(start_at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    wait = start_at - lead - time.time()
    if wait > 0:
        print(f"fleet: waiting {wait:.1f} s for --start-at {when}", file=err, flush=True)
        time.sleep(wait)
    elif time.time() > start_at:
        print(f"fleet: warning: --start-at {when} passed {time.time() - start_at:.1f} s ago: this run starts now, "
              "not with the other shards", file=err, flush=True)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N (I is the Kubernetes completion index); ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"expected I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise ValueError(f"expected I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return i, n


def shard_indices(count: int, shard: tuple[int, int] | None) -> list[int]:
    """The station numbers (1..count) shard I of N runs: every N-th, from I + 1. The shards are disjoint and
    together are 1..count. Nothing else depends on the shard: every random draw of a station is seeded from
    ``"<seed>/<identity>/..."`` and its start from its number (the ramp), so a station behaves the same in
    whichever shard (and worker) it runs, and a shard can be rerun alone."""
    if shard is None:
        return list(range(1, count + 1))
    i, n = shard
    return list(range(i + 1, count + 1, n))


def shard_seed(seed: Any, shard: tuple[int, int] | None) -> Any:
    """The seed the stations of a shard draw from: the run's seed itself. Per-station generators are keyed by
    (seed, identity), and the identity slice is the shard's part of (seed, I): a stream per shard would make
    a station's schedule depend on N, and N shards would no longer be the single-machine run."""
    return seed


def _worker_main(wid: int, indices: list[int], scenario: Scenario, seed: Any, url: str, start_at: float,
                 duration: float, drain_timeout: float, q: Any, log_level: int, virtual: bool = False,
                 trace: bool = False, builtin: bool = False) -> None:
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    async def main() -> None:
        w = Worker(wid, indices, scenario, seed, url, start_at, duration, drain_timeout, report=q.put,
                   virtual=virtual, trace=trace, builtin=builtin)
        # the parent passes each SIGINT/SIGTERM on as one SIGTERM; Ctrl-C in a terminal signals the whole
        # process group, and counted twice here it would end the drain along with the driving phase
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, w.stop)
        await w.run()

    with asyncio.Runner(loop_factory=lambda: new_event_loop(scenario.event_loop)) as runner:
        runner.run(main())


def run_fleet(opts: FleetOptions) -> dict[str, Any]:
    """Run the fleet to the end; returns the metrics document (also written to ``opts.metrics_path``)."""
    err = opts.err
    sc = opts.scenario
    if opts.control is not None and opts.workers > 1:
        raise ValueError("--control needs --workers 1 (the control API serves the stations of one process)")
    if opts.control is not None and opts.virtual_time:
        raise ValueError(CONTROL_VIRTUAL)
    if opts.duration <= 0:
        raise ValueError(f"duration: expected a number of seconds > 0, got {opts.duration:g}")
    sc.identities(opts.count)  # ValueError: the pattern does not give every station its own valid identity
    try:
        new_event_loop(sc.event_loop).close()  # uvloop missing: say so before anything starts
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    mine = shard_indices(opts.count, opts.shard)
    if not mine:
        raise ValueError(f"--shard: shard {opts.shard[0]}/{opts.shard[1]} of {opts.count} stations has no station")
    if opts.shard is not None:
        opts = dataclasses.replace(opts, seed=shard_seed(opts.seed, opts.shard))
    if opts.drain_timeout is None:
        opts = dataclasses.replace(opts, drain_timeout=default_drain(sc))
    raise_nofile(2 * len(mine) + 256 if opts.csms_url == "builtin" else len(mine) + 256, err, len(mine))
    control_sock = None
    if opts.control is not None:
        from .control import bind_control

        control_sock = bind_control(opts.control)  # ControlListenError before anything starts
    csms: BuiltinCsms | None = None
    url = opts.csms_url
    if sc.security_profile >= 2 or opts.pki_dir is not None:  # the fleet CA and the builtin CSMS's certificate
        from .security import make_pki

        from .security import make_station_files

        sc = dataclasses.replace(sc, pki_dir=str(make_pki(opts.pki_dir)))
        opts = dataclasses.replace(opts, scenario=sc)
        made = make_station_files(sc.pki_dir, sc.identities(opts.count)) if sc.security_profile == 3 else 0
        print(f"fleet: security profile {sc.security_profile}, fleet CA in {sc.pki_dir}/fleet-ca.pem"
              + (f", {made} station certificates made" if made else ""), file=err)
    if opts.ca_file is not None:
        sc = dataclasses.replace(sc, ca_file=str(opts.ca_file))
        opts = dataclasses.replace(opts, scenario=sc)
    if url != "builtin" and sc.csms_keys:
        print(f"fleet: warning: the scenario's [csms] keys ({', '.join(sc.csms_keys)}) apply to --csms builtin only: "
              f"ignored for {url}, which answers as it does (no injected CSMS errors or silence)", file=err)
    if url == "builtin":
        csms = BuiltinCsms(boot_interval=sc.boot_interval, deterministic=opts.virtual_time, seed=opts.seed,
                           error_rate=sc.csms_error_rate, silence_rate=sc.csms_silence_rate,
                           local_list_fraction=sc.csms_local_list_fraction, local_list_size=sc.csms_local_list_size,
                           reservation_fraction=sc.csms_reservation_fraction,
                           reservation_duration=sc.csms_reservation_duration, id_tags=list(sc.id_tags),
                           smart_charging_fraction=sc.csms_smart_charging_fraction,
                           smart_charging_purpose=sc.csms_smart_charging_purpose,
                           smart_charging_unit=sc.csms_smart_charging_unit,
                           smart_charging_periods=list(sc.csms_smart_charging_periods),
                           smart_charging_stagger=sc.csms_smart_charging_stagger,
                           security_profile=sc.security_profile, pki_dir=sc.pki_dir)
        url = csms.start()
        print(f"fleet: builtin CSMS at {url} (pid {csms.proc.pid})", file=err)
    k = max(1, min(opts.workers, len(mine)))
    shards = [mine[w::k] for w in range(k)]
    # spawned workers need a moment to import, and every worker builds its stations before the first one
    # starts: started late, the ramp would begin with the burst of every station due meanwhile
    lead = (0.0 if k == 1 else 1.5) + BUILD_S * max(len(sh) for sh in shards)
    if opts.start_at is not None and not opts.virtual_time:
        _wait_for_start(opts.start_at, lead, err)
    t_wall0 = time.time()
    cpu0 = os.times()
    started = t_wall0 + lead
    if opts.start_at is not None and not opts.virtual_time and opts.start_at > t_wall0:
        started = opts.start_at  # every shard's t = 0 the same instant, not each one's own start + lead
    start_at = started
    if opts.virtual_time:
        start_at = VIRTUAL_EPOCH  # the stations' clocks start there, whatever the wall clock says
    agg = Aggregator(len(mine), k, started, start_at,
                     step=series_step(opts.duration) if opts.virtual_time else None)
    exporter = None
    if opts.metrics_listen is not None:
        from .prom import start_exporter

        try:
            exporter, where = start_exporter(agg, opts.metrics_listen, len(mine),
                                             None if opts.shard is None else f"{opts.shard[0]}/{opts.shard[1]}",
                                             opts.seed)
        except OSError as exc:
            if csms is not None:
                csms.stop()
            raise MetricsListenError(f"cannot listen on {opts.metrics_listen[0]}:{opts.metrics_listen[1]}: "
                                     f"{exc.strerror or exc}") from exc
        print(f"fleet: Prometheus metrics on {where}", file=err, flush=True)
    if opts.shard is None:
        part = f"{opts.count} stations ({sc.identity(1)}..{sc.identity(opts.count)})"
    else:
        part = (f"shard {opts.shard[0]}/{opts.shard[1]}: {len(mine)} of {opts.count} stations "
                f"(one in {opts.shard[1]} from {sc.identity(mine[0])})")
    print(f"fleet: {part}, "
          f"{k} worker(s), ramp {opts.scenario.ramp_rate:g}/s, seed {opts.seed}, {opts.duration:g} s"
          f"{' of virtual time' if opts.virtual_time else ''}, then a drain of up to {opts.drain_timeout:g} s -> {url}",
          file=err)
    try:
        if k == 1:
            with asyncio.Runner(loop_factory=lambda: new_event_loop(sc.event_loop)) as runner:
                runner.run(_run_inline(opts, shards[0], url, start_at, agg, control_sock))
        else:
            _run_processes(opts, shards, url, start_at, agg)
    finally:
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        csms_cpu = csms.cpu() if csms else None
        if csms is not None:
            csms.stop()
    wall = time.time() - t_wall0
    cpu1 = os.times()
    fleet_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    if k > 1:
        fleet_cpu += (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
        if csms_cpu is not None:
            fleet_cpu -= csms_cpu  # the CSMS subprocess is a child too (approximately: it was reaped)
    cpu = {"fleet_cpu_s": round(fleet_cpu, 2), "fleet_cpu_percent": round(100 * fleet_cpu / wall, 1)}
    if csms_cpu is not None:
        cpu["csms_cpu_s"] = round(csms_cpu, 2)
    result = agg.result(wall, cpu)
    result["seed"] = opts.seed
    result["count"] = opts.count  # the whole run's stations (a shard runs result["stations"] of them)
    result["shard"] = None if opts.shard is None else f"{opts.shard[0]}/{opts.shard[1]}"
    result["drain_s"] = opts.drain_timeout
    result["csms"] = opts.csms_url
    result["scenario"] = opts.scenario.to_dict()
    templates: Counter = Counter()
    for f in agg.finals.values():
        templates.update(f.get("templates", {}))
    result["templates"] = dict(sorted(templates.items()))  # template name -> stations built from it
    result["csms_faults"] = {"errors": agg.total("csms_errors_injected"), "silences": agg.total("csms_silences_injected")}
    if opts.trace or opts.trace_path is not None:
        result["trace"] = merge_traces([f.get("trace", []) for f in agg.finals.values()])
        if opts.trace_path is not None:
            opts.trace_path.write_text("".join(line + "\n" for line in result["trace"]))
            print(f"fleet: trace of {len(result['trace'])} CALLs written to {opts.trace_path}", file=err)
    print(summary_text(result), file=err)
    print(faults_line(result), file=err)
    if len(result["templates"]) > 1:
        print("  templates: " + ", ".join(f"{k} {v}" for k, v in result["templates"].items()), file=err)
    if opts.plot_path is not None:
        opts.plot_path.write_text(plot_html(result))
        print(f"fleet: plot written to {opts.plot_path}", file=err)
    if opts.metrics_path is not None:
        opts.metrics_path.write_text(json.dumps(result, indent=1))
        print(f"fleet: metrics written to {opts.metrics_path}", file=err)
    return result


async def _run_inline(opts: FleetOptions, indices: list[int], url: str, start_at: float, agg: Aggregator,
                      control_sock: Any = None) -> Any:
    w = Worker(0, indices, opts.scenario, opts.seed, url, start_at, opts.duration, opts.drain_timeout,
               report=agg.handle, virtual=opts.virtual_time, control=opts.control is not None,
               trace=opts.trace or opts.trace_path is not None, builtin=opts.csms_url == "builtin")
    loop = asyncio.get_running_loop()
    control = None
    if opts.control is not None:
        from .control import start_control

        control, base = await start_control(w, opts.control, control_sock)
        print(f"fleet: control API on {base} (each station under {base}/<identity>/)", file=opts.err, flush=True)
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, w.stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass

    async def progress() -> None:
        show = Progress(agg, opts.err)
        try:
            while True:
                await asyncio.sleep(1.0)
                show.tick()
        finally:
            show.done()

    p = loop.create_task(progress()) if opts.progress else None
    try:
        return await w.run()
    finally:
        if p is not None:
            p.cancel()
        if control is not None:
            await control.cleanup()
        for sig in installed:
            loop.remove_signal_handler(sig)


def _run_processes(opts: FleetOptions, shards: list[list[int]], url: str, start_at: float, agg: Aggregator) -> None:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = []
    level = logging.getLogger().getEffectiveLevel()
    for wid, idx in enumerate(shards):
        p = ctx.Process(target=_worker_main, name=f"fleet-worker-{wid}",
                        args=(wid, idx, opts.scenario, opts.seed, url, start_at, opts.duration,
                              opts.drain_timeout, q, level, opts.virtual_time,
                              opts.trace or opts.trace_path is not None, opts.csms_url == "builtin"))
        p.start()
        procs.append(p)
    show = Progress(agg, opts.err)

    def on_signal(signum: int, _frame: Any) -> None:
        # passed on each time: the first ends the driving phase, a second one the drain (Worker.stop)
        for p in procs:
            if p.pid and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        next_progress = time.time() + 1.0
        # a bound in wall time. In virtual time start_at is the stations' clock (2025), not the wall clock,
        # and the run takes what the CPU needs: the workers end on their own (their drain is bounded in
        # real time), and the loop ends when they have
        hard_end = math.inf if opts.virtual_time else start_at + opts.duration + opts.drain_timeout + 60
        while len(agg.finals) < len(procs):
            try:
                msg = q.get(timeout=max(0.05, next_progress - time.time()))
                agg.handle(msg)
            except queue_mod.Empty:
                pass
            if time.time() >= next_progress:
                next_progress += 1.0
                if opts.progress:
                    show.tick()
            if all(not p.is_alive() for p in procs) and q.empty():
                break
            if time.time() > hard_end:
                print("fleet: workers did not finish in time", file=opts.err)
                break
        show.done()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
    finally:
        for s, h in old.items():
            signal.signal(s, h)



def faults_line(r: dict[str, Any]) -> str:
    """The summary's line of injected faults (CSMS faults: the CALLERRORs and timeouts they caused)."""
    f = r["csms_faults"]
    return (f"  injected faults: network drops {r['network_drops']}, power cuts {r['power_cuts']}, "
            f"CSMS CALLERROR {f['errors']}, CSMS silence {f['silences']} (expected: not counted as errors)")


def merge_traces(traces: list[list[str]]) -> list[str]:
    """The workers' canonical traces as one (same order as :func:`~.sim.trace_lines`)."""
    def key(line: str) -> tuple[float, str]:
        t, ident, _ = line.split(" ", 2)
        return float(t), ident

    return sorted((line for tr in traces for line in tr), key=key)  # stable: each station's order kept


class Progress:
    """Live progress on ``err``: a small table redrawn in place (ANSI) on a terminal, else one line a second."""

    def __init__(self, agg: Aggregator, err: TextIO) -> None:
        self.agg = agg
        self.err = err
        try:
            self.tty = err.isatty() and os.environ.get("TERM") != "dumb"
        except (AttributeError, ValueError):
            self.tty = False
        self.drawn = 0  # lines of the table on screen

    def tick(self) -> None:
        if not self.tty:
            print(self.agg.progress_line(), file=self.err, flush=True)
            return
        rows = self.agg.progress_table()
        up = f"\x1b[{self.drawn}F" if self.drawn else ""
        self.err.write(up + "".join(f"\x1b[2K{r}\n" for r in rows))
        self.err.flush()
        self.drawn = len(rows)

    def done(self) -> None:
        self.drawn = 0  # what follows (the summary) goes below the last table

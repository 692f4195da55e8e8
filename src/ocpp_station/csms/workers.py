"""``ocpp-station csms --workers N``: N development CSMS processes accepting on one port.

One process holds at most as many stations as its open-file limit allows, and one core. With
``--workers N`` the command starts N worker processes (``ocpp-station csms ... --worker I/N``), each a
whole :class:`~.server.DevCsms` that binds the same address with ``SO_REUSEPORT`` (Linux): the kernel
spreads the stations' connections over them. This process (the parent) holds the port (bound with
``SO_REUSEPORT`` too, never listening, so ``--port 0`` picks one port for all), prints the
``CSMS listening on`` line once, and serves the operator API on ``--operator-listen``, forwarding to the
workers' private operator APIs (each on 127.0.0.1, port chosen by the system):

* ``GET /api/stations`` merges the workers' lists (each entry says its ``worker``); a station that moved
  to another worker when it reconnected is listed once, from the worker it is connected to (else the one
  that saw it last);
* ``/api/stations/{id}/...`` goes to the worker that holds the station (connected, else the one that saw
  it last);
* ``PUT``/``DELETE`` of ``/api/policy...`` and ``PUT /api/firmware-signing`` go to every worker (the
  first worker's answer is returned); ``GET /api/policy`` and the rest are the first worker's;
* ``GET /api/status`` sums the workers' figures and lists each.

What stays per worker: a station's link (history, scripted answers, the messages of the operator API's
message log, which is ``--message-log`` frames per worker), and a firmware signing certificate made on
first use (give one with ``PUT /api/firmware-signing`` to share it). Global: the answer policy (applied
to every worker), transactionIds (worker I of N hands out I+1, I+1+N, ...: unique across workers).
SIGINT/SIGTERM stop every worker. ``--stats-file F``: worker I writes ``F.wI``, the parent sums them in F.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("ocpp_station.csms.workers")

START_TIMEOUT = 30.0  # s for a worker to print its addresses


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT, not listening: it holds the port for the workers
    (the real one when ``port`` is 0). Raises OSError when the address cannot be bound."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def _die_with_parent() -> None:
    """In a worker before exec (Linux): SIGTERM when the parent dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Worker:
    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.url = ""  # ws://host:port/ocpp
        self.operator = ""  # http://127.0.0.1:PORT (no /api)


async def _read_addresses(worker: Worker, operator: bool, write: Any) -> None:
    assert worker.proc.stdout is not None
    while not worker.url or (operator and not worker.operator):
        line = (await worker.proc.stdout.readline()).decode(errors="replace")
        if not line:
            raise RuntimeError(f"CSMS worker {worker.index} exited before listening (exit {await worker.proc.wait()})")
        line = line.rstrip("\n")
        if line.startswith("CSMS listening on "):
            worker.url = line.split()[-1].removesuffix("/<identity>")
        elif line.startswith("Operator API on "):
            worker.operator = line.split()[-1].removesuffix("/api")
        else:
            write(line)


async def _forward_output(worker: Worker, write: Any) -> None:
    assert worker.proc.stdout is not None
    while True:
        line = await worker.proc.stdout.readline()
        if not line:
            return
        write(line.decode(errors="replace").rstrip("\n"))


def merge_stats(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' status documents summed (max of the pauses), with each one under ``workers``."""
    def total(key: str) -> Any:
        return sum(d.get(key) or 0 for d in docs)

    calls, cpu = total("callsReceived"), total("cpuSeconds")
    uptime = max((d.get("uptimeS") or 0 for d in docs), default=0)
    gcs = [d.get("gc") or {} for d in docs]
    return {
        "stations": total("stations"), "connected": total("connected"), "callsReceived": calls,
        "cpuSeconds": round(cpu, 2), "cpuPercent": round(100 * cpu / uptime, 1) if uptime else 0.0,
        "cpuMicrosecondsPerCall": round(1e6 * cpu / calls, 1) if calls else None,
        "rssKiB": total("rssKiB"), "rssPeakKiB": total("rssPeakKiB"), "uptimeS": uptime,
        "gc": {"maxPauseMs": max((g.get("maxPauseMs") or 0 for g in gcs), default=0),
               "cpuMs": round(sum(g.get("cpuMs") or 0 for g in gcs), 1),
               "cpuMaxMs": max((g.get("cpuMaxMs") or 0 for g in gcs), default=0),
               "collections": [sum((g.get("collections") or [0, 0, 0])[i] for g in gcs) for i in range(3)]},
        "workers": docs,
    }


async def run_workers(args_tail: list[str], count: int, host: str, port: int, operator_listen: tuple[str, int] | None,
                      stats_file: Path | None, write: Any) -> None:
    """Start ``count`` workers (``ocpp-station csms <args_tail> --port P --worker I/N``) and serve until cancelled."""
    reserved = reserve_port(host, port)
    real_port = reserved.getsockname()[1]
    workers: list[Worker] = []
    runner = None
    tasks: list[asyncio.Task[Any]] = []
    try:
        for i in range(count):
            cmd = [sys.executable, "-m", "ocpp_station", "csms", *args_tail, "--port", str(real_port),
                   "--operator-listen", "127.0.0.1:0" if operator_listen is not None else "off",
                   "--workers", "1", "--worker", f"{i}/{count}"]
            if stats_file is not None:
                cmd += ["--stats-file", f"{stats_file}.w{i}"]
            # a session of its own: Ctrl-C reaches this process only, which stops the workers
            proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                        start_new_session=True, preexec_fn=_die_with_parent)
            workers.append(Worker(i, proc))
        async with asyncio.timeout(START_TIMEOUT):
            await asyncio.gather(*(_read_addresses(w, operator_listen is not None, write) for w in workers))
        write(f"CSMS listening on {workers[0].url}/<identity>")
        if operator_listen is not None:
            from .operator_proxy import start_operator_proxy
            from .server import OperatorListenError, _format_host, _listen_error

            try:
                runner, bound = await start_operator_proxy([w.operator for w in workers], operator_listen)
            except OSError as exc:
                raise OperatorListenError(_listen_error(operator_listen, exc)) from None
            write(f"Operator API on http://{_format_host(operator_listen[0])}:{bound}/api")
        tasks = [asyncio.ensure_future(_forward_output(w, write)) for w in workers]
        waits = [asyncio.ensure_future(w.proc.wait()) for w in workers]
        tasks += waits
        if stats_file is not None:
            tasks.append(asyncio.ensure_future(_merge_stats_files(stats_file, count)))
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        gone = [w.index for w, t in zip(workers, waits) if t in done]
        raise RuntimeError(f"CSMS worker(s) {gone} exited")
    finally:
        for t in tasks:
            t.cancel()
        await _stop(workers)
        if stats_file is not None:
            _write_merged(stats_file, count)
        if runner is not None:
            await runner.cleanup()
        reserved.close()


async def _stop(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc.returncode is None:
            try:
                w.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for w in workers:
        try:
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                await w.proc.wait()
        except TimeoutError:
            w.proc.kill()
            await w.proc.wait()


def _write_merged(stats_file: Path, count: int) -> None:
    docs = []
    for i in range(count):
        try:
            docs.append(json.loads(Path(f"{stats_file}.w{i}").read_text()))
        except (OSError, ValueError):
            pass
    if not docs:
        return
    tmp = stats_file.with_name(stats_file.name + ".tmp")
    try:
        tmp.write_text(json.dumps(merge_stats(docs)))
        os.replace(tmp, stats_file)
    except OSError:
        pass


async def _merge_stats_files(stats_file: Path, count: int) -> None:
    while True:
        await asyncio.sleep(1.0)
        _write_merged(stats_file, count)

"""End-to-end fixtures: a real ``ocpp-station run`` process, a real websocket to the dev CSMS (in the
test's event loop), a real SQLite file under tmp_path, and the control API over HTTP."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.csms import DevCsms

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


class StationProcess:
    """One ``ocpp-station run`` process, driven through its control API."""

    def __init__(self, config: Path, identity: str, control_port: int, log_path: Path) -> None:
        self.config = config
        self.identity = identity
        self.base = f"http://127.0.0.1:{control_port}"
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Event | None = None
        self._reader: asyncio.Task | None = None
        self.lines: list[str] = []
        self._line_waiters: list[tuple[Any, asyncio.Future]] = []
        self._http: aiohttp.ClientSession | None = None

    async def start(self, timeout: float = 15.0) -> "StationProcess":
        self._ready = asyncio.Event()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpp_station", "run", "--config", str(self.config), "--log-level", "INFO",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self.proc))
        ready = asyncio.ensure_future(self._ready.wait())
        exited = asyncio.ensure_future(self.proc.wait())
        done, _ = await asyncio.wait({ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        exited.cancel()
        if ready not in done or not ready.result():
            # say why: the process ended (its exit code) or is still starting, with the end of its log
            if self.proc.returncode is not None:  # the whole of its log
                await asyncio.wait({self._reader}, timeout=2)
            state = f"exited with {self.proc.returncode}" if self.proc.returncode is not None else "still starting"
            tail = "".join(self.lines[-20:])
            raise AssertionError(f"station {state} after {timeout} s without its control API; log:\n{tail}")
        return self

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        with open(self.log_path, "a") as log:
            async for raw in proc.stderr:
                line = raw.decode(errors="replace")
                self.lines.append(line)
                for pattern, fut in self._line_waiters:
                    if not fut.done() and pattern.search(line):
                        fut.set_result(line)
                log.write(line)
                log.flush()
                if "control API on http://" in line and self._ready is not None:
                    self._ready.set()

    async def line(self, pattern: str, timeout: float = 10.0) -> str:
        """The first line of stderr (since the start) matching the regex ``pattern``; waits for it."""
        rx = re.compile(pattern)
        for line in self.lines:
            if rx.search(line):
                return line
        fut = asyncio.get_running_loop().create_future()
        self._line_waiters.append((rx, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise AssertionError(f"no line matching {pattern!r}; stderr:\n{''.join(self.lines)}") from None
        finally:
            self._line_waiters.remove((rx, fut))

    async def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def api(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        session = await self.http()
        kwargs: dict[str, Any] = {}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with session.request(method, self.base + path, **kwargs) as resp:
            try:
                data = await resp.json(content_type=None)
            except Exception:
                data = await resp.text()
            return resp.status, data

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = await self.api(method, path, body)
        assert status == 200, (status, data)
        return data

    # shorthand for the simulated hardware
    async def state(self) -> dict:
        return await self.ok("GET", "/api/state")

    async def plug_in(self, cid: int = 1) -> Any:
        return await self.ok("POST", f"/api/connectors/{cid}/plug-in")

    async def plug_out(self, cid: int = 1, side: str = "both") -> Any:
        return await self.ok("POST", f"/api/connectors/{cid}/plug-out", {"side": side})

    async def card(self, id_tag: str, cid: int | None = None) -> Any:
        body: dict[str, Any] = {"idTag": id_tag}
        if cid is not None:
            body["connectorId"] = cid
        return await self.ok("POST", "/api/id-tag", body)

    async def ev(self, state: str, cid: int = 1, power_w: float | None = None) -> Any:
        body: dict[str, Any] = {"state": state}
        if power_w is not None:
            body["powerW"] = power_w
        return await self.ok("POST", f"/api/connectors/{cid}/ev", body)

    async def network(self, up: bool) -> Any:
        return await self.ok("POST", "/api/network/connect" if up else "/api/network/disconnect")

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM; returns the exit status (0 for a graceful stop)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:  # say where it hung: the end of its log, then no process left behind
            self.proc.kill()
            await self.proc.wait()
            await self._close()
            tail = "".join(self.lines[-20:])
            raise AssertionError(f"station still running {timeout} s after SIGTERM; log:\n{tail}") from None
        await self._close()
        return rc

    async def kill(self) -> None:
        """A power cut: SIGKILL."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self._close()

    async def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        rc = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._close()
        return rc

    async def _close(self) -> None:
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        if self._http is not None:
            await self._http.close()
            self._http = None


@pytest.fixture
async def csms():
    async with DevCsms(log_frames=True, boot_interval=30) as c:
        yield c


@pytest.fixture
async def station_factory(tmp_path, csms):
    """``await station_factory(ocpp={...}, hardware={...})`` starts a station process against ``csms``."""
    procs: list[StationProcess] = []

    async def start(
        identity: str = "CP001",
        ocpp: dict[str, Any] | None = None,
        hardware: dict[str, Any] | None = None,
        station: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        control_port: int | None = None,
        config_name: str | None = None,
        logging: dict[str, Any] | None = None,
        firmware: dict[str, Any] | None = None,
    ) -> StationProcess:
        port = control_port or free_port()
        st = {
            "identity": identity,
            "csms_url": csms.url,
            "data_dir": str(data_dir or tmp_path / f"data-{identity}"),
            "reconnect_min_delay": 0.1,
            "reconnect_max_delay": 0.5,
            "boot_retry_interval": 2,
        }
        st.update(station or {})
        lines = ["[station]"] + [f"{k} = {_toml_value(v)}" for k, v in st.items()]
        lines += ["[hardware]"] + [f"{k} = {_toml_value(v)}" for k, v in (hardware or {}).items()]
        lines += ["[ocpp]"] + [f"{k} = {_toml_value(v)}" for k, v in (ocpp or {}).items()]
        lines += ["[control]", f'listen = "127.0.0.1:{port}"']
        if logging:
            lines += ["[logging]"] + [f"{k} = {_toml_value(v)}" for k, v in logging.items()]
        if firmware:
            lines += ["[firmware]"] + [f"{k} = {_toml_value(v)}" for k, v in firmware.items()]
        cfg = tmp_path / (config_name or f"{identity}.toml")
        cfg.write_text("\n".join(lines) + "\n")
        p = StationProcess(cfg, identity, port, tmp_path / f"{identity}.log")
        procs.append(p)
        return await p.start()

    start.procs = procs  # type: ignore[attr-defined]
    yield start
    for p in procs:
        if p.proc is not None and p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
        await p._close()


@pytest.fixture
async def booted(csms, station_factory):
    """A station that has booted (Accepted) and reported its statuses: StatusNotification(Available, NoError) for
    connector 0 and each connector ([ERRATA] 3.22); returns (station, link)."""

    async def boot(**kw):
        st = await station_factory(**kw)
        link = await csms.wait_connected(st.identity)
        await link.expect("BootNotification")
        n = (kw.get("hardware") or {}).get("connectors", 1)
        statuses = await link.expect_unordered(["StatusNotification"] * (n + 1))
        got = sorted((c.payload["connectorId"], c.payload["status"], c.payload["errorCode"]) for c in statuses)
        assert got == [(cid, "Available", "NoError") for cid in range(n + 1)], got
        return st, link

    return boot


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)

"""StationRuntime: one station on asyncio (websocket client, timers, store, simulated hardware, control API).

Theory of operation: every input (a frame, a timer, a control API action)
runs a synchronous Station method with ``now`` from :class:`SteadyClock` (wall
time at start-up, then monotonic: a clock step never freezes or rushes a
timer; the station's timestamps follow the CSMS's currentTime) and then
:meth:`flush`, which hands the Station's frames to the connection's writer
task and carries out its commands. The tasks run under one
``asyncio.TaskGroup``: a failure in any surfaces, and stopping cancels all.

A graceful stop (SIGTERM/SIGINT, :meth:`stop`) ends every open transaction
as a local reboot does (StopTransaction reason ``Reboot`` with the meter's
value and time, [SPEC] §7.36 Reason), waits up to ``stop_grace`` seconds
for the transaction queue to reach the CSMS while the link is up, and
leaves whatever is still queued in the store for the next start
(docs/persistence.md). A second signal cuts the wait short.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import signal
import ssl
import time
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ..config import station_url
from ..core.commands import Reboot, Reconnect, SetPingInterval
from ..core.events import ConnectFailed, Event
from ..assembly import build_station, station_hardware
from ..core.station import Station
from ..hardware.simulated import SimulatedHardware
from ..store.base import Store
from .filejobs import COMMANDS as FILE_COMMANDS, FileJobs
from .timing import SteadyClock, reconnect_delay
from .framelog import FrameFile, FrameLog
from .linklog import close_description, connect_failure, failure_cause
from .sessionlog import SessionLog
from .systemd import Notifier

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0  # s, for the TCP connection, TLS and the websocket handshake together


class StationRuntime:
    def __init__(
        self,
        settings: Any,  # config.RunSettings
        store_factory: Any,  # () -> Store
        hardware: SimulatedHardware | None = None,
        rng: random.Random | None = None,
        power_cut_restarts: bool = False,
        features: list[type] | None = None,
    ) -> None:
        self.features = features  # the feature classes; None: those of [station] profiles
        self.settings = settings  # RunSettings: station settings, csms_url, control, reconnect delays
        self.store_factory = store_factory  # opens the store
        self.rng = rng or random.Random()  # jitter, message-id prefixes
        self.clock = SteadyClock()  # the station's ``now``
        self.store: Store = store_factory()  # the station's store, kept across resets
        # the simulated meter, lock, relay and cables, or a composite with the real parts of [hardware]
        self.hardware = hardware or station_hardware(settings, self.store)
        self.station = self._new_station()  # the sans-I/O charge point
        self.frames = FrameLog()  # recent frames for the control API / HMI
        if getattr(settings, "frame_log", None) is not None:  # every frame to a rotating file
            self.frames.file = FrameFile(settings.frame_log, settings.frame_log_max_bytes, settings.frame_log_backups)
        self.session_log = SessionLog()  # the session steps at INFO
        self.network_up = asyncio.Event()  # the simulated link (POST /api/network/...)
        self.network_up.set()
        self.boots = 1  # how many times the station has booted in this process
        self._wake = asyncio.Event()  # the timer loop re-reads get_timer()
        self._stop = asyncio.Event()  # set by stop()
        self._hurry = asyncio.Event()  # set by a second stop(): no more waiting for the CSMS
        self._progress = asyncio.Event()  # set by every flush(): something happened, look again
        self._ws: Any = None  # the open websocket, if any
        self._outq: asyncio.Queue[str] | None = None  # frames for the current connection's writer
        self._ping_interval = self.station.config["WebSocketPingInterval"]  # seconds, 0 = off
        self._reboot_requested: str | None = None  # "Soft" | "Hard" while a reset is pending
        self._closers: set[asyncio.Task] = set()  # connection closes under way
        # False (``run``): a power cut ends the process as kill -9 would. True (``demo``): the station
        # restarts in the process on its same store, as when the power comes back.
        self.power_cut_restarts = power_cut_restarts
        self._link_cut = ""  # why the current link was cut on purpose ("power cut", "network down"), not a failure
        self._control_runner: Any = None  # the control API's aiohttp runner once open_control() bound it
        self._ssl_context: Any = None  # ssl.SSLContext of wss:// links, made on the first connection
        self.files = FileJobs(self)  # firmware downloads and installs, diagnostics uploads
        self.systemd = Notifier()  # sd_notify: READY, STOPPING, the watchdog (a no-op outside systemd)

    def _new_station(self) -> Station:
        return build_station(self.settings.station, self.store, self.hardware, self.rng, features=self.features)

    @property
    def security(self) -> Any:
        """The security extension's feature, None when the station has none ([security] absent)."""
        return self.station.feature.get("Security")

    @property
    def url(self) -> str:
        base = self.settings.csms_url
        sec = self.security
        if sec is not None and sec.tls:
            # security profiles 2 and 3 speak wss:// ([SEC] §2.3): [security] tls_csms_url, else csms_url as wss://
            tls_url = getattr(self.settings, "tls_csms_url", None)
            base = tls_url or ("wss://" + base.removeprefix("ws://").removeprefix("wss://"))
        return station_url(base, self.settings.station.identity)

    # -- the driving core ------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def flush(self) -> None:
        for frame in self.station.data_to_send():
            self.session_log.frame(self.frames.add("out", frame, time.time()))
            if self._outq is not None:
                self._outq.put_nowait(frame)
            else:
                log.debug("not connected; frame dropped: %s", frame[:200])
        for cmd in self.station.commands():
            if isinstance(cmd, SetPingInterval):
                self._ping_interval = cmd.seconds
                self._apply_ping_interval(cmd.seconds)
            elif isinstance(cmd, Reboot):
                self._reboot_requested = cmd.kind
                self._drop_connection(after_flush=True)
            elif isinstance(cmd, Reconnect):
                self._drop_connection(after_flush=True)
            elif isinstance(cmd, FILE_COMMANDS):
                self.files.handle(cmd)
        if self.session_log.log.isEnabledFor(logging.INFO):
            self.session_log.state(self.station.state(self.now()))
        self._wake.set()
        self._progress.set()

    def _apply_ping_interval(self, seconds: int) -> None:
        """WebSocketPingInterval on the live link too: ChangeConfiguration Accepted means in effect now
        (spec §2.3); 0 stops the pings."""
        ws = self._ws
        log.info("WebSocketPingInterval is now %s s", seconds)
        if ws is None:
            return
        task = getattr(ws, "keepalive_task", None)
        if task is not None:
            task.cancel()
            ws.keepalive_task = None
        ws.ping_interval = ws.ping_timeout = seconds or None
        ws.start_keepalive()

    def feed(self, events: list[Event]) -> None:
        now = self.now()
        for ev in events:
            self.session_log.event(ev)
            self.station.handle_event(ev, now)
        self.flush()

    def _drop_connection(self, after_flush: bool = False) -> None:
        ws, q = self._ws, self._outq
        if ws is None:
            return

        async def close() -> None:
            if after_flush and q is not None:
                try:  # let the frames already handed over (e.g. Reset.conf) go out first
                    async with asyncio.timeout(2.0):
                        await q.join()
                except TimeoutError:
                    pass
            await ws.close()  # ends the reader loop

        task = asyncio.get_running_loop().create_task(close())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    # -- tasks -----------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            await self.open_control()
        except ControlListenError:
            self.store.close()
            raise
        devices = list(getattr(self.hardware, "devices", ()))  # the real parts of [hardware]
        try:
            for i, dev in enumerate(devices):
                await dev.start()  # raises HardwareError: one line naming the [hardware] key
        except BaseException:
            for dev in devices[:i]:
                await dev.close()
            await self._close_control()
            self.store.close()
            raise
        self.files.attach()
        self.station.start(self.now())
        self.flush()
        self.systemd.notify("READY=1", f"STATUS=station {self.settings.station.identity} running")
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._timer_loop(), name="timers")
                tg.create_task(self._connection_loop(), name="connection")
                for dev in devices:
                    tg.create_task(dev.run(self.feed), name=f"device {type(dev).__name__}")
                tg.create_task(self.systemd.pet(lambda: self.health()["store"]), name="watchdog")
                await self._stop.wait()
                self.systemd.notify("STOPPING=1")
                await self._end_transactions()
                if self._ws is not None:
                    await self._ws.close()  # a normal closure (1000) for the CSMS
                raise _Stopping
        except* _Stopping:
            pass
        finally:
            for dev in devices:
                await dev.close()
            self.files.close()
            await self._close_control()
            self.store.close()
            if self.frames.file is not None:
                self.frames.file.close()
        return 0

    def health(self) -> dict[str, Any]:
        """``GET /api/health`` and the watchdog: the store answers, the link to the CSMS, the real parts.
        ``ok`` is false when the store fails or a real part is failing (the CSMS link being down is not: a
        station works offline)."""
        try:
            self.store.get("runtime", "health")
            store_ok = True
        except Exception:  # noqa: BLE001 - any store failure is unhealthy
            store_ok = False
        parts = {}
        meter = getattr(self.hardware, "meter", None)
        if meter is not None:
            parts["meter"] = {"kind": meter.settings.kind, "failing": sorted(meter.failing)}
        ok = store_ok and not any(p["failing"] for p in parts.values())
        return {"ok": ok, "store": store_ok, "csms": self.station.connected, "hardware": parts}

    def stop(self) -> None:
        if self._stop.is_set():
            self._hurry.set()  # a second signal: stop waiting for the CSMS
            return
        log.info("stopping")
        self._stop.set()

    async def _end_transactions(self) -> None:
        """A graceful stop ends open transactions the way the spec names a locally initiated reset ([SPEC] §7.36
        Reason ``Reboot``), with the meter's value and time now, instead of
        leaving them for the next start to stop as PowerLoss with older values. Then the transaction queue
        gets ``stop_grace`` seconds to reach the CSMS; what is left stays queued in the store."""
        now = self.now()
        txs = self.station.feature["Transactions"]
        if any(c.tx is not None for c in txs.cond.values()):
            log.info("stopping: ending the open transactions (reason Reboot)")
            self.station.feature["Reset"].stop_all("Reboot", now)
            self.station.pump(now)
            self.flush()
        if await self._drain(self.settings.stop_grace):
            return
        left = len(self.station.tx_queue)
        log.warning("stopping with %d transaction message(s) queued: they go out after the next start", left)

    async def _drain(self, seconds: float) -> bool:
        """Wait up to ``seconds`` while the link is up for the transaction queue to be delivered (and the
        frames handed to the writer to be written); True when it was."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        reset = self.station.feature["Reset"]
        while not reset.drained() and self.station.connected and not self._hurry.is_set():
            left = end - loop.time()
            if left <= 0:
                break
            self._progress.clear()
            self._wake.set()
            hurry = asyncio.ensure_future(self._hurry.wait())
            try:
                await asyncio.wait([hurry, asyncio.ensure_future(self._progress.wait())], timeout=left,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                hurry.cancel()
        if self._outq is not None:
            try:
                async with asyncio.timeout(1.0):
                    await self._outq.join()
            except TimeoutError:
                pass
        return reset.drained()

    async def _timer_loop(self) -> None:
        while True:
            deadline = self.station.get_timer()
            self._wake.clear()
            if deadline is None:
                await self._wake.wait()
                continue
            delay = deadline - self.now()
            if delay > 0:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that arrives
                # just as the wake-up fires (a stop right after a flush), and the loop would never end
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                    continue
                except TimeoutError:
                    pass
            self.station.handle_timer(self.now())
            self.flush()

    async def open_control(self) -> None:
        """Bind the control API's address (if one is configured) and start serving it.

        Raises :class:`ControlListenError` when the address cannot be bound (e.g. in use by another
        program), before anything is printed or sent. Idempotent; :meth:`run` calls it first."""
        listen = self.settings.control_listen
        if listen is None or self._control_runner is not None:
            return
        from ..control.api import start_control

        try:
            self._control_runner = await start_control(self, listen)
        except OSError as exc:
            raise ControlListenError(listen, exc) from exc

    @property
    def control_address(self) -> tuple[str, int] | None:
        """Where the control API listens: the bound address (the real port when port 0 was asked), None
        when it is not serving."""
        runner = self._control_runner
        if runner is None or not runner.addresses:
            return None
        host, port = runner.addresses[0][:2]
        return host, port

    async def _close_control(self) -> None:
        runner, self._control_runner = self._control_runner, None
        if runner is not None:
            await runner.cleanup()

    def _tls(self) -> Any:
        """The TLS context of a wss:// link; None for ws://.

        Security profiles 2 and 3: trust only the installed CentralSystemRootCertificates, TLS ≥ 1.2 and the
        cipher suites of [SEC] A00.FR.318, no compression; profile 3 presents the station's certificate
        (made anew each attempt: the credentials may have changed). Otherwise the CAs of ``[station] ca_file``
        when set, else the system's trust store (websockets' default)."""
        if not self.url.startswith("wss://"):
            return None
        sec = self.security
        link = sec.link() if sec is not None else None
        if link is not None and link["tls"]:
            from ..features.security.profiles import CIPHERS

            # without an installed root nothing is trusted (the handshake fails: InvalidCentralSystemCertificate)
            ctx = ssl.create_default_context(cadata=link["ca_pem"]) if link["ca_pem"] else ssl.SSLContext(
                ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # [SEC] A00.FR.315
            ctx.set_ciphers(CIPHERS)
            ctx.options |= ssl.OP_NO_COMPRESSION  # [SEC] A00.FR.320
            if link["client_cert"] is not None:
                ctx.load_cert_chain(str(link["client_cert"]), str(link["client_key"]))  # [SEC] A00.FR.401
            return ctx
        if self._ssl_context is None:
            ca = getattr(self.settings, "ca_file", None)
            self._ssl_context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
        return self._ssl_context

    def _headers(self) -> dict[str, str]:
        sec = self.security
        if sec is not None and not sec.basic_auth:
            return {}  # profiles 0 and 3 send no Basic header ([SEC] §2.2, §2.4)
        key = self.station.config.text("AuthorizationKey")
        if not key:
            return {}
        from ..features.security.profiles import basic_auth_header

        # [OCPPJ] §6.2.2, [SEC] A00.FR.202: Basic auth, user = identity, password = the key's bytes (raw) or its hex
        return {"Authorization": basic_auth_header(self.settings.station.identity, key,
                                                   self.settings.basic_auth_password_encoding)}

    def _connect_failed(self, exc: BaseException, detail: str) -> None:
        """Tell the station an attempt failed (security events, the fallback of new credentials)."""
        if self.security is None or self._link_cut:
            return
        self.station.handle_event(ConnectFailed(failure_cause(exc), detail[:200]), self.now())
        self.flush()

    async def _connection_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            await self.network_up.wait()
            if self._reboot_requested:
                await self._reboot()
            connected = False
            try:
                ssl_context = self._tls()
                async with connect(
                    self.url,
                    subprotocols=["ocpp1.6"],
                    additional_headers=self._headers(),
                    ping_interval=self._ping_interval or None,
                    ping_timeout=self._ping_interval or None,
                    max_size=max(4 * self.settings.station.max_frame_bytes, 1 << 20),
                    ssl=ssl_context,
                    open_timeout=OPEN_TIMEOUT,
                    close_timeout=2,
                ) as ws:
                    if ws.subprotocol != "ocpp1.6":
                        # [OCPPJ] §3.1: without the subprotocol the CSMS did not accept us
                        log.error("CSMS did not accept subprotocol ocpp1.6")
                        raise ConnectionError("subprotocol ocpp1.6 not accepted")
                    if not self.network_up.is_set():
                        continue  # the network went down during the handshake: nothing is sent on it
                    # a CSMS that takes the connection and drops it at once must not be hammered: the
                    # back-off restarts only once the CSMS has answered on this link
                    connected = await self._serve(ws)
                    if connected:
                        failures = 0
            except InvalidStatus as exc:
                status = exc.response.status_code
                hint = " (check station.identity and ocpp.AuthorizationKey)" if status in (401, 403) else ""
                log.warning("CSMS at %s refused the connection: HTTP %s%s", self.url, status, hint)  # [JERRATA] 3.4
                self._connect_failed(exc, f"HTTP {status}")
            except (OSError, WebSocketException, TimeoutError, ConnectionError, ValueError) as exc:
                # ValueError: a URL or redirect websockets cannot use (UnicodeError for a bad host name)
                if self._link_cut:
                    log.info("link to %s cut (%s)", self.url, self._link_cut)
                else:
                    text = connect_failure(exc, OPEN_TIMEOUT)
                    log.warning("connection to %s failed: %s", self.url, text)
                    self._connect_failed(exc, text)
            self._link_cut = ""
            if self._reboot_requested:
                continue
            if not connected:
                failures += 1
            if self._stop.is_set():
                return
            await self._backoff(failures)

    async def _backoff(self, failures: int) -> None:
        delay = reconnect_delay(failures, self.settings.reconnect_min, self.settings.reconnect_max, self.rng.random())
        log.info("reconnecting in %.1f s", delay)
        try:
            async with asyncio.timeout(delay):
                await self._stop.wait()
        except TimeoutError:
            pass

    async def _serve(self, ws: Any) -> bool:
        """Run the station on this link until it goes; True if the CSMS sent anything on it."""
        answered = False
        self._ws = ws
        self._outq = asyncio.Queue()
        station = self.station  # a power cut (_power_back) replaces it while this link dies
        log.info("connected to %s", self.url)
        station.connection_made(self.now())
        self.flush()
        writer = asyncio.create_task(self._writer(ws, self._outq))
        try:
            async for message in self._messages(ws):
                if self.station is not station:
                    break  # the power went: frames still buffered on the dead link are lost
                answered = True
                now = self.now()
                self.session_log.frame(self.frames.add("in", message, now))
                station.receive(message, now)
                self.flush()
                if not self.network_up.is_set():
                    break
        finally:
            if self._ws is ws:
                self._ws = None
                self._outq = None
            writer.cancel()
            try:
                await writer
            except (asyncio.CancelledError, ConnectionClosed):
                pass
            if self.station is station:
                station.connection_lost(self.now())
                self.flush()
            how = f"cut on purpose ({self._link_cut}), no close frame" if self._link_cut else close_description(ws)
            log.info("disconnected from %s: %s", self.url, how)
        return answered

    @staticmethod
    async def _messages(ws: Any) -> Any:
        """The link's messages until it ends, however it ends (the end is logged by :meth:`_serve`)."""
        try:
            async for message in ws:
                yield message
        except ConnectionClosed:
            return

    async def _writer(self, ws: Any, q: asyncio.Queue[str]) -> None:
        while True:
            frame = await q.get()
            try:
                await ws.send(frame)
            finally:
                q.task_done()

    async def _reboot(self) -> None:
        kind, self._reboot_requested = self._reboot_requested, None
        log.info("%s reset: restarting the station", kind)
        self.files.cancel()  # the new boot asks again for what its store says is still to do
        for cid in self.hardware.connectors:
            self.hardware.set_relay(cid, False, self.now())  # a restart opens every contactor
        self.station = self._new_station()  # same store: what persists is what the store holds
        self.boots += 1
        self.station.start(self.now())
        self.flush()

    # -- simulated network and power (control API) -------------------------------------

    def network_disconnect(self, mode: str = "drop") -> None:
        """The simulated link goes down. ``"drop"``: as a pulled cable or a dead modem, the socket goes
        without a closing handshake (the CSMS sees an abnormal closure, 1006); ``"close"``: the station
        closes the websocket properly (code 1000)."""
        self.network_up.clear()
        if mode == "close":
            self._drop_connection()
            return
        ws = self._ws
        if ws is not None:
            self._link_cut = "network down"
            ws.transport.abort()  # no close frame: the reader loop ends, the link is lost

    def network_connect(self) -> None:
        self.network_up.set()

    def power_cut(self, backup_power: bool = False) -> None:
        """Power fails: the process ends at once, as kill -9 would end it (with ``power_cut_restarts``:
        the station restarts in the process on its store instead, see :meth:`_power_back`).

        With backup power the station first stops its transactions with reason PowerLoss (TC_032_1)
        and gives their StopTransaction a few seconds to reach the CSMS."""
        log.warning("power cut%s", " (backup power)" if backup_power else "")
        if not backup_power:
            self._power_off()
            return
        now = self.now()
        self.station.feature["Reset"].stop_all("PowerLoss", now)
        self.station.pump(now)
        self.flush()

        async def die() -> None:
            await self._drain(5.0)  # backup power: until the queue drains or time is up
            self._power_off()

        task = asyncio.get_running_loop().create_task(die())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def _power_off(self) -> None:
        if not self.power_cut_restarts:
            os.kill(os.getpid(), signal.SIGKILL)
            return
        self._power_back()

    def _power_back(self) -> None:
        """The power comes back at once: the link is gone without a closing handshake and a new Station
        boots on the same store, as after a restart of the process. What it held only in memory is lost;
        a transaction still open in the store is stopped with reason PowerLoss at this boot ([SPEC] §4.10,
        TC_032_2), then BootNotification goes out on the next connection."""
        ws = self._ws
        self._ws = None
        self._outq = None  # nothing more goes out on the dead link
        self._reboot_requested = None
        if ws is not None:
            self._link_cut = "power cut"
            ws.transport.abort()  # the reader loop ends; the connection loop reconnects after its back-off
        self.files.cancel()  # transfers die with the power
        for cid in self.hardware.connectors:
            self.hardware.set_relay(cid, False, self.now())  # no power, every contactor opens
        self.station = self._new_station()  # same store: what persists is what the store holds
        self.boots += 1
        self.station.start(self.now())
        self.flush()


class _Stopping(Exception):
    pass


class ControlListenError(Exception):
    """The control API's address could not be bound (in use, not local, not permitted)."""

    def __init__(self, listen: tuple[str, int], error: OSError) -> None:
        host = f"[{listen[0]}]" if ":" in listen[0] else listen[0]
        self.address = f"{host}:{listen[1]}"
        self.error = error
        if error.errno == errno.EADDRINUSE:
            text = f"address {self.address} is in use"
        else:
            text = f"cannot listen on {self.address}: {error.strerror or error}"
        super().__init__(text)

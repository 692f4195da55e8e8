"""``ocpp-station fleet --control HOST:PORT``: every station's control API under ``/api/stations/{identity}/``.

The routes are the single station's (:func:`ocpp_station.control.api.build_routes`) with a resolver
that looks the identity up in the worker; :class:`StationControl` gives a :class:`~.sim.FleetStation`
the attributes those routes use on a ``StationRuntime`` (``settings.station``, ``hardware``,
``feed``, ``now``, ``station``, ``network_up``, ``network_disconnect``/``connect``, ``power_cut``,
``frames``). ``GET /api/stations`` lists the identities with a one-line summary each.

A power cut in a fleet never kills the process: the station's connection drops and the station is
rebuilt on its same MemoryStore, as after a power loss (its open transactions are stopped with
reason PowerLoss at that boot).
"""

from __future__ import annotations

import logging
import socket
from types import SimpleNamespace
from typing import Any

import orjson
from aiohttp import web

from ..control.api import _errors, build_routes
from ..control.validation import BodyError
from ..core.events import Event
from ..core.station import Registration

log = logging.getLogger(__name__)


class _Link:
    """``network_up`` of a runtime: only ``is_set()`` is read."""

    __slots__ = ("fs",)

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def is_set(self) -> bool:
        return not self.fs.unplugged


class StationControl:
    """A FleetStation seen through the runtime interface the control routes use."""

    __slots__ = ("fs", "settings", "network_up", "__weakref__")

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        self.settings = SimpleNamespace(station=fs.settings)
        self.network_up = _Link(fs)

    @property
    def hardware(self) -> Any:
        return self.fs.hardware

    @property
    def station(self) -> Any:
        return self.fs.station

    @property
    def frames(self) -> Any:
        return self.fs.frames

    def now(self) -> float:
        return self.fs.worker.clock()

    def feed(self, events: list[Event]) -> None:
        self.fs.feed(events, self.now())

    def network_disconnect(self, mode: str = "drop") -> None:
        self.fs.network_disconnect(mode)

    def network_connect(self) -> None:
        self.fs.network_connect()

    def power_cut(self, backup_power: bool = False) -> None:
        self.fs.power_cut(backup_power)


def control_of(fs: Any) -> StationControl:
    if fs._control is None:
        fs._control = StationControl(fs)
    return fs._control


def summary(fs: Any) -> dict[str, Any]:
    st = fs.station
    return {
        "identity": fs.identity,
        "registration": st.registration,
        "connected": st.connected,
        "status": [c.status.value for c in st.connectors],  # connector 0 (the charge point) first
        "openTransactions": fs.open_transactions(),
        "queuedTransactionMessages": len(st.tx_queue),
    }


def make_fleet_app(worker: Any) -> web.Application:
    def resolve(request: web.Request) -> StationControl:
        identity = request.match_info["identity"]
        fs = worker.by_identity.get(identity)
        if fs is None:
            raise BodyError(404, "identity", f"unknown station {identity[:100]!r}")
        return control_of(fs)

    async def stations(request: web.Request) -> web.Response:
        docs = [summary(fs) for fs in worker.stations]
        accepted = sum(1 for d in docs if d["registration"] == Registration.ACCEPTED)
        connected = sum(1 for d in docs if d["connected"])
        body = {"count": len(docs), "connected": connected, "accepted": accepted, "stations": docs}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    app.add_routes([web.get("/api/stations", stations)])
    app.add_routes(build_routes(resolve, "/api/stations/{identity}"))
    return app


def bind_control(listen: tuple[str, int]) -> socket.socket:
    """Bind the control API's address now, before the fleet starts anything: an address in use is one
    error line (:class:`ControlListenError`), not a traceback halfway through the ramp-up."""
    from ..runtime.app import ControlListenError

    family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
    try:
        return socket.create_server(listen, family=family)
    except OSError as exc:
        raise ControlListenError(listen, exc) from None


async def start_control(worker: Any, listen: tuple[str, int],
                        sock: socket.socket | None = None) -> tuple[web.AppRunner, str]:
    """Start serving (on ``sock`` if :func:`bind_control` bound it already); returns the runner
    (``await runner.cleanup()`` to stop) and the base URL."""
    runner = web.AppRunner(make_fleet_app(worker), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, listen[0], listen[1])
    await site.start()
    host, port = listen[0], listen[1]
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    host_text = f"[{host}]" if ":" in host else host
    return runner, f"http://{host_text}:{port}/api/stations"

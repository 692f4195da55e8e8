"""The control API (docs/control-api.md) on aiohttp.

aiohttp was chosen over Starlette/uvicorn because it runs inside the
runtime's own event loop through ``AppRunner`` (no server owning the loop or
the signal handlers), serves the HMI's live updates (SSE) with no extra
dependency, and starts in a few milliseconds — which matters when a fleet
exposes thousands of stations under ``/api/stations/{identity}/``.

Every call returns at once: 200 with the station document (``GET /api/state``),
404 for an unknown connector or station, 400 for a body that is not a JSON
object, 422 naming the field that is wrong, 409 for an action this station's
hardware cannot do, 413 for an oversize body. docs/control-api.md is the reference.

The HMI (``GET /``, static files under ``/hmi/``) is one page driving these
same endpoints; it follows the station through ``GET /api/events``, a stream
of Server-Sent Events (``state`` documents and ``frame`` records) fed by an
:class:`EventHub` that exists only while someone is watching.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from importlib import resources
from typing import Any, Callable

import orjson
from aiohttp import web

from ..core.events import CardPresented
from .validation import MAX_BODY, BodyError, check_fault_code, read_body, require

log = logging.getLogger(__name__)

Resolver = Callable[[web.Request], Any]  # request -> StationRuntime (raises HTTPNotFound)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _connector(rt: Any, request: web.Request) -> int:
    text = request.match_info["cid"]
    n = rt.settings.station.connectors
    # ASCII digits only: "²".isdigit() is true but int() refuses it, and int() refuses > 4300 digits
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not 1 <= int(text) <= n:
        raise BodyError(404, "connectorId", f"unknown connector {text[:40]!r}; this station has connectors 1..{n}")
    return int(text)


def state_of(rt: Any) -> dict[str, Any]:
    """``GET /api/state``: the Station's document plus the simulated hardware's view of each connector.

    ``energyWh`` is the meter's register (what MeterValues report as Energy.Active.Import.Register);
    ``sessionEnergyWh`` the energy of the transaction in progress (the register less its meterStart),
    null with no transaction. ``fixedCable``: the cable is attached to the station (no station-side
    plug-out)."""
    now = rt.now()
    doc = rt.station.state(now)
    tx_feature = rt.station.feature.get("Transactions")
    for entry in doc["connectors"]:
        cid = entry["connectorId"]
        if cid in rt.hardware.connectors:
            hw = rt.hardware.snapshot(cid, now)
            entry["energyWh"] = hw["energyWh"]
            cond = tx_feature.cond.get(cid) if tx_feature is not None else None
            tx = cond.tx if cond is not None else None
            entry["sessionEnergyWh"] = None if tx is None else round(max(0.0, hw["energyWh"] - tx.meter_start), 3)
            entry["powerW"] = hw["powerW"]
            entry["hardware"] = hw
    doc["network"] = "up" if rt.network_up.is_set() else "down"
    doc["fixedCable"] = bool(rt.settings.station.fixed_cable)
    fw, files = doc.get("firmware"), getattr(rt, "files", None)
    if fw is not None and files is not None and fw.get("job") in files.progress:
        progress = files.progress[fw["job"]]  # a download under way (runtime/filejobs.py)
        fw["downloadedBytes"], fw["totalBytes"] = progress["bytes"], progress["total"]
    return doc


def build_routes(resolve: Resolver, prefix: str = "/api") -> list[web.RouteDef]:
    def endpoint(fn):
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                if request.content_length is not None and request.content_length > MAX_BODY:
                    # also for the endpoints that take no body (state, frames, clear fault)
                    raise BodyError(413, None, f"body of {request.content_length} bytes exceeds {MAX_BODY}")
                rt = resolve(request)
                result = await fn(rt, request)
                if request.method != "GET":
                    changed(rt)  # the HMI's event stream pushes a fresh state document
                return result if isinstance(result, web.StreamResponse) else _json(state_of(rt))
            except BodyError as exc:
                return exc.response()

        return handler

    async def get_state(rt, request):
        return None

    async def plug_in(rt, request):
        cid = _connector(rt, request)
        await read_body(request, {})
        rt.feed(rt.hardware.plug_in(cid, rt.now()))

    async def plug_out(rt, request):
        cid = _connector(rt, request)
        body = await read_body(request, {"side": (str,)})
        side = body.get("side", "both")
        if side not in ("ev", "station", "both"):
            raise BodyError(422, "side", f'side must be "ev", "station" or "both", got {side!r}')
        rt.feed(rt.hardware.plug_out(cid, side, rt.now()))

    async def id_tag(rt, request):
        body = await read_body(request, {"idTag": (str,), "connectorId": (int, type(None))})
        tag = require(body, "idTag")
        if not 1 <= len(tag) <= 20:
            raise BodyError(422, "idTag", "idTag must be 1 to 20 characters (IdToken, CiString20)")
        cid = body.get("connectorId")
        if cid is not None and not 1 <= cid <= rt.settings.station.connectors:
            raise BodyError(404, "connectorId", f"unknown connector {cid}")
        rt.feed([CardPresented(tag, cid)])

    async def ev(rt, request):
        cid = _connector(rt, request)
        body = await read_body(request, {"state": (str,), "powerW": (int, float)})
        state = require(body, "state")
        if state not in ("charging", "suspended"):
            raise BodyError(422, "state", f'state must be "charging" or "suspended", got {state!r}')
        power = body.get("powerW")
        if power is not None and not 0 <= power <= 1_000_000:
            raise BodyError(422, "powerW", "powerW must be between 0 and 1000000")
        rt.feed(rt.hardware.set_ev(cid, state == "charging", power, rt.now()))

    async def fault(rt, request):
        cid = _connector(rt, request)
        body = await read_body(request, {"errorCode": (str,), "info": (str,), "vendorErrorCode": (str,)})
        code = require(body, "errorCode")
        check_fault_code(code)
        info = body.get("info")
        if info is not None and len(info) > 50:
            raise BodyError(422, "info", "info must be at most 50 characters")
        rt.feed(rt.hardware.fault(cid, code, info, rt.now()))

    async def clear_fault(rt, request):
        cid = _connector(rt, request)
        rt.feed(rt.hardware.clear_fault(cid, rt.now()))

    async def lock(rt, request):
        cid = _connector(rt, request)
        body = await read_body(request, {"failLock": (bool,), "failUnlock": (bool,)})
        st = rt.settings.station
        if st.fixed_cable or not st.connector_lock:
            why = ("hardware.fixed_cable = true: the cable is attached to the station, there is no socket to lock"
                   if st.fixed_cable else "hardware.connector_lock = false")
            raise BodyError(409, None, f"this station has no connector lock ({why})")
        hw = rt.hardware.connectors[cid]
        rt.hardware.set_lock_failures(cid, body.get("failLock", hw.fail_lock), body.get("failUnlock", hw.fail_unlock))

    async def net_down(rt, request):
        body = await read_body(request, {"mode": (str,)})
        mode = body.get("mode", "drop")
        if mode not in ("drop", "close"):
            raise BodyError(422, "mode", f'mode must be "drop" (the link is lost, no close frame) or "close" '
                            f"(a websocket close, code 1000), got {mode!r}"[:200])
        rt.network_disconnect(mode)

    async def net_up(rt, request):
        await read_body(request, {})
        rt.network_connect()

    async def power_cut(rt, request):
        body = await read_body(request, {"backupPower": (bool,)})
        # the answer (the state document, as for every action) goes out before the power goes
        asyncio.get_running_loop().call_soon(rt.power_cut, body.get("backupPower", False))

    async def frames(rt, request):
        since = request.query.get("since", "0")
        if not (since.isascii() and since.isdigit()) or len(since) > 18:
            raise BodyError(422, "since", "since must be a non-negative integer (at most 18 digits)")
        recs = [r.as_dict() for r in rt.frames.records if r.seq > int(since)]
        return _json({"frames": recs})

    def _local_list(rt):
        lst = rt.station.feature.get("LocalAuthList")
        if lst is None:
            raise BodyError(404, None, "this station does not have the LocalAuthListManagement profile ([station] profiles)")
        return lst

    async def local_list(rt, request):
        return _json(_local_list(rt).listing())

    async def local_list_fail_next(rt, request):
        await read_body(request, {})
        _local_list(rt).fail_next_update = True  # TC_043_3: the tester forces the next update to fail storing

    async def health(rt, request):
        doc = rt.health() if hasattr(rt, "health") else {"ok": True}
        return _json(doc, 200 if doc["ok"] else 503)

    p = prefix
    return [
        web.get(f"{p}/state", endpoint(get_state)),
        web.get(f"{p}/health", endpoint(health)),
        web.post(f"{p}/connectors/{{cid}}/plug-in", endpoint(plug_in)),
        web.post(f"{p}/connectors/{{cid}}/plug-out", endpoint(plug_out)),
        web.post(f"{p}/id-tag", endpoint(id_tag)),
        web.post(f"{p}/connectors/{{cid}}/ev", endpoint(ev)),
        web.post(f"{p}/connectors/{{cid}}/fault", endpoint(fault)),
        web.delete(f"{p}/connectors/{{cid}}/fault", endpoint(clear_fault)),
        web.post(f"{p}/connectors/{{cid}}/lock", endpoint(lock)),
        web.post(f"{p}/network/disconnect", endpoint(net_down)),
        web.post(f"{p}/network/connect", endpoint(net_up)),
        web.post(f"{p}/power-cut", endpoint(power_cut)),
        web.get(f"{p}/frames", endpoint(frames)),
        web.get(f"{p}/local-list", endpoint(local_list)),
        web.post(f"{p}/local-list/fail-next", endpoint(local_list_fail_next)),
    ]


# -- live updates for the HMI: Server-Sent Events ---------------------------------------------

STATE_MIN_INTERVAL = 0.1  # s; state pushes are coalesced to at most one per interval
TICK = 1.0  # s; while someone watches, the state is re-read this often and pushed when it changed
KEEPALIVE = 15.0  # s; an SSE comment line keeps proxies from closing an idle stream
BACKLOG = 200  # frames sent to a client that connects without Last-Event-ID
CLIENT_QUEUE = 2000  # events buffered per client; a client that falls further behind is dropped (it reconnects)


def _sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _volatile_free(doc: dict[str, Any]) -> bytes:
    """The state document without the fields that change by themselves every second."""
    return orjson.dumps({k: v for k, v in doc.items() if k not in ("time", "nextBootNotificationIn")})


class EventHub:
    """Fan-out of one station's frames and state to the connected HMI pages.

    Cheap when nobody watches: the FrameLog listener and the 1 s ticker exist only while at least
    one client is connected. Frames are pushed as they are logged; state documents are coalesced
    (at most one per ``STATE_MIN_INTERVAL``) after a frame or a control action, and the ticker pushes
    one whenever the document changed by itself (energy while charging, connection lost...).
    """

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.clients: set[asyncio.Queue[bytes | None]] = set()
        self._state_timer: asyncio.TimerHandle | None = None  # a coalesced state push is scheduled
        self._last_push = 0.0  # loop time of the last state push
        self._last_doc = b""  # what the last push said (without the volatile fields)
        self._ticker: asyncio.Task | None = None

    def attach(self) -> asyncio.Queue[bytes | None]:
        q: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE)
        if not self.clients:
            self.rt.frames.listeners.append(self._on_frame)
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="hmi-events")
        self.clients.add(q)
        return q

    def detach(self, q: asyncio.Queue[bytes | None]) -> None:
        if q not in self.clients:
            return
        self.clients.discard(q)
        if self.clients:
            return
        try:
            self.rt.frames.listeners.remove(self._on_frame)
        except ValueError:
            pass
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._state_timer is not None:
            self._state_timer.cancel()
            self._state_timer = None

    def close_all(self) -> None:
        """End every stream (the server is shutting down)."""
        for q in list(self.clients):
            while not q.empty():
                q.get_nowait()
            q.put_nowait(None)
            self.detach(q)

    def state_event(self) -> bytes:
        doc = state_of(self.rt)
        self._last_doc = _volatile_free(doc)
        return _sse("state", doc)

    def _broadcast(self, data: bytes) -> None:
        for q in list(self.clients):
            try:
                q.put_nowait(data)
            except asyncio.QueueFull:  # a stalled client: end its stream, the browser reconnects
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(None)
                self.detach(q)

    def _on_frame(self, rec: Any) -> None:
        self._broadcast(_sse("frame", rec.as_dict(), rec.seq))
        self.changed()

    def changed(self) -> None:
        """Something changed: push a state document soon (coalesced)."""
        if not self.clients or self._state_timer is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_push + STATE_MIN_INTERVAL - loop.time())
        self._state_timer = loop.call_later(delay, self._push_state)

    def _push_state(self) -> None:
        self._state_timer = None
        if not self.clients:
            return
        self._last_push = asyncio.get_running_loop().time()
        try:
            self._broadcast(self.state_event())
        except Exception:  # never let a state document break the station's loop
            log.exception("HMI state push failed")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                if _volatile_free(state_of(self.rt)) != self._last_doc:
                    self.changed()
            except Exception:
                log.exception("HMI state check failed")


_hubs: "weakref.WeakKeyDictionary[Any, EventHub]" = weakref.WeakKeyDictionary()


def hub_of(rt: Any) -> EventHub:
    hub = _hubs.get(rt)
    if hub is None:
        hub = _hubs[rt] = EventHub(rt)
    return hub


def changed(rt: Any) -> None:
    """A control action changed the station: tell the watching pages (no-op when nobody watches)."""
    hub = _hubs.get(rt)
    if hub is not None:
        hub.changed()


def build_event_routes(resolve: Resolver, prefix: str = "/api") -> list[web.RouteDef]:
    """``GET {prefix}/events``: the HMI's live stream (kept apart from :func:`build_routes`, whose
    endpoints all answer at once)."""

    async def events(request: web.Request) -> web.StreamResponse:
        rt = resolve(request)
        hub = hub_of(rt)
        last = request.headers.get("Last-Event-ID", "")
        since = int(last) if last.isascii() and last.isdigit() and len(last) <= 18 else None
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })
        await resp.prepare(request)
        # state, backlog and subscription in one step of the loop: no frame missed, none twice
        records = list(rt.frames.records)
        if since is not None and (not records or since > records[-1].seq):
            since = None  # a new process (restart after a power cut): its frames from the start
        backlog = [r for r in records if r.seq > since] if since is not None else records[-BACKLOG:]
        first = [b"retry: 1000\n\n", hub.state_event()]
        first += [_sse("frame", r.as_dict(), r.seq) for r in backlog]
        q = hub.attach()
        loop = asyncio.get_running_loop()
        try:
            await resp.write(b"".join(first))
            quiet_since = loop.time()
            while True:
                try:
                    async with asyncio.timeout(TICK):
                        item = await q.get()
                except TimeoutError:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        break  # the page went away
                    if loop.time() - quiet_since < KEEPALIVE:
                        continue
                    item = b": keepalive\n\n"
                stop = item is None
                chunks = [] if stop else [item]
                while not stop and not q.empty() and len(chunks) < 200:
                    nxt = q.get_nowait()
                    stop = nxt is None
                    if not stop:
                        chunks.append(nxt)
                if chunks:
                    await resp.write(b"".join(chunks))
                    quiet_since = loop.time()
                if stop:
                    break
        except ConnectionError:  # the page went away mid-write
            pass
        finally:
            hub.detach(q)
        return resp

    return [web.get(f"{prefix}/events", events)]


# -- the HMI page ---------------------------------------------------------------------------

_HMI_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png",
              ".svg": "image/svg+xml", ".ico": "image/x-icon"}


def _hmi_file(name: str) -> web.Response:
    suffix = name[name.rfind("."):] if "." in name else ""
    if suffix not in _HMI_TYPES or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise web.HTTPNotFound()
    res = resources.files(__package__).joinpath("hmi", name)
    if not res.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=res.read_bytes(), content_type=_HMI_TYPES[suffix],
                        charset="utf-8" if suffix in (".html", ".js", ".css", ".svg") else None,
                        headers={"Cache-Control": "no-cache"})


def build_hmi_routes() -> list[web.RouteDef]:
    async def index(request: web.Request) -> web.Response:
        return _hmi_file("index.html")

    async def static(request: web.Request) -> web.Response:
        return _hmi_file(request.match_info["file"])

    return [web.get("/", index), web.get("/hmi/{file}", static)]


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api"):
            return _json({"error": exc.reason}, status=exc.status)
        raise
    except Exception:
        log.exception("control API %s %s failed", request.method, request.path)
        return _json({"error": "internal error"}, status=500)


def make_app(rt: Any) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    app.add_routes(build_routes(lambda _req: rt))
    app.add_routes(build_event_routes(lambda _req: rt))
    app.add_routes(build_hmi_routes())

    async def end_streams(_app: web.Application) -> None:
        hub = _hubs.get(rt)
        if hub is not None:
            hub.close_all()  # else the runner would wait for the open event streams

    app.on_shutdown.append(end_streams)
    return app


async def start_control(rt: Any, listen: tuple[str, int]) -> web.AppRunner:
    """Bind ``listen`` and serve the control API and the HMI on it; ``await runner.cleanup()`` stops.

    Raises OSError (e.g. EADDRINUSE) when the address cannot be bound, with nothing left open."""
    runner = web.AppRunner(make_app(rt), access_log=None, handle_signals=False, shutdown_timeout=3.0)
    await runner.setup()
    site = web.TCPSite(runner, listen[0], listen[1])
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2] if runner.addresses else listen  # the real port when port 0 was asked
    host = f"[{host}]" if ":" in host else host
    log.info("control API on http://%s:%s/ (HMI page: http://%s:%s/)", host, port, host, port)
    return runner

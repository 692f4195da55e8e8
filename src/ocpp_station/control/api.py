"""The control API of INTERFACE.md on aiohttp.

aiohttp was chosen over Starlette/uvicorn because it runs inside the
runtime's own event loop through ``AppRunner`` (no server owning the loop or
the signal handlers), serves the HMI's live updates (SSE) with no extra
dependency, and starts in a few milliseconds — which matters when a fleet
exposes thousands of stations under ``/api/stations/{identity}/``.

Every call returns at once: 200 with the station document (``GET /api/state``),
404 for an unknown connector or station, 400 for a body that is not a JSON
object, 422 naming the field that is wrong, 413 for an oversize body.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Any, Callable

import orjson
from aiohttp import web

from ..core.events import CardPresented
from .validation import ERROR_CODES, BodyError, read_body, require

log = logging.getLogger(__name__)

Resolver = Callable[[web.Request], Any]  # request -> StationRuntime (raises HTTPNotFound)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _connector(rt: Any, request: web.Request) -> int:
    text = request.match_info["cid"]
    n = rt.settings.station.connectors
    if not text.isdigit() or not 1 <= int(text) <= n:
        raise BodyError(404, "connectorId", f"unknown connector {text!r}; this station has connectors 1..{n}")
    return int(text)


def state_of(rt: Any) -> dict[str, Any]:
    now = rt.now()
    doc = rt.station.state(now)
    for entry in doc["connectors"]:
        cid = entry["connectorId"]
        if cid in rt.hardware.connectors:
            hw = rt.hardware.snapshot(cid, now)
            entry["energyWh"] = hw["energyWh"]
            entry["powerW"] = hw["powerW"]
            entry["hardware"] = hw
    doc["network"] = "up" if rt.network_up.is_set() else "down"
    return doc


def build_routes(resolve: Resolver, prefix: str = "/api") -> list[web.RouteDef]:
    def endpoint(fn):
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                rt = resolve(request)
                result = await fn(rt, request)
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
        if code not in ERROR_CODES or code == "NoError":
            raise BodyError(422, "errorCode", f"errorCode must be a ChargePointErrorCode other than NoError, got {code!r}")
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
        hw = rt.hardware.connectors[cid]
        rt.hardware.set_lock_failures(cid, body.get("failLock", hw.fail_lock), body.get("failUnlock", hw.fail_unlock))

    async def net_down(rt, request):
        await read_body(request, {})
        rt.network_disconnect()

    async def net_up(rt, request):
        await read_body(request, {})
        rt.network_connect()

    async def power_cut(rt, request):
        body = await read_body(request, {"backupPower": (bool,)})
        asyncio.get_running_loop().call_soon(rt.power_cut, body.get("backupPower", False))
        return _json({"powerCut": True, "backupPower": body.get("backupPower", False)})

    async def frames(rt, request):
        since = request.query.get("since", "0")
        if not since.isdigit():
            raise BodyError(422, "since", "since must be a non-negative integer")
        recs = [r.as_dict() for r in rt.frames.records if r.seq > int(since)]
        return _json({"frames": recs})

    p = prefix
    return [
        web.get(f"{p}/state", endpoint(get_state)),
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
    ]


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
    return app


async def serve_control(rt: Any, listen: tuple[str, int]) -> None:
    """Serve the control API until cancelled."""
    runner = web.AppRunner(make_app(rt), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, listen[0], listen[1])
    await site.start()
    log.info("control API on http://%s:%s/", listen[0], listen[1])
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

"""The operator API of the development CSMS: drive the CSMS side of a test over HTTP.

``ocpp-station csms`` serves it on ``--operator-listen`` (docs/dev-csms.md has every endpoint with
examples). All answers are JSON; an error is ``{"error": ..., "field": ...}`` with a 4xx/5xx status:

=================================  ==========================================================
GET  /api/stations                 stations seen so far: connected, boot, registration, last seen,
                                   open transactions
GET  /api/stations/{id}            one of them
POST /api/stations/{id}/call       send any CSMS-initiated OCPP 1.6 action, answer the station's reply
POST /api/stations/{id}/signed-update-firmware
                                   sign a file of the file server, send SignedUpdateFirmware for it
GET  /api/firmware-signing         the manufacturer root and signing certificate (made on first use)
PUT  /api/firmware-signing         give the signing certificate, its key and its root (PEM)
GET  /api/stations/{id}/messages   the recent frames of that station (``?since=&limit=&action=&wait=``)
GET  /api/policy                   the answer policy (boot status/interval, idTag results)
PUT  /api/policy                   change it
PUT  /api/policy/id-tags/{idTag}   the idTagInfo of one idTag
DELETE /api/policy/id-tags/{idTag} back to the default idTagInfo
GET  /api/status                   the CSMS's own cost: CPU, memory, CALLs, garbage-collector pauses
=================================  ==========================================================

It runs in the CSMS's event loop through aiohttp's ``AppRunner`` like the station's control API.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from ..ocpp import actions, validation
from ..ocpp.rpc import OcppError
from .errors import RequestError, schema_error
from .messages import MessageLog, iso_utc
from .policy import apply_policy, check_id_tag, check_id_tag_info, parse_policy, policy_of
from .server import CallErrorReceived, DevCsms, StationLink

log = logging.getLogger("ocpp_station.csms.operator")

MAX_BODY = 1024 * 1024  # bytes: room for a SendLocalList of thousands of entries or a big charging profile
DEFAULT_TIMEOUT = 30.0  # s, how long a call waits for the station's answer by default
MAX_TIMEOUT = 300.0
DEFAULT_LIMIT = 500  # messages per GET .../messages
MAX_LIMIT = 5000
MAX_WAIT = 60  # s, longest wait of GET .../messages?wait= for a frame to come

CSMS_ACTIONS = sorted(a for a in actions.ACTIONS if actions.sent_by_csms(a))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object (empty body = {}), read whole up to :data:`MAX_BODY`,
    however many segments or chunks it arrives in."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise RequestError(413, None, f"body of {request.content_length} bytes exceeds {MAX_BODY}")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestError(413, None, f"body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, None, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(400, None, "body must be a JSON object")
    return body


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in body:
        if name not in allowed:
            raise RequestError(422, name, f"unknown field; expected one of {', '.join(allowed)}")


def station_document(link: StationLink) -> dict[str, Any]:
    """What ``GET /api/stations`` says of one station."""
    return {
        "identity": link.identity,
        "connected": link.connected,
        "connections": link.connections,
        "connectedSince": iso_utc(link.connected_at) if link.connected and link.connected_at else None,
        "lastSeen": iso_utc(link.last_seen) if link.last_seen is not None else None,
        "registration": link.registration,  # status of the last BootNotification.conf, null before one
        "boot": link.boot,
        "bootAt": iso_utc(link.boot_at) if link.boot_at is not None else None,
        "openTransactions": list(link.open_transactions.values()),
        # the security extension: TLS version and cipher of the last connection (null over ws://), the subject
        # of its client certificate (profile 3), handshakes refused for a wrong Basic-auth password
        "tls": link.tls,
        "clientCertificate": link.client_subject,
        "authFailures": link.auth_failures,
    }


class OperatorApi:
    def __init__(self, csms: DevCsms) -> None:
        self.csms = csms

    def _link(self, request: web.Request) -> StationLink:
        identity = request.match_info["identity"]
        link = self.csms.links.get(identity)
        if link is None or link.connections == 0:
            raise RequestError(404, "identity", f"unknown station {identity[:60]!r}: it never connected")
        return link

    async def stations(self, request: web.Request) -> web.Response:
        links = [link for link in self.csms.links.values() if link.connections > 0]
        return _json({"stations": [station_document(link) for link in links]})

    async def station(self, request: web.Request) -> web.Response:
        return _json(station_document(self._link(request)))

    async def call(self, request: web.Request) -> web.Response:
        link = self._link(request)
        body = await read_json_object(request)
        _only(body, ("action", "payload", "timeout", "validate"))
        action = body.get("action")
        if action is None:
            raise RequestError(422, "action", "required: the OCPP action to send, e.g. \"Reset\"")
        if not isinstance(action, str):
            raise RequestError(422, "action", "expected a string, the OCPP action to send")
        if not actions.is_known(action):
            raise RequestError(422, "action", f"unknown OCPP 1.6 action {action[:60]!r}; the CSMS sends "
                               f"{', '.join(CSMS_ACTIONS)}")
        if not actions.sent_by_csms(action):
            raise RequestError(422, "action", f"{action} is sent by a charge point, not by a CSMS")
        payload = body.get("payload", {})
        if not isinstance(payload, dict):
            raise RequestError(422, "payload", "expected a JSON object, the payload of the CALL")
        timeout = body.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
            raise RequestError(422, "timeout", f"expected a number of seconds > 0 and <= {MAX_TIMEOUT:g}")
        check = body.get("validate", True)
        if not isinstance(check, bool):
            raise RequestError(422, "validate", "expected true or false")
        if check:
            try:
                validation.validate_request(action, payload)
            except OcppError as exc:
                raise schema_error("payload", exc) from None
        return await self._send(link, action, payload, float(timeout))

    async def _send(self, link: StationLink, action: str, payload: dict[str, Any], timeout: float) -> web.Response:
        if not link.connected:
            raise RequestError(409, "identity", f"station {link.identity!r} is not connected")
        uid = self.csms.new_message_id()
        answer: dict[str, Any] = {"messageId": uid, "action": action}
        try:
            result = await link.call(action, payload, timeout, validate_response=False, unique_id=uid)
        except CallErrorReceived as exc:
            answer.update(type="CALLERROR", errorCode=exc.code, errorDescription=exc.description,
                          errorDetails=exc.details)
            return _json(answer)
        except TimeoutError:
            raise RequestError(504, None, f"no answer to {action} within {timeout:g} s", messageId=uid) from None
        except ConnectionError:
            raise RequestError(502, None, f"station {link.identity!r} disconnected before answering",
                               messageId=uid) from None
        answer.update(type="CALLRESULT", payload=result)
        try:
            validation.validate_response(action, result)
        except OcppError as exc:  # the station's answer breaks the confirmation schema: say so, keep it
            answer["responseError"] = {"code": exc.code, "description": exc.description}
        return _json(answer)

    # -- signed firmware ([SEC] L01) ---------------------------------------------------------------

    def _signer(self) -> Any:
        if self.csms.firmware_signer is None:
            from .pki import FirmwareSigner

            self.csms.firmware_signer = FirmwareSigner()
            log.info("firmware signer made: install its root as the stations' ManufacturerRootCertificate")
        return self.csms.firmware_signer

    async def get_firmware_signing(self, request: web.Request) -> web.Response:
        s = self._signer()
        return _json({"manufacturerRootCertificate": s.root_pem, "signingCertificate": s.cert_pem})

    async def put_firmware_signing(self, request: web.Request) -> web.Response:
        from .pki import FirmwareSigner

        body = await read_json_object(request)
        _only(body, ("signingCertificate", "signingKey", "manufacturerRootCertificate"))
        for name in ("signingCertificate", "signingKey"):
            if not isinstance(body.get(name), str):
                raise RequestError(422, name, "required: PEM text")
        root = body.get("manufacturerRootCertificate")
        if root is not None and not isinstance(root, str):
            raise RequestError(422, "manufacturerRootCertificate", "expected PEM text")
        try:
            self.csms.firmware_signer = FirmwareSigner.load(body["signingCertificate"], body["signingKey"], root)
        except (ValueError, TypeError) as exc:
            raise RequestError(422, "signingCertificate", f"cannot use it: {exc}") from None
        log.info("firmware signer given")  # never the key
        return await self.get_firmware_signing(request)

    async def signed_update_firmware(self, request: web.Request) -> web.Response:
        link = self._link(request)
        body = await read_json_object(request)
        _only(body, ("file", "location", "requestId", "retrieveDateTime", "installDateTime", "retries",
                     "retryInterval", "signature", "timeout"))
        name = body.get("file")
        files = self.csms.files
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise RequestError(422, "file", "required: the name of a file in the file server's directory")
        if files is None:
            raise RequestError(409, "file", "the CSMS serves no files (--files-dir)")
        path = Path(files.root) / name
        if not path.is_file():
            raise RequestError(404, "file", f"no file {name[:60]!r} in the file server's directory")
        signer = self._signer()
        data = path.read_bytes()
        fw: dict[str, Any] = {
            "location": body.get("location") or f"{files.http_url}/firmware/{name}",
            "retrieveDateTime": body.get("retrieveDateTime")
            or datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "signingCertificate": signer.cert_pem,
            "signature": body.get("signature") or signer.sign(data),  # a given one: to test a bad signature
        }
        if body.get("installDateTime") is not None:
            fw["installDateTime"] = body["installDateTime"]
        payload: dict[str, Any] = {"requestId": body.get("requestId", 1), "firmware": fw}
        for key in ("retries", "retryInterval"):
            if body.get(key) is not None:
                payload[key] = body[key]
        try:
            validation.validate_request("SignedUpdateFirmware", payload)
        except OcppError as exc:
            raise schema_error("payload", exc) from None
        timeout = body.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
            raise RequestError(422, "timeout", f"expected a number of seconds > 0 and <= {MAX_TIMEOUT:g}")
        return await self._send(link, "SignedUpdateFirmware", payload, float(timeout))

    async def messages(self, request: web.Request) -> web.Response:
        link = self._link(request)
        q = request.query
        for name in q:
            if name not in ("since", "limit", "action", "wait"):
                raise RequestError(422, name, "unknown query parameter; expected since, limit, action or wait")
        since = _int_query(q, "since", 0, 0, 10**18)
        limit = _int_query(q, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        wait = _int_query(q, "wait", 0, 0, MAX_WAIT)
        action = q.get("action")
        if action is not None and not actions.is_known(action):
            raise RequestError(422, "action", f"unknown OCPP 1.6 action {action[:60]!r}")
        log_: MessageLog | None = self.csms.message_log
        if log_ is None:
            return _json({"identity": link.identity, "messages": [], "next": since, "oldestKept": None})
        msgs = await log_.wait_read(link.identity, since, limit, action, wait)
        return _json({
            "identity": link.identity,
            "messages": msgs,
            # the since of the next read: after the last one returned when the limit cut the answer short,
            # else after everything recorded so far
            "next": msgs[-1]["seq"] if len(msgs) >= limit else log_.last_seq,
            "oldestKept": log_.oldest_seq,
        })

    async def get_policy(self, request: web.Request) -> web.Response:
        return _json(policy_of(self.csms))

    async def put_policy(self, request: web.Request) -> web.Response:
        parts = parse_policy(await read_json_object(request))
        apply_policy(self.csms, parts)
        log.info("policy changed: %s", orjson.dumps(parts).decode())
        return _json(policy_of(self.csms))

    async def put_id_tag(self, request: web.Request) -> web.Response:
        tag = check_id_tag(request.match_info["idTag"], "idTag")
        info = check_id_tag_info(await read_json_object(request), "idTagInfo")
        self.csms.set_id_tag(tag, info)
        return _json(policy_of(self.csms))

    async def delete_id_tag(self, request: web.Request) -> web.Response:
        tag = check_id_tag(request.match_info["idTag"], "idTag")
        self.csms.set_id_tag(tag, None)
        return _json(policy_of(self.csms))

    async def status(self, request: web.Request) -> web.Response:
        if self.csms.stats is not None:
            return _json(self.csms.stats.document(count_frozen=True))
        links = self.csms.links.values()
        return _json({"stations": len(links), "connected": sum(1 for link in links if link.connected),
                      "callsReceived": self.csms.calls_received})

    async def files(self, request: web.Request) -> web.Response:
        files = self.csms.files
        if files is None:
            return _json({"served": False, "uploads": []})
        doc: dict[str, Any] = {"served": True, "http": files.http_url, "uploads": files.listing()}
        if files.ftp_port:
            doc["ftpPort"] = files.ftp_port
        return _json(doc)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/files", self.files),
            web.get("/api/status", self.status),
            web.get("/api/stations", self.stations),
            web.get("/api/stations/{identity}", self.station),
            web.post("/api/stations/{identity}/call", self.call),
            web.post("/api/stations/{identity}/signed-update-firmware", self.signed_update_firmware),
            web.get("/api/firmware-signing", self.get_firmware_signing),
            web.put("/api/firmware-signing", self.put_firmware_signing),
            web.get("/api/stations/{identity}/messages", self.messages),
            web.get("/api/policy", self.get_policy),
            web.put("/api/policy", self.put_policy),
            web.put("/api/policy/id-tags/{idTag}", self.put_id_tag),
            web.delete("/api/policy/id-tags/{idTag}", self.delete_id_tag),
        ]


def _int_query(q: Any, name: str, default: int, low: int, high: int) -> int:
    text = q.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or not low <= int(text) <= high:
        raise RequestError(422, name, f"expected an integer from {low} to {high}, got {text[:40]!r}")
    return int(text)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return _json(exc.document(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _json({"error": exc.reason}, status=exc.status)
        raise
    except Exception:
        log.exception("operator API %s %s failed", request.method, request.path)
        return _json({"error": "internal error"}, status=500)


def make_app(csms: DevCsms) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY)
    app.add_routes(OperatorApi(csms).routes())

    async def end_waits(_app: web.Application) -> None:
        if csms.message_log is not None:
            csms.message_log.close()  # else the runner would wait for the open ?wait= reads

    app.on_shutdown.append(end_waits)
    return app


async def start_operator_api(csms: DevCsms, listen: tuple[str, int]) -> tuple[web.AppRunner, int]:
    """Serve the operator API of ``csms`` on ``listen``; the runner (``await runner.cleanup()`` stops)
    and the bound port (the real one for port 0). Raises OSError when the address cannot be bound."""
    return await serve_app(make_app(csms), listen)


async def serve_app(app: web.Application, listen: tuple[str, int]) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``listen``: the runner and the bound port; nothing left open when binding fails."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=3.0)
    await runner.setup()
    site = web.TCPSite(runner, listen[0], listen[1])
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]  # the real port when listen has port 0

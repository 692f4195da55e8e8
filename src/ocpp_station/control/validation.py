"""Request-body validation for the control API: a 4xx that names the field, never a 500."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

MAX_BODY = 64 * 1024  # bytes; larger bodies get 413 before they are parsed

ERROR_CODES = frozenset(
    {
        "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature", "InternalError",
        "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "PowerMeterFailure",
        "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage", "OverVoltage", "WeakSignal",
    }
)  # [SPEC] §7.6 ChargePointErrorCode

# spec §2.3 StatusNotification: EVCommunicationError is only used with Preparing, SuspendedEV, SuspendedEVSE or
# Finishing, i.e. as a warning on a non-Faulted status; a fault (status Faulted) cannot carry it
WARNING_ONLY_CODES = frozenset({"EVCommunicationError"})


class BodyError(Exception):
    def __init__(self, status: int, field: str | None, message: str):
        super().__init__(message)
        self.status = status  # 400 (not JSON / not an object), 413, 422 (a field is wrong)
        self.field = field  # the offending field, or None
        self.message = message

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            body["field"] = self.field
        return web.json_response(body, status=self.status)


async def read_raw(request: web.Request) -> bytes:
    """The whole body, however many TCP segments or chunks it came in; 413 past ``MAX_BODY`` bytes.

    One ``read(n)`` returns only what has arrived so far: a body split over two segments would be
    cut, and an oversize chunked body would look like a short, malformed one."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BodyError(413, None, f"body of {request.content_length} bytes exceeds {MAX_BODY}")
    buf = bytearray()
    while len(buf) <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - len(buf))
        if not chunk:  # end of the body
            return bytes(buf)
        buf += chunk
    raise BodyError(413, None, f"body exceeds {MAX_BODY} bytes")


async def read_body(request: web.Request, allowed: dict[str, tuple]) -> dict[str, Any]:
    """Parse a JSON object body; ``allowed`` maps field -> accepted Python types. Empty body = {}."""
    raw = await read_raw(request)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, None, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BodyError(400, None, "body must be a JSON object")
    for name, value in body.items():
        if name not in allowed:
            raise BodyError(422, name, f"unknown field {name!r}; expected one of {sorted(allowed)}")
        types = allowed[name]
        if bool in types or type(value) is not bool:
            ok = isinstance(value, types)
        else:
            ok = False  # true/false is not a number
        if not ok:
            names = "/".join("boolean" if t is bool else "number" if t in (int, float) else "string" if t is str else "null" if t is type(None) else t.__name__ for t in types)
            raise BodyError(422, name, f"{name} must be {names}, got {type(value).__name__}")
    return body


def check_fault_code(code: str) -> None:
    """A hardware fault's errorCode: a ChargePointErrorCode that can go with status Faulted."""
    if code not in ERROR_CODES or code == "NoError":
        raise BodyError(422, "errorCode", f"errorCode must be a ChargePointErrorCode other than NoError, got {code!r}")
    if code in WARNING_ONLY_CODES:
        raise BodyError(
            422,
            "errorCode",
            f"{code} is a warning, not a fault: OCPP reports it only with status Preparing, SuspendedEV, "
            "SuspendedEVSE or Finishing, never with Faulted",
        )


def require(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise BodyError(422, name, f"{name} is required")
    return body[name]

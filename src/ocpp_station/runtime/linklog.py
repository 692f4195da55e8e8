"""What the log says about the websocket link: why a connection attempt failed, how a link ended.

A station maker reads these lines to tell a wrong URL from a refused password, a TLS trust problem
or a CSMS that closes the link, so each names its cause rather than an exception's (often empty) text.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from websockets.exceptions import InvalidMessage, InvalidStatus, InvalidURI

_CLOSE_NAMES = {
    1000: "normal closure", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status", 1006: "abnormal closure", 1007: "invalid data", 1008: "policy violation",
    1009: "message too big", 1010: "extension required", 1011: "internal error", 1012: "service restart",
    1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake failure",
}


def _one(exc: BaseException, open_timeout: float | None) -> str:
    if isinstance(exc, InvalidStatus):
        return f"the CSMS answered the handshake with HTTP {exc.response.status_code}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the CSMS certificate is not trusted ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        within = f" within {open_timeout:g} s" if open_timeout else ""
        return f"timed out: no answer to the opening handshake{within}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that host and port)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    if isinstance(exc, InvalidURI):
        return f"unusable URL: {exc.msg}"
    text = str(exc).strip()
    return text or type(exc).__name__


def connect_failure(exc: BaseException, open_timeout: float | None = None) -> str:
    """The cause of a failed connection attempt, in words, with what caused it in turn (e.g. an
    InvalidMessage caused by an EOFError: the server closed the connection during the handshake)."""
    parts = [_one(exc, open_timeout)]
    seen = {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen and len(parts) < 4:
        seen.add(id(cause))
        text = _one(cause, open_timeout)
        if text not in parts[-1]:
            parts.append(text)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, InvalidMessage) and len(parts) == 1:
        parts.append("the server closed the connection during the handshake")
    return ": ".join(parts)


def close_description(ws: Any) -> str:
    """How a link ended: who closed it, the close code (named) and the reason given."""
    code = ws.close_code if ws.close_code is not None else 1006
    reason = ws.close_reason or ""
    name = _CLOSE_NAMES.get(code, "")
    what = f"code {code}" + (f" ({name})" if name else "") + (f", reason {reason!r}" if reason else "")
    protocol = getattr(ws, "protocol", None)
    rcvd = getattr(protocol, "close_rcvd", None)
    sent = getattr(protocol, "close_sent", None)
    if rcvd is None and sent is None:
        return f"link lost without a close frame, {what}"
    if sent is None or getattr(protocol, "close_rcvd_then_sent", None):
        return f"closed by the CSMS, {what}"
    return f"closed by the station, {what}"


# TLS alerts a CSMS sends when it refuses the station's client certificate
_CLIENT_CERT_ALERTS = ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_REQUIRED", "CERTIFICATE_EXPIRED",
                       "CERTIFICATE_UNKNOWN", "CERTIFICATE_REVOKED", "UNSUPPORTED_CERTIFICATE", "ACCESS_DENIED")


def failure_cause(exc: BaseException) -> str:
    """The ``ConnectFailed.cause`` of a failed attempt: ``auth`` (HTTP 401/403, or a TLS alert refusing the
    station's certificate), ``certificate`` (the CSMS's
    certificate was refused), ``tls_version``, ``cipher``, ``tls`` (another TLS failure) or ``network``."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, InvalidStatus) and e.response.status_code in (401, 403):
            return "auth"
        if isinstance(e, ssl.SSLCertVerificationError):
            return "certificate"
        if isinstance(e, ssl.SSLError):
            reason = (e.reason or "").upper()
            if "ALERT" in reason and any(k in reason for k in _CLIENT_CERT_ALERTS):
                return "auth"  # the CSMS refused the station's certificate (profile 3)
            if reason == "WRONG_VERSION_NUMBER":
                return "tls"  # not TLS at all (a ws:// server behind a wss:// URL)
            if "VERSION" in reason or "UNSUPPORTED_PROTOCOL" in reason:
                return "tls_version"  # [SEC] A00.FR.315: the CSMS offers only TLS < 1.2
            if "CIPHER" in reason or reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
                return "cipher"  # [SEC] A00.FR.322: no suite in common
            return "tls"
        e = e.__cause__ or e.__context__
    return "network"

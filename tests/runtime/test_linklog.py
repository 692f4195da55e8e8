"""runtime/linklog.py: a failed connection attempt and the end of a link, named in words."""

from __future__ import annotations

import ssl
from types import SimpleNamespace

from websockets.exceptions import InvalidMessage

from ocpp_station.runtime.linklog import close_description, connect_failure


def test_an_exception_without_text_still_names_its_cause():
    assert str(TimeoutError()) == ""  # what the log printed after "failed:" before
    assert connect_failure(TimeoutError(), 10) == "timed out: no answer to the opening handshake within 10 s"
    assert connect_failure(ConnectionRefusedError(111, "Connection refused")) == (
        "connection refused (nothing listens on that host and port)")


def test_the_cause_of_a_handshake_failure_is_followed():
    try:
        try:
            raise EOFError("connection closed while reading HTTP status line")
        except EOFError as eof:
            raise InvalidMessage("did not receive a valid HTTP response") from eof
    except InvalidMessage as exc:
        assert connect_failure(exc) == ("did not receive a valid HTTP response: "
                                        "connection closed while reading HTTP status line")


def test_tls_errors_say_tls():
    err = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    err.verify_message = "self-signed certificate"
    err.reason = "CERTIFICATE_VERIFY_FAILED"
    assert connect_failure(err) == "TLS: the CSMS certificate is not trusted (self-signed certificate)"


def _ws(code, reason, rcvd, sent, rcvd_then_sent=None):
    return SimpleNamespace(close_code=code, close_reason=reason,
                           protocol=SimpleNamespace(close_rcvd=rcvd, close_sent=sent,
                                                    close_rcvd_then_sent=rcvd_then_sent))


def test_how_a_link_ended():
    assert close_description(_ws(1006, "", None, None)) == (
        "link lost without a close frame, code 1006 (abnormal closure)")
    assert close_description(_ws(1001, "maintenance", object(), object(), True)) == (
        "closed by the CSMS, code 1001 (going away), reason 'maintenance'")
    assert close_description(_ws(1000, "", object(), object(), False)) == (
        "closed by the station, code 1000 (normal closure)")
    assert close_description(_ws(4000, "x", object(), None)) == "closed by the CSMS, code 4000, reason 'x'"


def _ssl_error(cls, reason: str):
    e = cls(1, reason)
    e.reason = reason
    return e


def test_failure_cause_names_what_the_security_events_need():
    """ConnectFailed.cause: 401/403 -> auth; a refused certificate -> certificate ([SEC] A00.FR.309); a TLS
    version alert -> tls_version (.315); no shared cipher -> cipher (.322); the rest -> tls / network."""
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    from ocpp_station.runtime.linklog import failure_cause

    assert failure_cause(InvalidStatus(Response(401, "Unauthorized", Headers()))) == "auth"
    assert failure_cause(InvalidStatus(Response(403, "Forbidden", Headers()))) == "auth"
    assert failure_cause(InvalidStatus(Response(404, "Not Found", Headers()))) == "network"
    assert failure_cause(_ssl_error(ssl.SSLCertVerificationError, "CERTIFICATE_VERIFY_FAILED")) == "certificate"
    assert failure_cause(_ssl_error(ssl.SSLError, "TLSV1_ALERT_PROTOCOL_VERSION")) == "tls_version"
    assert failure_cause(_ssl_error(ssl.SSLError, "UNSUPPORTED_PROTOCOL")) == "tls_version"
    assert failure_cause(_ssl_error(ssl.SSLError, "NO_SHARED_CIPHER")) == "cipher"
    assert failure_cause(_ssl_error(ssl.SSLError, "SSLV3_ALERT_HANDSHAKE_FAILURE")) == "cipher"
    assert failure_cause(_ssl_error(ssl.SSLError, "WRONG_VERSION_NUMBER")) == "tls"  # no TLS server at all
    assert failure_cause(ConnectionRefusedError(111, "Connection refused")) == "network"
    assert failure_cause(_ssl_error(ssl.SSLError, "TLSV1_ALERT_UNKNOWN_CA")) == "auth"  # our certificate refused
    assert failure_cause(_ssl_error(ssl.SSLError, "TLSV13_ALERT_CERTIFICATE_REQUIRED")) == "auth"
    try:
        try:
            raise _ssl_error(ssl.SSLCertVerificationError, "CERTIFICATE_VERIFY_FAILED")
        except ssl.SSLError as inner:
            raise OSError("handshake failed") from inner
    except OSError as outer:
        assert failure_cause(outer) == "certificate"  # the cause is followed

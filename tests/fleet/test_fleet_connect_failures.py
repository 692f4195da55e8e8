"""The fleet summary says why connections fail (refused, HTTP status, TLS, timeout...), not only how often."""

from __future__ import annotations

import errno
import http.server
import io
import socket
import ssl
import threading

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage, InvalidStatus, InvalidUpgrade
from websockets.http11 import Response

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet import sim
from ocpp_station.fleet.sim import SILENT_LINK, NoOcppSubprotocol, failure_reason

IDLE = {"fleet": {"identity_pattern": "CF{n}"}, "ocpp": {"WebSocketPingInterval": 0},
        "driver": {"sessions_per_hour": 0}}


def _run(url: str) -> tuple[dict, list[str]]:
    err = io.StringIO()
    result = run_fleet(FleetOptions(csms_url=url, count=2, scenario=parse_scenario(IDLE), duration=1.5,
                                    drain_timeout=0.0, progress=False, err=err))
    return result, err.getvalue().splitlines()


def _connections_row(lines: list[str]) -> str:
    return next(ln for ln in lines if ln.startswith("  connections "))


def _http_404(version: str):
    """An HTTP server that answers 404 to everything (a wrong CSMS path)."""
    class NotHere(http.server.BaseHTTPRequestHandler):
        protocol_version = version

        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotHere)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_404():
    yield from _http_404("HTTP/1.1")


@pytest.fixture
def http10_404():
    yield from _http_404("HTTP/1.0")  # websockets needs HTTP/1.1: the response is not one it can read


@pytest.mark.timeout(30)
def test_refused():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result, lines = _run(f"ws://127.0.0.1:{port}/ocpp")
    n = result["connect_failures"]
    assert n >= 2 and result["connect_failure_reasons"] == {"refused": n}
    assert _connections_row(lines) == f"  connections        connect failures {n} (refused {n}), network drops 0"


@pytest.mark.timeout(30)
def test_http_status(http_404):
    result, lines = _run(f"ws://127.0.0.1:{http_404}/ocpp")
    n = result["connect_failures"]
    assert n >= 2 and result["connect_failure_reasons"] == {"HTTP 404": n}
    assert f"connect failures {n} (HTTP 404 {n})" in _connections_row(lines)


@pytest.mark.timeout(30)
def test_invalid_http_response(http10_404):
    result, lines = _run(f"ws://127.0.0.1:{http10_404}/ocpp")
    n = result["connect_failures"]
    assert n >= 2 and result["connect_failure_reasons"] == {"invalid HTTP response": n}


@pytest.mark.timeout(30)
def test_tls_error(http_404):
    result, _ = _run(f"wss://127.0.0.1:{http_404}/ocpp")  # TLS to a plain HTTP server
    reasons = result["connect_failure_reasons"]
    assert len(reasons) == 1 and next(iter(reasons)).startswith("TLS "), reasons
    assert sum(reasons.values()) == result["connect_failures"] >= 2


@pytest.mark.timeout(30)
def test_timeout(monkeypatch):
    monkeypatch.setattr(sim, "CONNECT_TIMEOUT", 0.3)
    with socket.create_server(("127.0.0.1", 0), backlog=16) as mute:  # the kernel accepts; no one answers
        result, lines = _run(f"ws://127.0.0.1:{mute.getsockname()[1]}/ocpp")
    n = result["connect_failures"]
    assert n >= 2 and result["connect_failure_reasons"] == {"timeout": n}
    assert f"connect failures {n} (timeout {n})" in _connections_row(lines)


def test_failure_reasons():
    refused = OSError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)")
    assert isinstance(refused, ConnectionRefusedError) and failure_reason(refused) == "refused"
    both = OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 9, 0, 0), "
                   "[Errno 111] Connect call failed ('127.0.0.1', 9)")  # asyncio, localhost on two addresses
    assert failure_reason(both) == "refused"
    assert failure_reason(OSError(errno.ENETUNREACH, "x")) == "unreachable"
    assert failure_reason(InvalidStatus(Response(401, "Unauthorized", Headers()))) == "HTTP 401"
    assert failure_reason(TimeoutError()) == "timeout"
    assert failure_reason(socket.gaierror(socket.EAI_NONAME, "Name or service not known")) == "DNS"
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    assert failure_reason(cert) == "TLS certificate: self-signed certificate"
    assert failure_reason(ConnectionError("connection closed during the handshake")) == "closed during the handshake"
    assert failure_reason(InvalidUpgrade("Upgrade", None)) == "bad handshake: InvalidUpgrade"
    assert failure_reason(InvalidMessage("did not receive a valid HTTP response")) == "invalid HTTP response"
    assert failure_reason(NoOcppSubprotocol("x")) == "no ocpp1.6 subprotocol"
    assert SILENT_LINK == "closed before the CSMS answered"


def test_summary_lists_the_reasons_most_frequent_first():
    from ocpp_station.fleet.metrics import Aggregator

    agg = Aggregator(2, 2, 0.0)
    agg.handle({"type": "snapshot", "worker": 0, "connect_failure_reasons": {"refused": 2, "HTTP 404": 1}})
    agg.handle({"type": "snapshot", "worker": 1, "connect_failure_reasons": {"HTTP 404": 3, "timeout": 1}})
    assert agg.reasons() == {"HTTP 404": 4, "refused": 2, "timeout": 1}

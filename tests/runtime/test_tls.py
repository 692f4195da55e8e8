"""wss:// with ``[station] ca_file``: a real TLS websocket server on 127.0.0.1 whose certificate comes from a
CA made for the test (trustme); the station trusts it through ca_file alone, not an environment variable."""

from __future__ import annotations

import asyncio
import logging
import ssl

import orjson
import pytest
import trustme
from websockets.asyncio.server import serve

from ocpp_station.config import RunSettings
from ocpp_station.core.settings import StationSettings
from ocpp_station.runtime.app import StationRuntime
from ocpp_station.store import MemoryStore


@pytest.fixture
def ca(tmp_path):
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


async def _wss_server(ca: trustme.CA, got: asyncio.Queue):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)

    async def handler(ws):
        async for message in ws:
            await got.put((ws.request.path, orjson.loads(message)))

    return serve(handler, "127.0.0.1", 0, ssl=ctx, subprotocols=["ocpp1.6"])


def _runtime(url: str, ca_file) -> StationRuntime:
    settings = RunSettings(station=StationSettings(), csms_url=url, data_dir=None, control_listen=None,
                           config_path=None, ca_file=ca_file, reconnect_min=0.1, reconnect_max=0.2)
    return StationRuntime(settings, MemoryStore)


async def test_wss_with_ca_file_connects_and_boots(ca, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    got: asyncio.Queue = asyncio.Queue()
    async with await _wss_server(ca[0], got) as server:
        port = server.sockets[0].getsockname()[1]
        rt = _runtime(f"wss://127.0.0.1:{port}/ocpp", ca[1])
        task = asyncio.create_task(rt.run())
        try:
            path, frame = await asyncio.wait_for(got.get(), 10)
        finally:
            rt.stop()
            await asyncio.wait_for(task, 10)
    assert path == "/ocpp/CP001"
    assert frame[0] == 2 and frame[2] == "BootNotification"


async def test_wss_without_the_ca_fails_naming_the_tls_cause(ca, monkeypatch, caplog):
    """Without ca_file the system trust store does not know the test CA: the attempt fails, and the
    warning says it is a TLS trust problem (not an empty reason)."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    got: asyncio.Queue = asyncio.Queue()
    async with await _wss_server(ca[0], got) as server:
        port = server.sockets[0].getsockname()[1]
        rt = _runtime(f"wss://127.0.0.1:{port}/ocpp", None)
        rt.station.start(rt.now())
        failed = asyncio.get_running_loop().create_future()

        async def backoff(failures: int) -> None:
            rt.stop()
            failed.set_result(failures)

        rt._backoff = backoff
        with caplog.at_level(logging.WARNING, logger="ocpp_station.runtime.app"):
            await asyncio.wait_for(rt._connection_loop(), 10)
    assert failed.result() == 1
    assert got.empty()
    [record] = [r for r in caplog.records if r.name == "ocpp_station.runtime.app"]
    assert record.getMessage().startswith(
        f"connection to wss://127.0.0.1:{port}/ocpp/CP001 failed: TLS: the CSMS certificate is not trusted ("
    ), record.getMessage()

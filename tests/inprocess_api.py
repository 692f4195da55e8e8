"""An in-process StationRuntime (its loops not running) behind aiohttp's TestServer: the control API
without a websocket or a station process."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from aiohttp.test_utils import TestClient, TestServer

from ocpp_station.config import RunSettings
from ocpp_station.control.api import make_app
from ocpp_station.core.settings import StationSettings
from ocpp_station.runtime.app import StationRuntime
from ocpp_station.store import MemoryStore


@asynccontextmanager
async def in_process_api(**station: Any) -> AsyncIterator[tuple[TestClient, StationRuntime]]:
    settings = RunSettings(
        station=StationSettings(**station), csms_url="ws://127.0.0.1:1/ocpp", data_dir=None,
        control_listen=None, config_path=None,
    )
    rt = StationRuntime(settings, MemoryStore)
    rt.station.start(rt.now())
    rt.flush()
    client = TestClient(TestServer(make_app(rt)))
    await client.start_server()
    try:
        yield client, rt
    finally:
        await client.close()

"""control/api.py start_control: port 0 binds a free port, and the log line and the runtime give that port."""

from __future__ import annotations

import logging

import aiohttp

from ocpp_station.config import RunSettings
from ocpp_station.core.settings import StationSettings
from ocpp_station.runtime.app import StationRuntime
from ocpp_station.store import MemoryStore


async def test_port_0_is_reported_as_the_port_bound(caplog):
    settings = RunSettings(station=StationSettings(), csms_url="ws://127.0.0.1:1/ocpp", data_dir=None,
                           control_listen=("127.0.0.1", 0), config_path=None)
    rt = StationRuntime(settings, MemoryStore)
    with caplog.at_level(logging.INFO, logger="ocpp_station.control.api"):
        await rt.open_control()
    try:
        host, port = rt.control_address
        assert host == "127.0.0.1" and port != 0
        assert caplog.messages == [f"control API on http://127.0.0.1:{port}/ (HMI page: http://127.0.0.1:{port}/)"]
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/api/state") as r:
            assert r.status == 200
    finally:
        await rt._close_control()
        rt.store.close()

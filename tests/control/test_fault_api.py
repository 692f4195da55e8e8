"""POST /api/connectors/{id}/fault: which ChargePointErrorCodes make a fault (spec §2.3 StatusNotification).

An in-process StationRuntime (its loops not running) behind aiohttp's TestServer.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ocpp_station.config import RunSettings
from ocpp_station.control.api import make_app
from ocpp_station.core.settings import StationSettings
from ocpp_station.runtime.app import StationRuntime
from ocpp_station.store import MemoryStore


@pytest.fixture
async def api():
    settings_ = RunSettings(
        station=StationSettings(), csms_url="ws://127.0.0.1:1/ocpp", data_dir=None, control_listen=None,
        config_path=None,
    )
    rt = StationRuntime(settings_, MemoryStore)
    rt.station.start(rt.now())
    rt.flush()
    client = TestClient(TestServer(make_app(rt)))
    await client.start_server()
    try:
        yield client, rt
    finally:
        await client.close()


async def test_ev_communication_error_is_not_a_fault(api):
    """spec §2.3: EVCommunicationError is only used with Preparing, SuspendedEV, SuspendedEVSE or Finishing
    (a warning), never with Faulted: the fault endpoint refuses it with 422 and changes nothing."""
    client, rt = api
    resp = await client.post("/api/connectors/1/fault", json={"errorCode": "EVCommunicationError"})
    assert resp.status == 422
    assert await resp.json() == {
        "error": "EVCommunicationError is a warning, not a fault: OCPP reports it only with status Preparing, "
        "SuspendedEV, SuspendedEVSE or Finishing, never with Faulted",
        "field": "errorCode",
    }
    c = rt.station.connector(1)
    assert (c.status.value, c.error_code, c.info) == ("Available", "NoError", None)
    assert rt.hardware.connectors[1].fault is None


async def test_a_fault_code_makes_the_connector_faulted(api):
    client, rt = api
    resp = await client.post("/api/connectors/1/fault", json={"errorCode": "GroundFailure", "info": "leak"})
    assert resp.status == 200
    c = rt.station.connector(1)
    assert (c.status.value, c.error_code, c.info) == ("Faulted", "GroundFailure", "leak")

"""POST /api/connectors/{id}/fault: which ChargePointErrorCodes make a fault (spec §2.3 StatusNotification)."""

from __future__ import annotations

import pytest
from inprocess_api import in_process_api


@pytest.fixture
async def api():
    async with in_process_api() as served:
        yield served


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

"""The dev CSMS's operator API driving a real ``ocpp-station run`` process."""

from __future__ import annotations

import aiohttp
import pytest

from ocpp_station.csms.cards import DEMO_CARD
from ocpp_station.csms.messages import MessageLog
from ocpp_station.csms.operator_api import start_operator_api

pytestmark = pytest.mark.e2e

NOISE = {"Heartbeat", "MeterValues", "StatusNotification"}


@pytest.fixture
async def operator(csms):
    csms.message_log = MessageLog(1000)
    runner, port = await start_operator_api(csms, ("127.0.0.1", 0))
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        await runner.cleanup()


async def _json(resp_cm) -> tuple[int, dict]:
    async with resp_cm as r:
        return r.status, await r.json()


async def test_operator_remote_start_and_stop_a_real_station(csms, station_factory, operator) -> None:
    st = await station_factory("CP001")
    link = await csms.wait_connected("CP001", timeout=10)
    await link.expect("BootNotification", timeout=10)
    await st.plug_in(1)
    await link.expect("StatusNotification", ignore=NOISE - {"StatusNotification"}, timeout=10)

    status, doc = await _json(operator.post("/api/stations/CP001/call", json={
        "action": "RemoteStartTransaction", "payload": {"connectorId": 1, "idTag": DEMO_CARD}}))
    assert (status, doc["type"], doc["payload"]) == (200, "CALLRESULT", {"status": "Accepted"})
    start = await link.expect("StartTransaction", ignore=NOISE | {"Authorize"}, timeout=10)
    status, doc = await _json(operator.get("/api/stations/CP001"))
    (tx,) = doc["openTransactions"]
    assert (doc["connected"], doc["registration"], tx["connectorId"], tx["idTag"]) == (True, "Accepted", 1, DEMO_CARD)
    assert tx["meterStart"] == start.payload["meterStart"]

    status, doc = await _json(operator.post("/api/stations/CP001/call", json={
        "action": "RemoteStopTransaction", "payload": {"transactionId": tx["transactionId"]}}))
    assert (status, doc["payload"]) == (200, {"status": "Accepted"})
    stop = await link.expect("StopTransaction", ignore=NOISE, timeout=10)
    assert (stop.payload["transactionId"], stop.payload["reason"]) == (tx["transactionId"], "Remote")
    assert (await _json(operator.get("/api/stations/CP001")))[1]["openTransactions"] == []

    status, doc = await _json(operator.get("/api/stations/CP001/messages?action=StopTransaction"))
    assert [(m["from"], m["type"]) for m in doc["messages"]] == [("station", "CALL"), ("csms", "CALLRESULT")]
    assert doc["messages"][0]["payload"] == stop.payload
    assert await st.stop() == 0


async def test_operator_policy_reaches_a_real_station(csms, station_factory, operator) -> None:
    st = await station_factory("CP001")
    link = await csms.wait_connected("CP001", timeout=10)
    await link.expect("BootNotification", timeout=10)
    await st.plug_in(1)
    await st.card("INVALID01")  # a test card: Invalid without any setup
    auth = await link.expect("Authorize", ignore=NOISE, timeout=10)
    assert auth.payload == {"idTag": "INVALID01"}
    status, _ = await _json(operator.put("/api/policy/id-tags/INVALID01", json={"status": "Accepted"}))
    assert status == 200
    await st.card("INVALID01")
    # the new answer applies to the next presentation (the Authorize it causes is skipped over)
    call = await link.expect_unordered(["StartTransaction"], ignore=NOISE | {"Authorize"}, timeout=10)
    assert call[0].payload["idTag"] == "INVALID01"
    assert await st.stop() == 0

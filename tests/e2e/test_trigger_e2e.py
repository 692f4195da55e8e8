"""Remote Trigger end to end (OCTT TC_054, TC_055) with a real ``ocpp-station run`` process and websocket."""

from __future__ import annotations

import json

from e2e_steps import SN, status


async def test_tc_054_cs_trigger_message_e2e(csms, booted):
    """TC_054_CS: each TriggerMessage is Accepted and then the message comes: MeterValues (connector 1),
    Heartbeat, StatusNotification (connector 1), DiagnosticsStatusNotification Idle, FirmwareStatusNotification
    Idle (the station has FirmwareManagement and nothing is under way, [SPEC] §4.4/§4.5)."""
    st, link = await booted()
    frames = []
    link.csms.on_frame = lambda ident, direction, text, t: frames.append((direction, text))

    async def trigger(message, cid=None):
        p = {"requestedMessage": message, **({"connectorId": cid} if cid is not None else {})}
        return await link.call("TriggerMessage", p)

    assert await trigger("MeterValues", 1) == {"status": "Accepted"}
    mv = await link.expect("MeterValues")
    assert mv.payload["connectorId"] == 1
    assert mv.payload["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    assert await trigger("Heartbeat") == {"status": "Accepted"}
    await link.expect("Heartbeat")
    assert await trigger("StatusNotification", 1) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    for message in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        assert await trigger(message) == {"status": "Accepted"}
        assert (await link.expect(message)).payload == {"status": "Idle"}
    # [SPEC] §5.17: on the wire each conf precedes its triggered CALL
    seen = [json.loads(t) for d, t in frames if d == "in"]
    order = [f[2] if f[0] == 2 else f[2].get("status") for f in seen if f[0] == 2 or (f[0] == 3 and "status" in f[2])]
    assert order == [
        "Accepted", "MeterValues", "Accepted", "Heartbeat", "Accepted", SN,
        "Accepted", "DiagnosticsStatusNotification", "Accepted", "FirmwareStatusNotification",
    ], order
    assert await st.stop() == 0


async def test_tc_055_cs_trigger_message_rejected_e2e(booted):
    """TC_055_CS: MeterValues for a connector the station does not have: Rejected, nothing sent."""
    st, link = await booted()
    for cid in (2, 4352):
        assert await link.call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": cid}) == {"status": "Rejected"}
    await link.no_call(0.5)
    assert await st.stop() == 0


async def test_tc_054_cs_trigger_message_without_firmware_management_e2e(booted):
    """TC_054_CS on a station without FirmwareManagement: the Diagnostics/Firmware status notifications answer
    NotImplemented (which the case accepts), nothing is sent."""
    st, link = await booted(station={"profiles": ["Core", "RemoteTrigger"]})
    for message in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        assert await link.call("TriggerMessage", {"requestedMessage": message}) == {"status": "NotImplemented"}
    await link.no_call(0.5)
    assert await st.stop() == 0

"""The control API of INTERFACE.md, end to end: every endpoint over real HTTP against a real
``ocpp-station run`` process, with its OCPP effects seen by the dev CSMS."""

from __future__ import annotations

import pytest


def assert_state_doc(doc, identity: str = "CP001", connectors: int = 1) -> dict:
    """The station document of ``GET /api/state``; returns its physical connectors by id."""
    assert isinstance(doc, dict), doc
    assert doc["identity"] == identity
    for key in ("registration", "connected", "network", "connectors"):
        assert key in doc, (key, doc)
    by_id = {c["connectorId"]: c for c in doc["connectors"]}
    assert set(range(1, connectors + 1)) <= set(by_id), doc
    for cid in range(1, connectors + 1):
        c = by_id[cid]
        for key in ("status", "errorCode", "energyWh", "powerW"):
            assert key in c, (key, c)
    return by_id


async def test_control_api_every_endpoint_valid_input(csms, booted):
    st, link = await booted()
    status, doc = await st.api("GET", "/api/state")
    assert status == 200
    c = assert_state_doc(doc)[1]
    assert doc["registration"] == "Accepted" and doc["connected"] is True and doc["network"] == "up"
    assert doc["fixedCable"] is True  # the default hardware: no station-side plug-out
    assert (c["status"], c["errorCode"], c["sessionEnergyWh"]) == ("Available", "NoError", None)

    # fault / clear fault
    status, doc = await st.api("POST", "/api/connectors/1/fault", {"errorCode": "GroundFailure", "info": "leak"})
    assert status == 200
    assert_state_doc(doc)
    sn = (await link.expect("StatusNotification")).payload
    assert (sn["connectorId"], sn["status"], sn["errorCode"], sn.get("info")) == (1, "Faulted", "GroundFailure", "leak")
    assert (await st.state())["connectors"][-1]["status"] == "Faulted"
    status, doc = await st.api("DELETE", "/api/connectors/1/fault")
    assert status == 200
    assert_state_doc(doc)
    sn = (await link.expect("StatusNotification")).payload
    assert (sn["connectorId"], sn["status"], sn["errorCode"]) == (1, "Available", "NoError")

    # a fixed cable has no lock to make fail: 409 saying why
    status, doc = await st.api("POST", "/api/connectors/1/lock", {"failLock": True})
    assert (status, doc) == (409, {"error": "this station has no connector lock (hardware.fixed_cable = true: the "
                                            "cable is attached to the station, there is no socket to lock)"})

    # a session: plug-in, card, EV pauses and resumes
    doc = await st.plug_in(1)
    assert_state_doc(doc)
    sn = (await link.expect("StatusNotification")).payload
    assert (sn["connectorId"], sn["status"]) == (1, "Preparing")
    doc = await st.card("04A2B3C4", cid=1)
    assert_state_doc(doc)
    calls = await link.expect_unordered(["Authorize", "StartTransaction", "StatusNotification"])
    by_action = {c.action: c.payload for c in calls}
    assert by_action["Authorize"] == {"idTag": "04A2B3C4"}
    assert by_action["StartTransaction"]["idTag"] == "04A2B3C4"
    assert by_action["StatusNotification"]["status"] == "Charging"
    tx_id = link.last_transaction_id
    doc = await st.state()
    c = assert_state_doc(doc)[1]
    assert (c["status"], c["transactionId"], c["idTag"]) == ("Charging", tx_id, "04A2B3C4")
    # energy: the meter's register, and the session's share of it since meterStart
    meter_start = by_action["StartTransaction"]["meterStart"]
    assert c["energyWh"] >= meter_start > 0
    assert c["sessionEnergyWh"] == round(c["energyWh"] - meter_start, 3)

    doc = await st.ev("suspended", 1)
    assert_state_doc(doc)
    sn = (await link.expect("StatusNotification", ignore=("MeterValues",))).payload
    assert sn["status"] == "SuspendedEV"
    doc = await st.ev("charging", 1, power_w=7000)
    assert_state_doc(doc)
    sn = (await link.expect("StatusNotification", ignore=("MeterValues",))).payload
    assert sn["status"] == "Charging"
    assert assert_state_doc(await st.state())[1]["powerW"] == pytest.approx(7000, rel=0.2)

    # the network drops and returns: reconnect without a new BootNotification
    before = link.connections
    doc = await st.network(False)
    assert_state_doc(doc)
    await link.wait_disconnected()
    assert (await st.state())["network"] == "down"
    doc = await st.network(True)
    assert_state_doc(doc)
    await csms.wait_connected("CP001", after=before)
    assert (await st.state())["network"] == "up"

    # the same card stops the transaction; then the cable comes out
    doc = await st.card("04A2B3C4")
    assert_state_doc(doc)
    calls = await link.expect_unordered(["StopTransaction", "StatusNotification"], ignore=("MeterValues",))
    stop = next(c.payload for c in calls if c.action == "StopTransaction")
    assert (stop["transactionId"], stop["idTag"], stop.get("reason", "Local")) == (tx_id, "04A2B3C4", "Local")
    assert next(c.payload for c in calls if c.action == "StatusNotification")["status"] == "Finishing"
    status, doc = await st.api("POST", "/api/connectors/1/plug-out")  # no body: side "both"
    assert status == 200
    assert_state_doc(doc)
    sn = (await link.expect("StatusNotification")).payload
    assert (sn["connectorId"], sn["status"]) == (1, "Available")
    c = assert_state_doc(await st.state())[1]
    assert (c["status"], c["sessionEnergyWh"]) == ("Available", None)

    # the power fails: 200, then the process ends at once (no BootNotification, nothing else)
    status, doc = await st.api("POST", "/api/power-cut", {"backupPower": False})
    assert status == 200
    assert await st.wait_exit() != 0
    await link.wait_disconnected()
    await link.no_call(0.2, ignore=("StatusNotification",))


async def test_control_api_plug_out_two_step(booted):
    """plug-out side "ev" then side "station" (the two-step unplug of a socket outlet)."""
    st, link = await booted(hardware={"fixed_cable": False, "connector_lock": True})
    doc = await st.ok("POST", "/api/connectors/1/lock", {"failLock": False, "failUnlock": False})
    assert doc["connectors"][-1]["hardware"]["locked"] is False
    await st.plug_in(1)
    assert (await link.expect("StatusNotification")).payload["status"] == "Preparing"
    assert_state_doc(await st.plug_out(1, side="ev"))
    assert_state_doc(await st.plug_out(1, side="station"))
    assert (await link.expect("StatusNotification")).payload["status"] == "Available"
    assert await st.stop() == 0


async def test_control_api_lock_without_a_lock_mechanism_is_409(booted):
    """A socket outlet without a lock (connector_lock = false): nothing to make fail."""
    st, link = await booted(hardware={"fixed_cable": False, "connector_lock": False})
    status, doc = await st.api("POST", "/api/connectors/1/lock", {"failUnlock": True})
    assert (status, doc) == (409, {"error": "this station has no connector lock (hardware.connector_lock = false)"})
    assert await st.stop() == 0


@pytest.mark.parametrize("body, close_code", [(None, 1006), ({"mode": "drop"}, 1006), ({"mode": "close"}, 1000)],
                         ids=["default", "drop", "close"])
async def test_control_api_network_disconnect_drop_or_close(csms, booted, body, close_code):
    """"drop" is a lost link (no close frame: the CSMS sees an abnormal closure, 1006), "close" a proper
    websocket close (1000); either way the station stays offline until /api/network/connect."""
    st, link = await booted()
    ws = link.ws
    before = link.connections
    status, doc = await st.api("POST", "/api/network/disconnect", body)
    assert status == 200 and doc["network"] == "down"
    await link.wait_disconnected()
    assert ws.close_code == close_code
    await st.ok("POST", "/api/network/connect")
    await csms.wait_connected("CP001", after=before)
    assert await st.stop() == 0


async def test_control_api_power_cut_with_backup_power(booted):
    st, link = await booted()
    status, _ = await st.api("POST", "/api/power-cut", {"backupPower": True})
    assert status == 200
    await st.wait_exit()
    await link.wait_disconnected()


BAD_REQUESTS = [
    # (method, path, json body or raw bytes, status, field)
    ("POST", "/api/connectors/9/plug-in", None, 404, "connectorId"),
    ("POST", "/api/connectors/0/plug-in", None, 404, "connectorId"),
    ("POST", "/api/connectors/abc/plug-in", None, 404, "connectorId"),
    ("POST", "/api/connectors/9/plug-out", {"side": "both"}, 404, "connectorId"),
    ("POST", "/api/connectors/9/ev", {"state": "charging"}, 404, "connectorId"),
    ("POST", "/api/connectors/9/fault", {"errorCode": "GroundFailure"}, 404, "connectorId"),
    ("DELETE", "/api/connectors/9/fault", None, 404, "connectorId"),
    ("POST", "/api/connectors/9/lock", {"failLock": True}, 404, "connectorId"),
    ("POST", "/api/id-tag", {"idTag": "AB", "connectorId": 9}, 404, "connectorId"),
    ("POST", "/api/connectors/1/plug-out", b"not json", 400, None),
    ("POST", "/api/connectors/1/plug-out", b"[1, 2]", 400, None),
    ("POST", "/api/id-tag", b"{idTag: AB}", 400, None),
    ("POST", "/api/id-tag", b'["AB"]', 400, None),
    ("POST", "/api/connectors/1/ev", b'"charging"', 400, None),
    ("POST", "/api/power-cut", b"[true]", 400, None),
    ("POST", "/api/connectors/1/plug-out", {"side": "middle"}, 422, "side"),
    ("POST", "/api/connectors/1/plug-out", {"side": 1}, 422, "side"),
    ("POST", "/api/connectors/1/ev", {"state": "flying"}, 422, "state"),
    ("POST", "/api/connectors/1/ev", {}, 422, "state"),
    ("POST", "/api/connectors/1/ev", {"state": "charging", "powerW": "x"}, 422, "powerW"),
    ("POST", "/api/connectors/1/ev", {"state": "charging", "powerW": True}, 422, "powerW"),
    ("POST", "/api/connectors/1/ev", {"state": "charging", "powerW": -5}, 422, "powerW"),
    ("POST", "/api/connectors/1/fault", {"errorCode": "Foo"}, 422, "errorCode"),
    ("POST", "/api/connectors/1/fault", {"errorCode": "NoError"}, 422, "errorCode"),
    ("POST", "/api/connectors/1/fault", {"errorCode": "EVCommunicationError"}, 422, "errorCode"),
    ("POST", "/api/connectors/1/fault", {"errorCode": "GroundFailure", "info": "x" * 51}, 422, "info"),
    ("POST", "/api/id-tag", {"idTag": "A" * 21}, 422, "idTag"),
    ("POST", "/api/id-tag", {"idTag": ""}, 422, "idTag"),
    ("POST", "/api/id-tag", {}, 422, "idTag"),
    ("POST", "/api/id-tag", {"idTag": 12}, 422, "idTag"),
    ("POST", "/api/id-tag", {"idTag": "AB", "connectorId": "1"}, 422, "connectorId"),
    ("POST", "/api/id-tag", {"idTag": "AB", "colour": "red"}, 422, "colour"),
    ("POST", "/api/connectors/1/plug-in", {"foo": 1}, 422, "foo"),
    ("POST", "/api/connectors/1/lock", {"failLock": "yes"}, 422, "failLock"),
    ("POST", "/api/network/disconnect", {"now": True}, 422, "now"),
    ("POST", "/api/network/disconnect", {"mode": "unplug"}, 422, "mode"),
    ("POST", "/api/network/disconnect", {"mode": 1}, 422, "mode"),
    ("POST", "/api/power-cut", {"backupPower": "no"}, 422, "backupPower"),
    ("POST", "/api/power-cut", {"backup": True}, 422, "backup"),
]


async def test_control_api_bad_requests(booted):
    """404 unknown connector, 400 not a JSON object, 422 naming the field; nothing happens, the station
    keeps running."""
    st, link = await booted()
    failures = []
    for method, path, body, want_status, want_field in BAD_REQUESTS:
        if isinstance(body, bytes):
            status, data = await st.api(method, path, raw=body)
        else:
            status, data = await st.api(method, path, body)
        ok = status == want_status and isinstance(data, dict) and isinstance(data.get("error"), str)
        if want_field is not None:
            ok = ok and data.get("field") == want_field
        if not ok:
            failures.append((method, path, body, want_status, want_field, status, data))
    assert not failures, failures
    # nothing happened: no OCPP message, the station is alive, Available and answering
    await link.no_call(0.5, ignore=("Heartbeat",))
    assert st.proc.returncode is None
    c = assert_state_doc(await st.state())[1]
    assert (c["status"], c["errorCode"]) == ("Available", "NoError")
    conf = await link.call("GetConfiguration", {"key": ["NumberOfConnectors"]})
    assert conf == {"configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "1"}]}
    assert await st.stop() == 0


async def test_control_api_unknown_route_is_404_json(booted):
    st, link = await booted()
    status, data = await st.api("GET", "/api/nope")
    assert status == 404
    assert isinstance(data, dict) and "error" in data
    status, data = await st.api("GET", "/api/connectors/1/plug-in")  # wrong method
    assert status == 405
    assert st.proc.returncode is None
    assert await st.stop() == 0

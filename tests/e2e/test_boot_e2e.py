"""Boot end to end (TC_001_CS, TC_002_CS) with a real process and websocket."""

import re




async def test_tc_001_cs_cold_boot(csms, station_factory):
    """TC_001_CS: Boot Rejected (interval 2 s) -> nothing sent meanwhile -> Boot Accepted ->
    StatusNotification for connector 0 and 1 -> Heartbeats at the accepted interval."""
    csms.set_boot("Rejected", interval=2, identity="CP001")
    st = await station_factory()
    link = await csms.wait_connected("CP001")
    b1 = await link.expect("BootNotification")
    csms.set_boot("Accepted", interval=2, identity="CP001")
    b2 = await link.expect("BootNotification", timeout=10)
    assert b2.received_at - b1.received_at >= 2 - 0.1
    s = await link.expect_unordered(["StatusNotification", "StatusNotification"])
    assert sorted((c.payload["connectorId"], c.payload["status"]) for c in s) == [(0, "Available"), (1, "Available")]
    h1 = await link.expect("Heartbeat", timeout=5)
    h2 = await link.expect("Heartbeat", timeout=5)
    assert abs((h2.received_at - h1.received_at) - 2) < 1.0  # PNA tolerance ±1 s
    assert await st.stop() == 0


async def test_tc_002_cs_cold_boot_pending(csms, station_factory):
    """TC_002_CS: Pending -> GetConfiguration and ChangeConfiguration answered -> Boot again no earlier than
    the Pending interval after the first -> Accepted -> StatusNotification(Available) for connectors 0 and 1."""
    csms.set_boot("Pending", interval=3, identity="CP001")
    st = await station_factory()
    link = await csms.wait_connected("CP001")
    b1 = await link.expect("BootNotification")
    conf = await link.call("GetConfiguration", {})
    assert any(k["key"] == "MeterValueSampleInterval" for k in conf["configurationKey"])
    assert await link.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "15"}) == {
        "status": "Accepted"
    }
    csms.set_boot("Accepted", interval=30, identity="CP001")
    b2 = await link.expect("BootNotification", timeout=10)
    # [SPEC] §4.2: the interval of the Pending conf is the minimum wait before the next BootNotification
    assert b2.received_at - b1.received_at >= 3, b2.received_at - b1.received_at
    s = await link.expect_unordered(["StatusNotification", "StatusNotification"])
    assert sorted((c.payload["connectorId"], c.payload["status"], c.payload["errorCode"]) for c in s) == [
        (0, "Available", "NoError"), (1, "Available", "NoError")
    ]
    conf = await link.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf["configurationKey"][0]["value"] == "15"
    assert await st.stop() == 0


async def test_boot_with_zoneless_current_time_registers_and_sets_the_clock(csms, station_factory):
    """[ERRATA] 3.10: a CSMS answering BootNotification with a currentTime without a zone registers the station
    (read as UTC, with a warning in the log); the station's own timestamps stay UTC with milliseconds and Z."""
    csms.current_time = lambda: "2030-05-01T12:00:00"
    st = await station_factory()
    link = await csms.wait_connected("CP001")
    await link.expect("BootNotification")
    s = await link.expect_unordered(["StatusNotification", "StatusNotification"])
    assert sorted(c.payload["connectorId"] for c in s) == [0, 1]
    for c in s:
        assert re.fullmatch(r"2030-05-01T12:00:0\d\.\d{3}Z", c.payload["timestamp"]), c.payload["timestamp"]
    state = await st.state()
    assert state["registration"] == "Accepted"
    assert state["time"].startswith("2030-05-01T12:00:")
    assert any("'2030-05-01T12:00:00' has no time zone: read as UTC" in line for line in st.lines)
    assert await st.stop() == 0

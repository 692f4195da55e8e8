"""UnlockConnector at core level ([SPEC] §5.18; [ERRATA] 3.87; spec §2.3 UnlockConnector, §2.6 UnlockCommand).
OCTT cases TC_017_1, TC_017_2, TC_018_1, TC_018_2, TC_030, TC_031."""

from charging import booted, expect_status, plug, run, socket, start_charging, stop_confs, unplug


def test_tc_017_1_cs_unlock_connector_no_session_not_fixed_cable():
    """TC_017_1_CS Unlock connector - no session (not fixed cable): Unlocked, no other message ([SPEC] §5.18)."""
    h = booted(socket())
    assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    assert not h.hardware.connectors[1].locked
    h.no_call()


def test_tc_017_2_cs_unlock_connector_no_session_fixed_cable():
    """TC_017_2_CS Unlock connector - no session (fixed cable): NotSupported ([SPEC] §5.18; spec §2.3)."""
    h = booted()
    assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "NotSupported"}
    h.no_call()


def test_tc_018_1_cs_unlock_connector_with_session_not_fixed_cable():
    """TC_018_1_CS Unlock Connector - With Session (not fixed): Unlocked; StopTransaction(UnlockCommand) +
    Finishing (either order); Available after the cable is pulled ([SPEC] §5.18, §7.36; [ERRATA] 3.87)."""
    h = booted(socket())
    start_charging(h, tx_id=50)
    run(h, 25)
    h.no_call()
    assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    stop = stop_confs(h, 1, "UnlockCommand")
    assert stop.payload["transactionId"] == 50 and "idTag" not in stop.payload
    assert not h.hardware.connectors[1].locked and not h.hardware.connectors[1].relay_closed
    h.no_call()
    unplug(h, side="both")
    expect_status(h, 1, "Available")
    h.no_call()


def test_tc_018_2_cs_unlock_connector_with_session_fixed_cable():
    """TC_018_2_CS Unlock Connector - With Session (fixed cable): NotSupported; the transaction keeps running
    (no StopTransaction, no status change) ([SPEC] §5.18; spec §2.3)."""
    h = booted()
    start_charging(h, tx_id=51)
    assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "NotSupported"}
    h.no_call()
    answered = run(h, 60)
    assert [c.action for c in answered] == ["MeterValues"] * 3
    assert all(c.payload["transactionId"] == 51 for c in answered)
    h.no_call()
    assert h.station.connector(1).status.value == "Charging"


def test_tc_030_cs_unlock_connector_unlock_failure():
    """TC_030_CS Unlock Connector - Unlock Failure: the lock is stuck -> UnlockFailed ([SPEC] §5.18)."""
    h = booted(socket())
    plug(h)
    expect_status(h, 1, "Preparing")
    h.hardware.connectors[1].locked = True
    h.hardware.set_lock_failures(1, False, True)
    assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "UnlockFailed"}
    assert h.hardware.connectors[1].locked
    h.no_call()


def test_tc_031_cs_unlock_connector_unknown_connector():
    """TC_031_CS Unlock Connector - Unknown Connector: connectorId 9765 -> NotSupported, not UnlockFailed
    ([ERRATA] 3.87)."""
    h = booted(socket(connectors=2))
    assert h.csms_conf("UnlockConnector", {"connectorId": 9765}) == {"status": "NotSupported"}
    assert h.csms_conf("UnlockConnector", {"connectorId": 3}) == {"status": "NotSupported"}
    h.no_call()

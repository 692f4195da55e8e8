"""ChangeAvailability and faults at core level ([SPEC] §5.2, §4.9; spec §2.3 ChangeAvailability/StatusNotification,
§2.5). OCTT case TC_041 (and the availability parts of TC_013/TC_014/TC_034)."""

from charging import HB, booted, card, expect_status, plug, run, socket, start_charging, stop_confs, unplug

from harness import CoreHarness

from ocpp_station.store import MemoryStore


def _ca(h, cid, kind):
    return h.csms_conf("ChangeAvailability", {"connectorId": cid, "type": kind})["status"]


def _reboot(store, settings=None):
    """A new station on the same store: BootNotification Accepted; returns (harness, StatusNotifications)."""
    h = CoreHarness(settings, store=store)
    h.start()
    h.respond("BootNotification", h.boot_conf("Accepted", HB))
    statuses = [expect_status_any(h) for _ in range(h.settings.connectors + 1)]
    h.no_call()
    return h, statuses


def expect_status_any(h):
    c = h.respond("StatusNotification", {})
    return c.payload["connectorId"], c.payload["status"]


def test_tc_041_cs_fault_behavior():
    """TC_041_CS Fault Behavior: a fault gives StatusNotification Faulted with its errorCode; when it clears the
    connector returns to the state it had (Available; Charging for a running transaction) ([SPEC] §4.9 I1-I8)."""
    h = booted()
    h.feed(h.hardware.fault(1, "GroundFailure", None, h.now))
    f = expect_status(h, 1, "Faulted", "GroundFailure")
    assert f.payload["connectorId"] == 1
    h.no_call()
    card(h, "TAG1")  # a faulted connector takes no session
    h.no_call()
    h.advance(30)
    h.feed(h.hardware.clear_fault(1, h.now))
    expect_status(h, 1, "Available")
    h.no_call()

    start_charging(h, tx_id=41)
    h.feed(h.hardware.fault(1, "GroundFailure", "leak", h.now))
    f = expect_status(h, 1, "Faulted", "GroundFailure")
    assert f.payload["info"] == "leak"
    assert not h.hardware.connectors[1].relay_closed
    run(h, 20)
    h.feed(h.hardware.clear_fault(1, h.now))
    expect_status(h, 1, "Charging")
    assert h.hardware.connectors[1].relay_closed
    run(h, 1)
    h.no_call()
    assert all(c.action != "StopTransaction" for c in h.log)


def test_charge_point_fault_on_connector_zero():
    """A fault of the charge point as a whole is reported on connector 0 and clears back to Available."""
    h = booted()
    h.feed(h.hardware.fault(0, "PowerMeterFailure", None, h.now))
    expect_status(h, 0, "Faulted", "PowerMeterFailure")
    h.feed(h.hardware.clear_fault(0, h.now))
    expect_status(h, 0, "Available")
    h.no_call()


def test_change_availability_accepted_and_already_in_state():
    """Inoperative -> Accepted + Unavailable; again -> Accepted, nothing sent; Operative -> Available ([SPEC] §5.2)."""
    h = booted()
    assert _ca(h, 1, "Inoperative") == "Accepted"
    expect_status(h, 1, "Unavailable")
    assert _ca(h, 1, "Inoperative") == "Accepted"
    h.no_call()
    plug(h)  # an Unavailable connector starts nothing
    h.no_call()
    assert _ca(h, 1, "Operative") == "Accepted"
    expect_status(h, 1, "Preparing")
    h.no_call()


def test_change_availability_rejected_unknown_connector():
    """ChangeAvailability for a connector that does not exist -> Rejected, nothing changes."""
    h = booted()
    assert _ca(h, 5, "Inoperative") == "Rejected"
    h.no_call()
    assert h.station.connector(1).status.value == "Available"


def test_change_availability_scheduled_applied_at_transaction_end():
    """A running transaction: Scheduled; the transaction goes on; when it ends the connector becomes Unavailable
    (Charging -> Unavailable, [SPEC] §4.9, §5.2)."""
    h = booted()
    start_charging(h, tx_id=60)
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    h.no_call()
    run(h, 40)
    h.no_call()
    assert h.station.connector(1).status.value == "Charging"
    card(h, "TAG1")
    stop_confs(h, 1, "Local", status="Unavailable")
    h.no_call()
    unplug(h)
    h.no_call()
    assert _ca(h, 1, "Operative") == "Accepted"
    expect_status(h, 1, "Available")


def test_change_availability_connector_zero_all_unavailable_and_persisted():
    """connectorId 0: the charge point and every connector Unavailable; a running transaction makes it Scheduled
    for its connector; the state persists across a reboot ([SPEC] §5.2; TC_034)."""
    store = MemoryStore()
    h = booted(socket(connectors=2), store=store)
    start_charging(h, cid=2, tx_id=61)
    assert _ca(h, 0, "Inoperative") == "Scheduled"
    got = {expect_status_any(h) for _ in range(2)}
    assert got == {(0, "Unavailable"), (1, "Unavailable")}
    h.no_call()
    unplug(h, 2, side="ev")  # StopTransactionOnEVSideDisconnect=false: SuspendedEV, tx goes on
    expect_status(h, 2, "SuspendedEV")
    assert h.csms_conf("RemoteStopTransaction", {"transactionId": 61}) == {"status": "Accepted"}
    stop_confs(h, 2, "Remote", status="Unavailable")
    unplug(h, 2, side="station")  # the cable leaves the socket: nothing to report while Unavailable
    h.no_call()

    h2, statuses = _reboot(store, socket(connectors=2))
    assert statuses == [(0, "Unavailable"), (1, "Unavailable"), (2, "Unavailable")]
    assert _ca(h2, 0, "Operative") == "Accepted"
    got = {expect_status_any(h2) for _ in range(3)}
    assert got == {(0, "Available"), (1, "Available"), (2, "Available")}  # no cable in anywhere
    h2.no_call()


def test_change_availability_single_connector_persisted_across_reboot():
    """Inoperative on connector 1 survives a reboot: after BootNotification connector 0 Available, connector 1
    Unavailable ([SPEC] §5.2; TC_013/TC_014)."""
    store = MemoryStore()
    h = booted(store=store)
    assert _ca(h, 1, "Inoperative") == "Accepted"
    expect_status(h, 1, "Unavailable")
    h2, statuses = _reboot(store)
    assert statuses == [(0, "Available"), (1, "Unavailable")]
    assert _ca(h2, 1, "Operative") == "Accepted"
    expect_status(h2, 1, "Available")
    h3, statuses = _reboot(store)
    assert statuses == [(0, "Available"), (1, "Available")]

"""Charging sessions at core level: start/stop, ConnectionTimeOut, EV-side disconnect, MinimumStatusDuration,
StartTransaction.conf not Accepted ([SPEC] §3.6, §4.8-4.10; [ERRATA] 3.5, 3.17, 3.19, 3.20, 3.77/3.89, 3.80;
spec §2.3, §2.5, §2.6). OCTT cases TC_003, TC_004_1, TC_004_2, TC_005_1/2/3, TC_024, TC_037_3, TC_068, TC_069."""

import pytest
from charging import (
    ACCEPTED, booted, run, card, configure, expect_status, plug, respond_unordered, sn, socket, start_charging,
    start_confs, stop_confs, unplug,
)

from harness import CoreHarness

from ocpp_station.store import MemoryStore

T = "2026-01-01T00:00:00.000Z"


def test_tc_003_cs_regular_charging_session_plugin_first():
    """TC_003_CS Regular Charging Session - Plugin First: Preparing, Authorize (Accepted),
    StartTransaction with the same idTag + Charging in either order (spec §2.3 Authorize/StartTransaction)."""
    h = booted()
    plug(h)
    prep = expect_status(h, 1, "Preparing")
    assert prep.payload == {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": T}
    h.no_call()
    card(h, "TAG1")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "TAG1"}
    got = start_confs(h, 1, 42)
    assert got["StartTransaction"].payload == {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": T}
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx.transaction_id == 42
    assert h.hardware.connectors[1].relay_closed


def test_tc_004_1_cs_regular_charging_session_identification_first():
    """TC_004_1_CS Identification First: Authorize, Preparing, then on plug StartTransaction + Charging
    (either order); MeterValueSampleInterval configured first ([SPEC] §3.6; spec §2.3)."""
    h = booted()
    configure(h, MeterValueSampleInterval=30)
    card(h, "TAG1")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "TAG1"}
    expect_status(h, 1, "Preparing")
    h.no_call()
    h.advance(5)
    plug(h)
    got = start_confs(h, 1, 7)
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    h.no_call()
    mv = h.advance_to_next_call()
    assert mv.action == "MeterValues" and mv.at == got["StartTransaction"].at + 30
    assert mv.payload["transactionId"] == 7


def test_tc_004_2_cs_identification_first_connection_timeout():
    """TC_004_2_CS Identification First - ConnectionTimeOut: Authorize, Preparing, then exactly
    ConnectionTimeOut after Preparing began StatusNotification Available ([ERRATA] 3.77/3.89; spec §2.4)."""
    h = booted()
    configure(h, ConnectionTimeOut=30)
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    prep = expect_status(h, 1, "Preparing")
    h.advance(30 - 0.001)
    h.no_call()
    h.advance(0.001)
    avail = expect_status(h, 1, "Available")
    assert avail.at - prep.at == 30
    h.no_call()
    # the authorization is gone: plugging in now does not start a transaction
    plug(h)
    expect_status(h, 1, "Preparing")
    h.no_call()


def test_connection_timeout_plug_first_goes_to_finishing():
    """ConnectionTimeOut with the cable in and no idTag: Preparing -> Finishing (B6, [ERRATA] 3.20), exactly at
    the timeout; nothing before."""
    h = booted()
    configure(h, ConnectionTimeOut=20)
    plug(h)
    prep = expect_status(h, 1, "Preparing")
    h.advance(19.999)
    h.no_call()
    h.advance(0.001)
    fin = expect_status(h, 1, "Finishing")
    assert fin.at - prep.at == 20
    unplug(h)
    expect_status(h, 1, "Available")
    h.no_call()


def _preparing_then_finishing(h, timeout: float) -> None:
    """The connector has just entered Preparing (reported now) with the cable in and no idTag: Finishing exactly
    ConnectionTimeOut later, nothing before ([ERRATA] 3.77/3.89, 3.20 B6)."""
    prep = expect_status(h, 1, "Preparing")
    h.advance(timeout - 0.001)
    h.no_call()
    h.advance(0.001)
    fin = expect_status(h, 1, "Finishing")
    assert fin.at - prep.at == timeout
    h.no_call()


def test_connection_timeout_counts_from_preparing_after_a_reboot_with_the_cable_in():
    """The cable is in when the station boots, no session: Preparing, and ConnectionTimeOut counts from there
    ([ERRATA] 3.77/3.89: from the start of Preparing, whatever led to it)."""
    store = MemoryStore()
    h = booted(store=store)
    configure(h, ConnectionTimeOut=20, HeartbeatInterval=0)
    plug(h)
    expect_status(h, 1, "Preparing")
    h.advance(5)  # power cut before the timeout
    h2 = CoreHarness(store=store, now=h.now + 30)
    h2.start()
    h2.respond("BootNotification", h2.boot_conf(interval=0))
    expect_status(h2, 0, "Available")
    _preparing_then_finishing(h2, 20)
    unplug(h2)
    expect_status(h2, 1, "Available")


def test_connection_timeout_counts_from_preparing_after_change_availability_operative():
    """Inoperative, the cable goes in (Unavailable), then Operative: Preparing, Finishing after ConnectionTimeOut
    ([ERRATA] 3.77/3.89; [SPEC] §5.2)."""
    h = booted()
    configure(h, ConnectionTimeOut=20)
    assert h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Accepted"}
    expect_status(h, 1, "Unavailable")
    plug(h)
    h.advance(100)
    h.no_call()
    assert h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Accepted"}
    _preparing_then_finishing(h, 20)


def test_connection_timeout_counts_again_from_preparing_after_a_fault_clears():
    """Plugged in (Preparing), a fault (Faulted) stops the count; once it clears, Preparing again and
    ConnectionTimeOut counts from that moment ([ERRATA] 3.77/3.89; spec §2.5 I1-I8)."""
    h = booted()
    configure(h, ConnectionTimeOut=20)
    plug(h)
    expect_status(h, 1, "Preparing")
    h.advance(10)
    h.feed(h.hardware.fault(1, "GroundFailure", None, h.now))
    expect_status(h, 1, "Faulted", "GroundFailure")
    h.advance(100)
    h.no_call()
    h.feed(h.hardware.clear_fault(1, h.now))
    _preparing_then_finishing(h, 20)


def _ev_side(stop: bool, unlock: bool):
    h = booted(socket())
    configure(h, MinimumStatusDuration=0, StopTransactionOnEVSideDisconnect=stop,
              UnlockConnectorOnEVSideDisconnect=unlock)
    start_charging(h, tx_id=5)
    assert h.hardware.connectors[1].locked
    run(h, 60)
    h.no_call()
    unplug(h, side="ev")
    return h


def test_tc_005_1_cs_ev_side_disconnected_stop_and_unlock():
    """TC_005_1_CS EV side disconnected, StopTransactionOnEVSideDisconnect=true, UnlockConnectorOnEVSideDisconnect
    =true: StopTransaction(EVDisconnected) + Finishing (either order), the cable unlocked; Available only once the
    cable leaves the socket ([SPEC] §4.10, §7.36; [ISSUES] MicroOcpp #326)."""
    h = _ev_side(True, True)
    stop = stop_confs(h, 1, "EVDisconnected")
    assert stop.payload["transactionId"] == 5 and "idTag" not in stop.payload
    assert not h.hardware.connectors[1].locked
    h.no_call()
    h.advance(5)
    h.no_call()  # not Available while the cable is still in the socket
    unplug(h, side="station")
    expect_status(h, 1, "Available")
    h.no_call()


def test_tc_005_2_cs_ev_side_disconnected_stop_no_unlock():
    """TC_005_2_CS StopTransactionOnEVSideDisconnect=true, UnlockConnectorOnEVSideDisconnect=false:
    StopTransaction(EVDisconnected) + Finishing; the cable stays locked until UnlockConnector (Unlocked);
    then Available after unplug ([SPEC] §5.18)."""
    h = _ev_side(True, False)
    stop_confs(h, 1, "EVDisconnected")
    assert h.hardware.connectors[1].locked
    unplug(h, side="station")  # locked: cannot be pulled
    h.no_call()
    assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    assert not h.hardware.connectors[1].locked
    h.no_call()
    unplug(h, side="station")
    expect_status(h, 1, "Available")
    h.no_call()


def test_tc_005_3_cs_ev_side_disconnected_no_stop():
    """TC_005_3_CS StopTransactionOnEVSideDisconnect=false: SuspendedEV (NoError, info), no StopTransaction,
    cable locked; RemoteStopTransaction Accepted -> StopTransaction(Remote) + Finishing ([SPEC] §4.9;
    [ERRATA] 3.80; MicroOcpp #326)."""
    h = _ev_side(False, False)
    s = expect_status(h, 1, "SuspendedEV")
    assert s.payload["info"] == "EV side disconnected"
    assert len(run(h, 100)) == 5  # the transaction goes on: MeterValues every 20 s
    h.no_call()
    assert h.hardware.connectors[1].locked
    assert h.csms_conf("RemoteStopTransaction", {"transactionId": 5}) == {"status": "Accepted"}
    stop = stop_confs(h, 1, "Remote")
    assert stop.payload["transactionId"] == 5
    h.no_call()


def test_tc_068_cs_stop_transaction_idtag_matches():
    """TC_068_CS Stop transaction - IdTag matches StartTransaction: another idTag does not stop it; the starting
    idTag stops it without Authorize.req: StopTransaction(idTag, Local) + Finishing ([SPEC] §4.1, §4.10)."""
    h = booted()
    start_charging(h, tag="TAG1", tx_id=3)
    card(h, "OTHER")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "OTHER"}
    run(h, 30)
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx is not None
    card(h, "tag1")  # idTags compare case-insensitively
    stop = stop_confs(h, 1, "Local")
    assert stop.payload["idTag"] == "tag1" and stop.payload["transactionId"] == 3
    assert [c.payload["idTag"] for c in h.log if c.action == "Authorize"] == ["TAG1", "OTHER"]
    h.no_call()
    unplug(h)
    expect_status(h, 1, "Available")


def test_tc_069_cs_stop_transaction_parent_idtag_matches():
    """TC_069_CS Stop transaction - ParentIdTag matches: idTag2 with the same parentIdTag as idTag1 stops it
    after Authorize.req(idTag2): StopTransaction(idTag2, Local) + Finishing ([SPEC] §4.1, §4.10)."""
    h = booted()
    start_charging(h, tag="TAG1", tx_id=9, parent="PARENT")
    card(h, "TAG2")
    a = h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "PARENT"}})
    assert a.payload == {"idTag": "TAG2"}
    stop = stop_confs(h, 1, "Local")
    assert stop.payload["idTag"] == "TAG2" and stop.payload["transactionId"] == 9
    h.no_call()


def test_tc_024_cs_start_charging_session_lock_failure():
    """TC_024_CS Start Charging Session - Lock Failure: RemoteStart Accepted, [Authorize], Preparing; the cable is
    plugged but the lock fails: Faulted(ConnectorLockFailure), no StartTransaction (spec §2.3, §2.5)."""
    h = booted(socket())
    conf = h.csms_conf("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    artr = conf["configurationKey"][0]["value"] == "true"
    h.hardware.set_lock_failures(1, True, False)
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    if artr:
        h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    plug(h)
    expect_status(h, 1, "Faulted", "ConnectorLockFailure")
    h.advance(30)
    h.no_call()
    assert all(c.action != "StartTransaction" for c in h.log)
    unplug(h, side="both")  # the cable (never locked) comes out: the lock failure clears
    expect_status(h, 1, "Available")
    h.no_call()


def test_minimum_status_duration_short_status_never_sent():
    """MinimumStatusDuration: a status stable for less than MSD is never reported; a stable one is reported
    MSD after the change ([SPEC] §9.1 MinimumStatusDuration; [ERRATA] 3.19)."""
    h = booted(MinimumStatusDuration=10)
    plug(h)
    h.advance(9.999)
    unplug(h)  # Preparing lasted < 10 s, back to Available
    h.advance(60)
    h.no_call()
    plug(h)
    t0 = h.now
    h.advance(9.999)
    h.no_call()
    h.advance(0.001)
    prep = expect_status(h, 1, "Preparing")
    assert prep.at == t0 + 10
    h.no_call()


def test_start_not_accepted_stop_on_invalid_id_true_deauthorized():
    """StartTransaction.conf Invalid with StopTransactionOnInvalidId=true: StopTransaction(DeAuthorized) +
    Finishing; the socket cable stays locked until the same idTag comes back ([ERRATA] 3.5, 3.17; spec §2.3)."""
    h = booted(socket())
    configure(h, StopTransactionOnInvalidId=True)
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    got = respond_unordered(h, {"StartTransaction": {"transactionId": 11, "idTagInfo": {"status": "Invalid"}},
                                "StatusNotification": {}})
    assert sn(got["StatusNotification"]) == (1, "Charging", "NoError")
    stop = stop_confs(h, 1, "DeAuthorized")
    assert stop.payload["transactionId"] == 11 and "idTag" not in stop.payload
    h.no_call()
    assert not h.hardware.connectors[1].relay_closed
    assert h.hardware.connectors[1].locked
    card(h, "SOMEONE")
    assert h.hardware.connectors[1].locked
    card(h, "TAG1")
    assert not h.hardware.connectors[1].locked
    unplug(h, side="both")
    expect_status(h, 1, "Available")
    h.no_call()


def _deauthorized_on_socket(h, parent="P1"):
    """Charging on a socket with TAG1 (parent ``parent``), then StartTransaction.conf Invalid with
    StopTransactionOnInvalidId=true: StopTransaction(DeAuthorized) + Finishing, the cable locked."""
    configure(h, StopTransactionOnInvalidId=True)
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": parent}})
    respond_unordered(h, {"StartTransaction": {"transactionId": 11, "idTagInfo": {"status": "Invalid",
                                                                                  "parentIdTag": parent}},
                          "StatusNotification": {}})
    stop_confs(h, 1, "DeAuthorized")
    h.no_call()
    assert h.hardware.connectors[1].locked


@pytest.mark.parametrize("answer_parent, unlocks", [("P1", True), ("p1", True), ("P2", False), (None, False)])
def test_deauthorized_unlock_by_a_not_cached_idtag_asks_for_its_parent(answer_parent, unlocks):
    """After a DeAuthorized stop, an idTag the station has never seen is authorized (Authorize.req) to learn its
    parentIdTag; the same parent (compared case-insensitively) unlocks the cable, another or none does not
    ([ERRATA] 3.5)."""
    h = booted(socket())
    _deauthorized_on_socket(h)
    card(h, "TAG2")
    info = {"status": "Accepted", **({"parentIdTag": answer_parent} if answer_parent else {})}
    assert h.respond("Authorize", {"idTagInfo": info}).payload == {"idTag": "TAG2"}
    h.no_call()
    assert h.hardware.connectors[1].locked is not unlocks
    assert not h.hardware.connectors[1].relay_closed


def test_deauthorized_unlock_by_a_cached_idtag_with_the_same_parent_needs_no_authorize():
    """An idTag whose parent the cache knows unlocks at once, without an Authorize.req ([ERRATA] 3.5)."""
    h = booted(socket())
    card(h, "TAG2", cid=1)
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "P1"}})
    expect_status(h, 1, "Preparing")
    card(h, "TAG2")  # cancels; TAG2 stays in the cache with its parent
    expect_status(h, 1, "Available")
    _deauthorized_on_socket(h)
    card(h, "TAG2")
    h.no_call()
    assert not h.hardware.connectors[1].locked


def test_deauthorized_unlock_offline_by_an_unknown_idtag_keeps_the_lock():
    """Offline, an idTag the station does not know has no known parent: the cable stays locked, even when
    AllowOfflineTxForUnknownId accepts unknown idTags; the same idTag still unlocks ([ERRATA] 3.5)."""
    h = booted(socket(), AllowOfflineTxForUnknownId=True)
    _deauthorized_on_socket(h)
    h.disconnect()
    card(h, "TAG2")
    assert h.hardware.connectors[1].locked
    card(h, "TAG1")
    assert not h.hardware.connectors[1].locked
    h.connect()
    h.no_call()


@pytest.mark.parametrize("owner", ["TAG9", "tag9", "SIBLING"])
def test_tc_037_3_cs_offline_start_invalid_on_a_socket_keeps_the_cable_locked(owner):
    """TC_037_3_CS on a socket outlet: started offline with an unknown idTag; on reconnect StartTransaction.conf
    Invalid (parent ACME) -> StopTransaction(DeAuthorized) + Finishing; the cable stays locked (it cannot leave the
    socket) for other idTags, until the same idTag (any case, no Authorize.req) or one with the same parent
    (learnt by Authorize.req) is presented; then it comes out: Available ([SPEC] §3.5.4; [ERRATA] 3.5, 3.17)."""
    h = booted(socket(), StopTransactionOnInvalidId=True, AllowOfflineTxForUnknownId=True, MeterValueSampleInterval=0)
    h.disconnect()
    plug(h)
    card(h, "TAG9")
    assert h.station.connector(1).status.value == "Charging"
    h.advance(60)
    h.connect()
    got = respond_unordered(h, {"StatusNotification": {}, "StartTransaction": {
        "transactionId": 37, "idTagInfo": {"status": "Invalid", "parentIdTag": "ACME"}}})
    assert sn(got["StatusNotification"]) == (1, "Charging", "NoError")
    assert got["StartTransaction"].payload["timestamp"] == T  # the original time of the offline start
    stop = stop_confs(h, 1, "DeAuthorized")
    assert stop.payload["transactionId"] == 37
    h.no_call()
    unplug(h, side="both")  # the EV leaves; the locked cable stays in the socket
    assert h.hardware.connectors[1].locked and h.hardware.connectors[1].station_plugged
    h.no_call()  # still Finishing
    card(h, "OTHER1")
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "OTHERCO"}})
    card(h, "BLOCKED1")
    h.respond("Authorize", {"idTagInfo": {"status": "Blocked"}})
    h.no_call()
    assert h.hardware.connectors[1].locked
    card(h, owner)
    if owner == "SIBLING":
        h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "acme"}})
    h.no_call()
    assert not h.hardware.connectors[1].locked
    unplug(h, side="station")
    expect_status(h, 1, "Available")
    h.no_call()


def test_start_not_accepted_stop_on_invalid_id_false_suspended_evse():
    """StartTransaction.conf Blocked with StopTransactionOnInvalidId=false: the transaction is kept but energy
    stops: SuspendedEVSE, no StopTransaction; the driver's stop is a Local one ([ERRATA] 3.17, 3.55)."""
    h = booted()
    configure(h, StopTransactionOnInvalidId=False)
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    respond_unordered(h, {"StartTransaction": {"transactionId": 12, "idTagInfo": {"status": "Blocked"}},
                          "StatusNotification": {}})
    expect_status(h, 1, "SuspendedEVSE")
    h.no_call()
    assert not h.hardware.connectors[1].relay_closed
    e0 = h.hardware.read(1, h.now).energy_wh
    run(h, 100)
    h.no_call()
    assert h.hardware.read(1, h.now).energy_wh == e0
    card(h, "TAG1")
    stop = stop_confs(h, 1, "Local")
    assert stop.payload["transactionId"] == 12


@pytest.mark.parametrize("path", ["Local", "Remote", "EVDisconnected", "UnlockCommand", "DeAuthorized"])
def test_stop_transaction_reason_for_every_path(path):
    """StopTransaction.reason for each way a transaction ends ([SPEC] §7.36; spec §2.6)."""
    h = booted(socket())
    configure(h, StopTransactionOnEVSideDisconnect=True, StopTransactionOnInvalidId=True)
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    status = "Accepted" if path != "DeAuthorized" else "Invalid"
    start_confs(h, 1, 77, {"status": status})
    if path == "Local":
        card(h, "TAG1")
    elif path == "Remote":
        assert h.csms_conf("RemoteStopTransaction", {"transactionId": 77}) == {"status": "Accepted"}
    elif path == "EVDisconnected":
        unplug(h, side="ev")
    elif path == "UnlockCommand":
        assert h.csms_conf("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    stop = stop_confs(h, 1, path)
    assert stop.payload["transactionId"] == 77
    assert stop.payload["meterStop"] >= 1000
    h.no_call()


def test_max_energy_on_invalid_id_allows_that_much_energy_then_suspends():
    """MaxEnergyOnInvalidId ([SPEC] §9.1): after StartTransaction.conf says Invalid (StopTransactionOnInvalidId
    false), the EV may take this many Wh more from the start; then SuspendedEVSE."""
    from charging import booted, card, configure, plug

    h = booted(MaxEnergyOnInvalidId=550, MeterValueSampleInterval=0)  # 11 kW: 550 Wh last 180 s
    configure(h, StopTransactionOnInvalidId=False)
    plug(h)
    h.respond("StatusNotification", {})
    card(h, "TAG1")
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted"}})
    h.respond_unordered(
        {"StatusNotification": {}, "StartTransaction": {"transactionId": 5, "idTagInfo": {"status": "Invalid"}}}
    )
    assert h.station.connector(1).status.value == "Charging"
    h.advance(179.9)
    assert h.station.connector(1).status.value == "Charging"
    h.advance(0.2)
    assert h.station.connector(1).status.value == "SuspendedEVSE"
    assert h.respond("StatusNotification", {}).payload["status"] == "SuspendedEVSE"
    assert h.hardware.read(1, h.now).energy_wh == pytest.approx(1000 + 550, abs=0.1)


def test_start_transaction_conf_with_zoneless_expiry_date_is_taken():
    """[ERRATA] 3.10: a StartTransaction.conf whose idTagInfo.expiryDate has no zone (read as UTC) is an
    answer like any other: the transaction gets its id once, no retry, and StopTransaction carries it."""
    h = booted()
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    start_confs(h, 1, 42, {"status": "Accepted", "expiryDate": "2030-05-01T12:00:00"})
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx.transaction_id == 42
    assert len(h.station.tx_queue) == 0
    sent = run(h, 600)  # answers MeterValues: anything else (a StartTransaction retry) stops it
    h.no_call()
    assert sent and all(c.payload["transactionId"] == 42 for c in sent)
    card(h, "TAG1")
    stop = stop_confs(h, 1, "Local")
    assert stop.payload["transactionId"] == 42

"""ChangeAvailability and faults at core level ([SPEC] §5.2, §4.9; spec §2.3 ChangeAvailability/StatusNotification,
§2.5). OCTT case TC_041 (and the availability parts of TC_013/TC_014/TC_034)."""

import pytest
from charging import (
    ACCEPTED, HB, booted, card, configure, expect_status, plug, run, socket, start_charging, start_confs, stop_confs,
    unplug,
)

from harness import CoreHarness

from ocpp_station.core.connector import TRANSITIONS, Status
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


# -- an Inoperative change while the connector is Preparing ([SPEC] §4.9 has no Preparing -> Unavailable) ----------


def test_inoperative_while_preparing_with_the_cable_in_is_scheduled_until_the_cable_is_out():
    """Cable in, no transaction (Preparing): Scheduled, nothing sent; the change applies once the session ends:
    Available (the usage ended) then Unavailable, each reported ([SPEC] §4.9, §5.2)."""
    h = booted()
    plug(h)
    expect_status(h, 1, "Preparing")
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    h.no_call()
    h.advance(10)
    h.no_call()
    unplug(h)
    a = expect_status(h, 1, "Available")
    u = expect_status(h, 1, "Unavailable")
    assert a.at == u.at == h.now
    h.no_call()
    card(h, "TAG1")  # Unavailable now: a card starts nothing
    h.no_call()
    assert _ca(h, 1, "Operative") == "Accepted"
    expect_status(h, 1, "Available")
    h.no_call()


def test_inoperative_while_preparing_applies_after_connection_timeout_via_finishing():
    """Cable in, no idTag: Scheduled; after ConnectionTimeOut Preparing -> Finishing (B6, [ERRATA] 3.20), then
    Unavailable (Finishing -> Unavailable, [SPEC] §4.9)."""
    h = booted()
    configure(h, ConnectionTimeOut=30)
    plug(h)
    prep = expect_status(h, 1, "Preparing")
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    h.advance(30 - 0.001)
    h.no_call()
    h.advance(0.001)
    f = expect_status(h, 1, "Finishing")
    assert f.at - prep.at == 30
    expect_status(h, 1, "Unavailable")
    h.no_call()
    unplug(h)  # the cable leaves: nothing to report while Unavailable
    h.no_call()


def test_inoperative_with_a_card_accepted_and_no_cable_applies_after_connection_timeout():
    """A card accepted, no cable (Preparing): Scheduled; ConnectionTimeOut ends the incipient session:
    Available then Unavailable ([ERRATA] 3.77/3.89; [SPEC] §4.9, §5.2)."""
    h = booted()
    configure(h, ConnectionTimeOut=30)
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    prep = expect_status(h, 1, "Preparing")
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    h.no_call()
    h.advance(30)
    a = expect_status(h, 1, "Available")
    assert a.at - prep.at == 30
    expect_status(h, 1, "Unavailable")
    h.no_call()
    plug(h)  # the authorization is gone and the connector is Unavailable: nothing starts
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx is None


def test_inoperative_while_preparing_lets_the_session_become_a_transaction_then_applies_at_its_end():
    """The incipient session may still start: the change then waits for the end of that transaction
    (Charging -> Unavailable, [SPEC] §4.9, §5.2)."""
    h = booted()
    plug(h)
    expect_status(h, 1, "Preparing")
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    start_confs(h, 1, 70)
    h.no_call()
    card(h, "TAG1")
    stop_confs(h, 1, "Local", status="Unavailable")
    h.no_call()


def test_operative_cancels_an_inoperative_change_scheduled_while_preparing():
    """Operative before the session ends: Accepted (already operative); the unplug then leaves it Available."""
    h = booted()
    plug(h)
    expect_status(h, 1, "Preparing")
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    assert _ca(h, 1, "Operative") == "Accepted"
    h.no_call()
    unplug(h)
    expect_status(h, 1, "Available")
    h.no_call()


def test_inoperative_on_connector_zero_while_a_connector_is_preparing():
    """connectorId 0 with connector 1 Preparing: Scheduled; connector 0 and the idle connector 2 go Unavailable at
    once, connector 1 when its session ends; the state persists across a reboot ([SPEC] §5.2, §4.9)."""
    store = MemoryStore()
    h = booted(socket(connectors=2), store=store)
    configure(h, ConnectionTimeOut=30)
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    assert _ca(h, 0, "Inoperative") == "Scheduled"
    got = {expect_status_any(h) for _ in range(2)}
    assert got == {(0, "Unavailable"), (2, "Unavailable")}
    h.no_call()
    h.advance(30)
    expect_status(h, 1, "Available")
    expect_status(h, 1, "Unavailable")
    h.no_call()
    h2, statuses = _reboot(store, socket(connectors=2))
    assert statuses == [(0, "Unavailable"), (1, "Unavailable"), (2, "Unavailable")]


def test_scheduled_while_preparing_persists_across_a_reboot():
    """A reboot before the session ends: the Inoperative change, already persisted, is in force at boot."""
    store = MemoryStore()
    h = booted(store=store)
    plug(h)
    expect_status(h, 1, "Preparing")
    assert _ca(h, 1, "Inoperative") == "Scheduled"
    h2, statuses = _reboot(store)
    assert statuses == [(0, "Available"), (1, "Unavailable")]


def _to_status(h, status):
    """Drive connector 1 of a booted station into ``status`` (each StatusNotification answered)."""
    if status == "Faulted":
        h.feed(h.hardware.fault(1, "GroundFailure", None, h.now))
        expect_status(h, 1, "Faulted", "GroundFailure")
    elif status == "Preparing":
        plug(h)
        expect_status(h, 1, "Preparing")
    elif status == "Unavailable":
        assert _ca(h, 1, "Inoperative") == "Accepted"
        expect_status(h, 1, "Unavailable")
    elif status == "SuspendedEVSE":  # StartTransaction.conf not Accepted, StopTransactionOnInvalidId=false
        configure(h, StopTransactionOnInvalidId=False, MaxEnergyOnInvalidId=0)
        plug(h)
        expect_status(h, 1, "Preparing")
        card(h, "TAG1")
        h.respond("Authorize", ACCEPTED)
        start_confs(h, 1, 80, info={"status": "Invalid"})
        expect_status(h, 1, "SuspendedEVSE")
    elif status != "Available":
        start_charging(h, tx_id=80)
        if status == "SuspendedEV":
            h.feed(h.hardware.set_ev(1, False, None, h.now))
            expect_status(h, 1, "SuspendedEV")
        elif status == "Finishing":
            card(h, "TAG1")
            stop_confs(h, 1, "Local")
    h.no_call()
    assert h.station.connector(1).status.value == status


# status -> (answer to Inoperative, statuses reported at once)
INOPERATIVE_FROM = {
    "Available": ("Accepted", ["Unavailable"]),
    "Preparing": ("Scheduled", []),  # no Preparing -> Unavailable: waits for the session to end
    "Charging": ("Scheduled", []),  # a transaction runs: after it ([SPEC] §5.2)
    "SuspendedEV": ("Scheduled", []),
    "SuspendedEVSE": ("Scheduled", []),
    "Finishing": ("Accepted", ["Unavailable"]),
    "Faulted": ("Accepted", []),  # stays Faulted; Unavailable when the fault clears
    "Unavailable": ("Accepted", []),  # already in that state
}


def test_every_status_without_an_edge_to_unavailable_answers_scheduled():
    """Every status the table gives no edge to Unavailable is one where Inoperative is Scheduled ([SPEC] §4.9).
    Reserved (an edge exists) belongs to the Reservation profile."""
    no_edge = {s.value for s, to in TRANSITIONS.items() if Status.UNAVAILABLE not in to and s != Status.UNAVAILABLE}
    assert no_edge == {"Preparing"}
    assert {s for s, (answer, _) in INOPERATIVE_FROM.items() if answer == "Scheduled"} >= no_edge
    assert set(INOPERATIVE_FROM) == {s.value for s in Status} - {"Reserved"}


@pytest.mark.parametrize("status", list(INOPERATIVE_FROM))
def test_inoperative_from_every_status(status):
    """ChangeAvailability(Inoperative) from each status a connector can be in: the answer, what is reported at once,
    and that the connector ends Unavailable once it is free, every status reported on the way ([SPEC] §4.9, §5.2)."""
    h = booted(socket())
    _to_status(h, status)
    answer, at_once = INOPERATIVE_FROM[status]
    assert _ca(h, 1, "Inoperative") == answer
    for s in at_once:
        expect_status(h, 1, s)
    h.no_call()
    # free the connector: clear the fault, stop the transaction, take the cable out
    if status == "Faulted":
        h.feed(h.hardware.clear_fault(1, h.now))
        expect_status(h, 1, "Unavailable")
    elif answer == "Scheduled" and status != "Preparing":
        assert h.csms_conf("RemoteStopTransaction", {"transactionId": 80}) == {"status": "Accepted"}
        stop_confs(h, 1, "Remote", status="Unavailable")
    elif status == "Preparing":
        unplug(h, side="both")
        expect_status(h, 1, "Available")
        expect_status(h, 1, "Unavailable")
    unplug(h, side="both")
    h.no_call()
    assert h.station.connector(1).status.value == "Unavailable"


def test_connector_zero_inoperative_lets_a_preparing_session_start_then_applies_at_its_end():
    """connectorId 0 while connector 1 is Preparing with the cable in: its session goes on (a card starts the
    transaction), and the connector goes Unavailable when that transaction ends ([SPEC] §5.2, §4.9)."""
    h = booted(socket(connectors=2))
    plug(h)
    expect_status(h, 1, "Preparing")
    assert _ca(h, 0, "Inoperative") == "Scheduled"
    got = {expect_status_any(h) for _ in range(2)}
    assert got == {(0, "Unavailable"), (2, "Unavailable")}
    # the station picks no connector for a RemoteStart without connectorId: 2 is Unavailable, 1 about to be
    assert h.csms_conf("RemoteStartTransaction", {"idTag": "R"}) == {"status": "Rejected"}
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    start_confs(h, 1, 71)
    h.no_call()
    card(h, "TAG1")
    stop_confs(h, 1, "Local", status="Unavailable")
    h.no_call()


def test_operative_for_one_connector_while_connector_zero_is_inoperative_is_rejected():
    """connectorId 0 Inoperative makes the whole charge point unavailable ([SPEC] §5.2: the change applies to the
    Charge Point and all connectors; unavailable = does not allow any charging): Operative for connector 1 alone
    is Rejected and it stays Unavailable; Operative for connectorId 0 brings everything back."""
    h = booted()
    assert _ca(h, 0, "Inoperative") == "Accepted"
    got = {expect_status_any(h) for _ in range(2)}
    assert got == {(0, "Unavailable"), (1, "Unavailable")}
    assert _ca(h, 1, "Operative") == "Rejected"
    h.advance(5)
    h.no_call()
    assert h.station.connector(1).status.value == "Unavailable"
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "R"}) == {"status": "Rejected"}
    assert _ca(h, 1, "Inoperative") == "Accepted"  # already in that state
    h.no_call()
    assert _ca(h, 0, "Operative") == "Accepted"
    got = {expect_status_any(h) for _ in range(2)}
    assert got == {(0, "Available"), (1, "Available")}
    h.no_call()


# -- leaving Unavailable with the cable still in after a session ([SPEC] §4.9 has no Unavailable -> Finishing) -------


@pytest.mark.parametrize("settings, ev_side_out, back_to", [
    (None, False, "Preparing"),  # fixed cable still in the EV
    (socket(), False, "Preparing"),  # cable in the socket and in the EV
    (socket(), True, "Available"),  # cable left in the socket, EV gone
])
def test_operative_after_a_session_ended_reports_only_the_real_status(settings, ev_side_out, back_to):
    """Finishing -> Unavailable is legal, Unavailable -> Finishing is not: back to Operative the connector reports
    what it is now, once: Preparing with the EV connected (a card starts a session; ConnectionTimeOut counts,
    B6 then leads to Finishing, [ERRATA] 3.20), Available when only the cable is left in the socket. No Preparing
    that never happened on the way to a Finishing."""
    h = booted(settings)
    configure(h, ConnectionTimeOut=30, StopTransactionOnEVSideDisconnect=False)
    start_charging(h, tx_id=90)
    card(h, "TAG1")
    stop_confs(h, 1, "Local")
    if ev_side_out:
        unplug(h, side="ev")
        h.no_call()  # the cable is still in the socket: Finishing
    assert _ca(h, 1, "Inoperative") == "Accepted"
    expect_status(h, 1, "Unavailable")
    assert _ca(h, 1, "Operative") == "Accepted"
    back = expect_status(h, 1, back_to)
    h.no_call()
    if back_to == "Preparing":
        h.advance(30)
        f = expect_status(h, 1, "Finishing")  # B6: no idTag within ConnectionTimeOut
        assert f.at - back.at == 30
    h.no_call()

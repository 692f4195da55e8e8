"""Reservation at core level: ReserveNow / CancelReservation, expiry by stepping `now`, parentIdTag, connector 0
([SPEC] §5.1, §5.13, §7.40; OCTT TC_046-TC_053)."""

import pytest
from charging import ACCEPTED, booted, card, configure, expect_status, plug, start_confs

from harness import CoreHarness

from ocpp_station.core.settings import StationSettings
from ocpp_station.core.events import FaultDetected
from ocpp_station.store.sqlite import SqliteStore

T0_ISO = "2026-01-01T00:00:00"  # the harness's wall clock at boot


def at(seconds):
    from ocpp_station.core.clock import iso

    return iso(1767225600.0 + seconds)


def reserve(h, cid=1, rid=1, tag="RES1", expiry_in=600, parent=None):
    payload = {"connectorId": cid, "expiryDate": at(h.now - 1767225600.0 + expiry_in), "idTag": tag, "reservationId": rid}
    if parent:
        payload["parentIdTag"] = parent
    return h.csms_conf("ReserveNow", payload)["status"]


def test_reserve_then_expire_reports_reserved_then_available():
    h = booted()
    assert reserve(h, expiry_in=120) == "Accepted"
    expect_status(h, 1, "Reserved")
    h.advance(119)
    h.no_call()
    h.advance(1)
    expect_status(h, 1, "Available")  # TC_047


def test_reserved_card_starts_with_reservation_id_and_foreign_card_gets_no_authorize():
    h = booted()
    reserve(h, rid=17)
    expect_status(h, 1, "Reserved")
    card(h, "OTHER")
    h.no_call()  # TC_046_1: no Authorize.req for a foreign card
    card(h, "res1")
    h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    plug(h)
    got = start_confs(h, 1, 5)
    assert got["StartTransaction"].payload["reservationId"] == 17
    assert h.station.feature["Reservations"].by_id == {}


def test_start_without_reservation_has_no_reservation_id():
    h = booted()
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    got = start_confs(h, 1, 5)
    assert "reservationId" not in got["StartTransaction"].payload


def test_parent_id_tag_unknown_parent_is_learned_from_authorize():
    h = booted()
    reserve(h, rid=3, tag="TAG1", parent="PARENT")
    expect_status(h, 1, "Reserved")
    card(h, "TAG2")
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "parent"}})
    expect_status(h, 1, "Preparing")
    plug(h)
    got = start_confs(h, 1, 8)
    assert got["StartTransaction"].payload["idTag"] == "TAG2"
    assert got["StartTransaction"].payload["reservationId"] == 3  # TC_053


def test_parent_id_tag_mismatch_keeps_the_reservation():
    h = booted()
    reserve(h, rid=3, tag="TAG1", parent="PARENT")
    expect_status(h, 1, "Reserved")
    card(h, "TAG2")
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "OTHERPARENT"}})
    h.no_call()
    assert h.station.connector(1).status.value == "Reserved"


def test_remote_start_for_another_id_on_a_reserved_connector_is_rejected():
    h = booted()
    reserve(h)
    expect_status(h, 1, "Reserved")
    assert h.csms_conf("RemoteStartTransaction", {"idTag": "OTHER", "connectorId": 1}) == {"status": "Rejected"}
    assert h.csms_conf("RemoteStartTransaction", {"idTag": "RES1", "connectorId": 1}) == {"status": "Accepted"}


@pytest.mark.parametrize("setup, answer", [("fault", "Faulted"), ("plug", "Occupied"), ("inoperative", "Unavailable")])
def test_reserve_now_answers_for_a_busy_connector(setup, answer):
    h = booted()
    if setup == "fault":
        h.event(FaultDetected(1, "GroundFailure"))
        expect_status(h, 1, "Faulted", "GroundFailure")
    elif setup == "plug":
        plug(h)
        expect_status(h, 1, "Preparing")
    else:
        h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
        expect_status(h, 1, "Unavailable")
    assert reserve(h) == answer
    h.no_call()


def test_already_reserved_is_occupied_and_same_id_replaces():
    h = booted()
    reserve(h, rid=1, tag="A")
    expect_status(h, 1, "Reserved")
    assert reserve(h, rid=2, tag="B") == "Occupied"
    assert reserve(h, rid=1, tag="C") == "Accepted"  # [SPEC] §5.13: same reservationId replaces
    h.no_call()
    assert h.station.feature["Reservations"].by_id[1].id_tag == "C"


@pytest.mark.parametrize("payload_change", [{"connectorId": 7}, {"expiry_in": -10}])
def test_rejected_reservations(payload_change):
    h = booted()
    cid = payload_change.get("connectorId", 1)
    assert reserve(h, cid=cid, expiry_in=payload_change.get("expiry_in", 600)) == "Rejected"
    h.no_call()


def test_cancel_reservation():
    h = booted()
    reserve(h, rid=9)
    expect_status(h, 1, "Reserved")
    assert h.csms_conf("CancelReservation", {"reservationId": 8}) == {"status": "Rejected"}  # TC_052
    h.no_call()
    assert h.csms_conf("CancelReservation", {"reservationId": 9}) == {"status": "Accepted"}  # TC_051
    expect_status(h, 1, "Available")


def test_fault_ends_the_reservation():
    h = booted()
    reserve(h)
    expect_status(h, 1, "Reserved")
    h.event(FaultDetected(1, "GroundFailure"))
    expect_status(h, 1, "Faulted", "GroundFailure")
    assert h.station.feature["Reservations"].by_id == {}


def test_connector_zero_reserves_the_free_connector_and_never_reports_reserved_on_0():
    h = booted(StationSettings(connectors=2))
    h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    expect_status(h, 1, "Unavailable")
    assert reserve(h, cid=0, rid=4) == "Accepted"
    expect_status(h, 2, "Reserved")  # TC_049
    h.no_call()


def test_connector_zero_unsupported_is_rejected():
    h = booted(ReserveConnectorZeroSupported=False)
    assert reserve(h, cid=0) == "Rejected"  # TC_050_4


def test_reservation_survives_a_restart_and_an_expired_one_is_dropped(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    h = booted(store=store)
    reserve(h, rid=1, expiry_in=100)
    expect_status(h, 1, "Reserved")
    h2 = CoreHarness(store=SqliteStore(tmp_path / "s.sqlite"), now=h.now + 10)
    h2.start()
    h2.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": at(10)})
    sns = {h2.respond("StatusNotification", {}).payload["connectorId"]: None for _ in range(2)}
    assert h2.log[-1].payload["status"] == "Reserved"
    assert 1 in h2.station.feature["Reservations"].by_id
    h3 = CoreHarness(store=SqliteStore(tmp_path / "s.sqlite"), now=h.now + 200)
    h3.start()
    h3.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": at(200)})
    h3.respond("StatusNotification", {})
    assert h3.respond("StatusNotification", {}).payload["status"] == "Available"
    assert h3.station.feature["Reservations"].by_id == {}
    assert store.items("reservations") == {}


def test_profile_off_answers_rejected():
    h = booted(StationSettings(profiles=("Core",)))
    assert reserve(h) == "Rejected"  # TC_048_4
    assert h.csms_conf("CancelReservation", {"reservationId": 1}) == {"status": "Rejected"}


def test_inoperative_ends_the_reservation():
    """[SPEC] §5.13: a reservation ends when its connector becomes Unavailable; Operative again is Available."""
    h = booted()
    reserve(h, rid=2)
    expect_status(h, 1, "Reserved")
    assert h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Accepted"}
    expect_status(h, 1, "Unavailable")
    assert h.station.feature["Reservations"].by_id == {}
    h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    expect_status(h, 1, "Available")


def test_reset_ends_nothing_but_refuses_the_reserved_card_until_the_reboot():
    h = booted()
    reserve(h, rid=2)
    expect_status(h, 1, "Reserved")
    assert h.csms_conf("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    card(h, "RES1")
    h.no_call()  # after an accepted reset no new session starts, reserved or not

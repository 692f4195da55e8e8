"""Reservation end to end (OCTT TC_046_1, TC_046_2, TC_047, TC_048_1..4, TC_049, TC_050_1..4, TC_051, TC_052,
TC_053_1, TC_053_2) with a real ``ocpp-station run`` process, websocket, SQLite file and control API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from e2e_steps import SN, split, status

from ocpp_station.core.clock import iso


def expiry(seconds: float = 600) -> str:
    return iso((datetime.now(timezone.utc) + timedelta(seconds=seconds)).timestamp())


def reserve(cid=1, rid=1, tag="RES1", seconds=600, parent=None):
    p = {"connectorId": cid, "expiryDate": expiry(seconds), "idTag": tag, "reservationId": rid}
    if parent:
        p["parentIdTag"] = parent
    return p


async def _reserved(link, cid=1, rid=1, tag="RES1", **kw):
    assert await link.call("ReserveNow", reserve(cid, rid, tag, **kw)) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (cid if cid else 1, "Reserved", "NoError")


async def _started(link, tag, rid):
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    start = got["StartTransaction"].payload
    assert (start["idTag"], start.get("reservationId")) == (tag, rid)
    assert status(got[SN]) == (1, "Charging", "NoError")


async def test_tc_046_1_cs_reservation_of_a_connector_local_start_e2e(booted):
    """TC_046_1_CS: Reserved; a foreign card gets no Authorize.req; the reserved card (Authorize) then plug:
    StartTransaction with the reservationId, Charging."""
    st, link = await booted()
    await _reserved(link, rid=46)
    await st.card("FOREIGN1")
    await st.card("RES1")
    assert (await link.expect("Authorize")).payload == {"idTag": "RES1"}  # not FOREIGN1
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    await _started(link, "RES1", 46)
    assert await st.stop() == 0


async def test_tc_046_2_cs_reservation_of_a_connector_remote_start_e2e(booted):
    """TC_046_2_CS: Reserved; RemoteStart for the reserved idTag; StartTransaction idTag and reservationId match."""
    st, link = await booted(ocpp={"AuthorizeRemoteTxRequests": False})
    await _reserved(link, rid=7)
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER"}) == {"status": "Rejected"}
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "RES1"}) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    await _started(link, "RES1", 7)
    assert await st.stop() == 0


async def test_tc_047_cs_reservation_expire_e2e(booted):
    """TC_047_CS: a short expiryDate: Reserved, then Available at expiry; a later start carries no reservationId."""
    st, link = await booted()
    await _reserved(link, rid=47, seconds=2)
    assert status(await link.expect(SN, timeout=6)) == (1, "Available", "NoError")
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card("RES1")
    await link.expect("Authorize")
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert "reservationId" not in got["StartTransaction"].payload
    assert await st.stop() == 0


@pytest.mark.parametrize("cid", [1, 0], ids=["tc_048", "tc_050"])
async def test_tc_048_1_cs_and_tc_050_1_cs_reserve_faulted_e2e(booted, cid):
    """TC_048_1_CS / TC_050_1_CS: the connector (the only one, for connector 0) Faulted: ReserveNow Faulted."""
    st, link = await booted()
    await st.ok("POST", "/api/connectors/1/fault", {"errorCode": "GroundFailure"})
    assert status(await link.expect(SN)) == (1, "Faulted", "GroundFailure")
    assert await link.call("ReserveNow", reserve(cid)) == {"status": "Faulted"}
    await link.no_call(0.3)
    assert await st.stop() == 0


@pytest.mark.parametrize("cid", [1, 0], ids=["tc_048", "tc_050"])
async def test_tc_048_2_cs_and_tc_050_2_cs_reserve_occupied_e2e(booted, cid):
    """TC_048_2_CS / TC_050_2_CS: cable in (Preparing): ReserveNow Occupied."""
    st, link = await booted()
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await link.call("ReserveNow", reserve(cid)) == {"status": "Occupied"}
    assert await st.stop() == 0


@pytest.mark.parametrize("cid", [1, 0], ids=["tc_048", "tc_050"])
async def test_tc_048_3_cs_and_tc_050_3_cs_reserve_unavailable_e2e(booted, cid):
    """TC_048_3_CS / TC_050_3_CS: ChangeAvailability Inoperative first: ReserveNow Unavailable."""
    st, link = await booted()
    assert await link.call("ChangeAvailability", {"connectorId": cid, "type": "Inoperative"}) == {"status": "Accepted"}
    await link.expect_unordered([SN] * (2 if cid == 0 else 1))
    assert await link.call("ReserveNow", reserve(cid)) == {"status": "Unavailable"}
    assert await st.stop() == 0


async def test_tc_048_4_cs_reserve_rejected_e2e(booted):
    """TC_048_4_CS: a station configured not to reserve (no Reservation profile): Rejected."""
    st, link = await booted(station={"profiles": ["Core"]})
    assert await link.call("ReserveNow", reserve(1)) == {"status": "Rejected"}
    assert await st.stop() == 0


async def test_tc_050_4_cs_reserve_charge_point_rejected_e2e(booted):
    """TC_050_4_CS: ReserveConnectorZeroSupported=false: ReserveNow(0) Rejected."""
    st, link = await booted(ocpp={"ReserveConnectorZeroSupported": False})
    assert await link.call("ReserveNow", reserve(0)) == {"status": "Rejected"}
    assert await st.stop() == 0


async def test_tc_049_cs_reservation_of_a_charge_point_transaction_e2e(booted):
    """TC_049_CS: the other connector Unavailable; ReserveNow(0) Accepted; Reserved on the free connector (never
    on 0); only the reserved idTag charges there."""
    st, link = await booted(hardware={"connectors": 2})
    assert await link.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Unavailable", "NoError")
    assert await link.call("ReserveNow", reserve(0, rid=49)) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (2, "Reserved", "NoError")
    await st.card("FOREIGN1", 2)
    await st.card("RES1", 2)
    assert (await link.expect("Authorize")).payload == {"idTag": "RES1"}
    assert status(await link.expect(SN)) == (2, "Preparing", "NoError")
    await st.plug_in(2)
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert (got["StartTransaction"].payload["connectorId"], got["StartTransaction"].payload["reservationId"]) == (2, 49)
    assert await st.stop() == 0


async def test_tc_051_cs_cancel_reservation_e2e(booted):
    """TC_051_CS: CancelReservation Accepted, then Available."""
    st, link = await booted()
    await _reserved(link, rid=51)
    assert await link.call("CancelReservation", {"reservationId": 51}) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_tc_052_cs_cancel_reservation_rejected_e2e(booted):
    """TC_052_CS: an unknown reservationId: Rejected, the reservation stays."""
    st, link = await booted()
    await _reserved(link, rid=52)
    assert await link.call("CancelReservation", {"reservationId": 53}) == {"status": "Rejected"}
    state = await st.state()
    entry = next(c for c in state["connectors"] if c["connectorId"] == 1)
    assert entry["status"] == "Reserved" and entry["reservation"]["reservationId"] == 52
    assert entry["reservation"]["idTag"] == "RES1"
    assert await st.stop() == 0


async def test_tc_053_1_cs_use_a_reserved_connector_with_parent_id_tag_e2e(csms, booted):
    """TC_053_1_CS: reserved for idTag1 with a parent; idTag2, never seen, with the same parent (learned from
    Authorize.req) starts with the reservationId."""
    await _parent_case(csms, booted, parent_known=False)


async def test_tc_053_2_cs_use_a_reserved_connector_with_cached_parent_id_tag_e2e(csms, booted):
    """TC_053_2_CS: as TC_053_1 with idTag2 and its parent already in the authorization cache."""
    await _parent_case(csms, booted, parent_known=True)


async def _parent_case(csms, booted, parent_known):
    st, link = await booted()
    csms.set_id_tag("TAG2", {"status": "Accepted", "parentIdTag": "PARENT53"})
    if parent_known:  # idTag2 is in the authorization cache with its parent
        await st.card("TAG2")
        await link.expect("Authorize")
        assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
        await st.card("TAG2")  # the same card again cancels
        assert status(await link.expect(SN)) == (1, "Available", "NoError")
    await _reserved(link, rid=53, tag="TAG1", parent="PARENT53")
    await st.card("TAG2")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG2"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    await _started(link, "TAG2", 53)
    assert await st.stop() == 0


async def test_reservation_survives_sigkill_e2e(csms, station_factory, tmp_path):
    """A reservation is in the SQLite file: after kill -9 the connector comes back Reserved."""
    data = tmp_path / "data"
    st = await station_factory(data_dir=data)
    link = await csms.wait_connected(st.identity)
    await link.expect("BootNotification")
    await link.expect_unordered([SN, SN])
    await _reserved(link, rid=5)
    await st.kill()
    st2 = await station_factory(data_dir=data, config_name="again.toml")
    await link.expect("BootNotification")
    got = sorted(status(c) for c in await link.expect_unordered([SN, SN]))
    assert got == [(0, "Available", "NoError"), (1, "Reserved", "NoError")]
    assert await st2.stop() == 0

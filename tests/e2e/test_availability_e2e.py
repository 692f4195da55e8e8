"""ChangeAvailability end to end while a connector is Preparing ([SPEC] §4.9 has no Preparing -> Unavailable;
§5.2 Scheduled): a real ``ocpp-station run`` process, websocket, SQLite file and control API."""

from __future__ import annotations

from e2e_steps import SN, configure, status


async def test_inoperative_while_preparing_is_scheduled_and_applies_when_the_cable_is_out_e2e(booted):
    """Cable in, no transaction: ChangeAvailability(1, Inoperative) -> Scheduled, nothing sent; the unplug ends the
    session: StatusNotification Available then Unavailable, both stamped with the time of the unplug; a card then
    starts nothing; Operative -> Accepted + Available."""
    st, link = await booted()
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await link.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Scheduled"}
    await link.no_call(1)
    await st.plug_out()
    available, unavailable = await link.expect(SN), await link.expect(SN)
    assert status(available) == (1, "Available", "NoError")
    assert status(unavailable) == (1, "Unavailable", "NoError")
    assert available.payload["timestamp"] == unavailable.payload["timestamp"]
    await st.card("TAG1", 1)
    await link.no_call(1)
    assert await link.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_inoperative_on_connector_zero_with_a_card_waiting_for_the_cable_e2e(booted, station_factory):
    """A card accepted, no cable (Preparing); ChangeAvailability(0, Inoperative) -> Scheduled; connector 0 goes
    Unavailable at once; after ConnectionTimeOut connector 1 goes Available then Unavailable; Operative for
    connector 1 alone is Rejected (the charge point is Inoperative); all of it survives a restart."""
    st, link = await booted()
    await configure(link, ConnectionTimeOut=2)
    await st.card("TAG1", 1)
    await link.expect("Authorize")
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await link.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {"status": "Scheduled"}
    assert status(await link.expect(SN)) == (0, "Unavailable", "NoError")
    assert status(await link.expect(SN, timeout=5)) == (1, "Available", "NoError")
    assert status(await link.expect(SN)) == (1, "Unavailable", "NoError")
    assert await link.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Rejected"}
    await link.no_call(1)
    assert await st.stop() == 0
    st2 = await station_factory(config_name="CP001-again.toml")
    await link.expect("BootNotification", timeout=15)
    got = {c.payload["connectorId"]: c.payload["status"] for c in await link.expect_unordered([SN, SN])}
    assert got == {0: "Unavailable", 1: "Unavailable"}
    assert await st2.stop() == 0

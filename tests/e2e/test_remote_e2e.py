"""Remote start and stop end to end (OCTT TC_010, TC_011_1, TC_011_2, TC_012, TC_026, TC_027, TC_028)
with a real ``ocpp-station run`` process, websocket, SQLite file and control API."""

from __future__ import annotations

from e2e_steps import SN, SOCKET, configure, split, status


async def authorize_remote(link) -> bool:
    """GetConfiguration(AuthorizeRemoteTxRequests), as OCTT does first."""
    conf = await link.call("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    assert conf.get("unknownKey", []) == []
    (entry,) = conf["configurationKey"]
    assert entry["key"] == "AuthorizeRemoteTxRequests"
    return entry["value"].lower() == "true"


async def expect_started(link, tag: str):
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    start = got["StartTransaction"].payload
    assert start["connectorId"] == 1 and start["idTag"] == tag and isinstance(start["meterStart"], int)
    assert status(got[SN]) == (1, "Charging", "NoError")
    return got["StartTransaction"]


async def start_charging(st, link, tag: str = "TAG1"):
    """Reusable state Charging (local, plug first)."""
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card(tag)
    assert (await link.expect("Authorize")).payload == {"idTag": tag}
    return await expect_started(link, tag)


async def connector_1(st) -> dict:
    state = await st.state()
    return next(c for c in state["connectors"] if c["connectorId"] == 1)


async def test_tc_010_cs_remote_start_cable_plugged_first_e2e(csms, booted):
    """TC_010_CS: plug -> Preparing; RemoteStart(1, TAG1) Accepted; Authorize only if AuthorizeRemoteTxRequests;
    StartTransaction with the remote idTag + Charging."""
    st, link = await booted()
    artr = await authorize_remote(link)
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    if artr:
        assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    await expect_started(link, "TAG1")
    assert (await connector_1(st))["transactionId"] == link.last_transaction_id
    assert await st.stop() == 0


async def test_tc_010_cs_remote_start_without_authorize_e2e(csms, booted):
    """TC_010_CS with AuthorizeRemoteTxRequests=false: no Authorize.req before StartTransaction."""
    st, link = await booted()
    await configure(link, AuthorizeRemoteTxRequests=False)
    assert not await authorize_remote(link)
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    await expect_started(link, "TAG1")
    assert await st.stop() == 0


async def test_tc_011_1_cs_remote_start_first_e2e(csms, booted):
    """TC_011_1_CS: RemoteStart Accepted; [Authorize]; Preparing before the cable; plug ->
    StartTransaction + Charging."""
    st, link = await booted()
    artr = await authorize_remote(link)
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    if artr:
        assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    await expect_started(link, "TAG1")
    assert await st.stop() == 0


async def test_tc_011_2_cs_remote_start_time_out_e2e(csms, booted):
    """TC_011_2_CS: ConnectionTimeOut=2; RemoteStart, never plug: Accepted, [Authorize], Preparing, then
    Available after the timeout (window timeout .. timeout+10 s); no StartTransaction."""
    st, link = await booted()
    await configure(link, ConnectionTimeOut=2)
    artr = await authorize_remote(link)
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    if artr:
        assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    prep = await link.expect(SN)
    assert status(prep) == (1, "Preparing", "NoError")
    avail = await link.expect(SN, timeout=12)
    assert status(avail) == (1, "Available", "NoError")
    assert 2 - 0.2 <= avail.received_at - prep.received_at <= 2 + 10
    await link.no_call(1)
    assert await st.stop() == 0


async def test_tc_012_cs_remote_stop_e2e(csms, booted):
    """TC_012_CS: Charging; RemoteStop(current tx) Accepted; StopTransaction reason Remote + Finishing
    (either order); the cable is unlocked; removing it -> Available."""
    st, link = await booted(hardware=SOCKET)
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    assert (await connector_1(st))["hardware"]["locked"] is True
    assert await link.call("RemoteStopTransaction", {"transactionId": tx_id}) == {"status": "Accepted"}
    got = split(await link.expect_unordered(["StopTransaction", SN]))
    stop = got["StopTransaction"].payload
    assert stop["transactionId"] == tx_id and stop["reason"] == "Remote" and isinstance(stop["meterStop"], int)
    assert "idTag" not in stop
    assert status(got[SN]) == (1, "Finishing", "NoError")
    assert (await connector_1(st))["hardware"]["locked"] is False
    await st.plug_out(side="ev")
    await link.no_call(1)  # still Finishing while the cable is in the socket
    await st.plug_out(side="station")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_tc_026_cs_remote_start_rejected_e2e(csms, booted):
    """TC_026_CS: LocalPreAuthorize=false; Charging; RemoteStart on the busy connector -> Rejected,
    nothing else happens."""
    st, link = await booted()
    await configure(link, LocalPreAuthorize=False)
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG2"}) == {"status": "Rejected"}
    await link.no_call(1.5)
    c1 = await connector_1(st)
    assert c1["status"] == "Charging" and c1["transactionId"] == tx_id and c1["idTag"] == "TAG1"
    assert await st.stop() == 0


async def test_tc_027_cs_remote_start_connector_zero_e2e(csms, booted):
    """TC_027_CS: RemoteStart with connectorId 0 -> Rejected; no status change, no transaction."""
    st, link = await booted()
    assert await link.call("RemoteStartTransaction", {"connectorId": 0, "idTag": "TAG1"}) == {"status": "Rejected"}
    await link.no_call(1.5)
    c1 = await connector_1(st)
    assert c1["status"] == "Available" and c1["transactionId"] is None
    assert await st.stop() == 0


async def test_tc_028_cs_remote_stop_rejected_e2e(csms, booted):
    """TC_028_CS: Charging; RemoteStop with an unknown transactionId -> Rejected; the running transaction
    is untouched (no StopTransaction)."""
    st, link = await booted()
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    assert await link.call("RemoteStopTransaction", {"transactionId": tx_id + 9999}) == {"status": "Rejected"}
    await link.no_call(2)
    c1 = await connector_1(st)
    assert c1["status"] == "Charging" and c1["transactionId"] == tx_id
    assert await st.stop() == 0

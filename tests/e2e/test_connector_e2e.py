"""Connector behaviour end to end: EV-side disconnect, UnlockConnector, lock failure and faults
(OCTT TC_005_1/2/3, TC_017_1/2, TC_018_1/2, TC_024, TC_030, TC_031, TC_041) with a real
``ocpp-station run`` process, websocket, SQLite file and control API."""

from __future__ import annotations

from e2e_steps import SN, SOCKET, configure, split, status


async def start_charging(st, link, tag: str = "TAG1"):
    """Reusable state Charging (local, plug first)."""
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card(tag)
    assert (await link.expect("Authorize")).payload == {"idTag": tag}
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert got["StartTransaction"].payload["idTag"] == tag
    assert status(got[SN]) == (1, "Charging", "NoError")
    return got["StartTransaction"]


async def connector_1(st) -> dict:
    state = await st.state()
    return next(c for c in state["connectors"] if c["connectorId"] == 1)


async def expect_stopped(link, tx_id: int, reason: str) -> dict:
    got = split(await link.expect_unordered(["StopTransaction", SN]))
    stop = got["StopTransaction"].payload
    assert stop["transactionId"] == tx_id
    assert stop["reason"] == reason
    assert isinstance(stop["meterStop"], int)
    assert status(got[SN]) == (1, "Finishing", "NoError")
    return stop


# -- TC_005: EV side disconnected -----------------------------------------------------------------


async def test_tc_005_1_cs_ev_side_disconnect_stop_and_unlock_e2e(csms, booted):
    """TC_005_1_CS: StopTransactionOnEVSideDisconnect=true, UnlockConnectorOnEVSideDisconnect=true,
    MinimumStatusDuration=0; EV-side unplug -> StopTransaction(EVDisconnected) + Finishing, unlocked;
    no Available while the cable is in the socket; CP-side unplug -> Available."""
    st, link = await booted(hardware=SOCKET)
    await configure(link, StopTransactionOnEVSideDisconnect=True, UnlockConnectorOnEVSideDisconnect=True,
                    MinimumStatusDuration=0)
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    await st.plug_out(side="ev")
    await expect_stopped(link, tx_id, "EVDisconnected")
    assert (await connector_1(st))["hardware"]["locked"] is False
    await link.no_call(1.5)  # not straight to Available (MicroOcpp #326)
    await st.plug_out(side="station")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_tc_005_2_cs_ev_side_disconnect_stop_no_unlock_e2e(csms, booted):
    """TC_005_2_CS: Stop=true, Unlock=false; EV-side unplug -> StopTransaction(EVDisconnected) + Finishing,
    cable stays locked; UnlockConnector -> Unlocked; cable removed -> Available."""
    st, link = await booted(hardware=SOCKET)
    await configure(link, StopTransactionOnEVSideDisconnect=True, UnlockConnectorOnEVSideDisconnect=False,
                    MinimumStatusDuration=0)
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    await st.plug_out(side="ev")
    await expect_stopped(link, tx_id, "EVDisconnected")
    assert (await connector_1(st))["hardware"]["locked"] is True
    assert await link.call("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    assert (await connector_1(st))["hardware"]["locked"] is False
    await link.no_call(1)  # no second StopTransaction, still Finishing
    await st.plug_out(side="station")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_tc_005_3_cs_ev_side_disconnect_no_stop_e2e(csms, booted):
    """TC_005_3_CS: Stop=false, Unlock=false; EV-side unplug -> SuspendedEV (NoError, info), no StopTransaction,
    cable locked; RemoteStop Accepted -> StopTransaction(Remote) + Finishing."""
    st, link = await booted(hardware=SOCKET)
    conf = await link.call("GetConfiguration", {"key": ["StopTransactionOnEVSideDisconnect"]})
    assert conf["configurationKey"][0]["readonly"] is False  # the case's prerequisite: RW
    await configure(link, StopTransactionOnEVSideDisconnect=False, UnlockConnectorOnEVSideDisconnect=False,
                    MinimumStatusDuration=0)
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    await st.plug_out(side="ev")
    s = await link.expect(SN)
    assert status(s) == (1, "SuspendedEV", "NoError")
    assert s.payload.get("info") == "EV side disconnected"
    await link.no_call(1.5)  # the transaction goes on
    c1 = await connector_1(st)
    assert c1["transactionId"] == tx_id and c1["hardware"]["locked"] is True
    assert await link.call("RemoteStopTransaction", {"transactionId": tx_id}) == {"status": "Accepted"}
    await expect_stopped(link, tx_id, "Remote")
    await st.plug_out(side="station")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


# -- TC_017 / TC_018 / TC_030 / TC_031: UnlockConnector -------------------------------------------


async def test_tc_017_1_cs_unlock_no_session_socket_e2e(csms, booted):
    """TC_017_1_CS: socket with a lock, no session: UnlockConnector -> Unlocked, nothing else sent."""
    st, link = await booted(hardware=SOCKET)
    assert await link.call("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    await link.no_call(1)
    assert await st.stop() == 0


async def test_tc_017_2_cs_unlock_no_session_fixed_cable_e2e(csms, booted):
    """TC_017_2_CS: fixed cable: UnlockConnector -> NotSupported."""
    st, link = await booted()
    assert await link.call("UnlockConnector", {"connectorId": 1}) == {"status": "NotSupported"}
    await link.no_call(1)
    assert await st.stop() == 0


async def test_tc_018_1_cs_unlock_with_session_socket_e2e(csms, booted):
    """TC_018_1_CS: Charging; UnlockConnector -> Unlocked; StopTransaction(UnlockCommand) + Finishing;
    unplug -> Available."""
    st, link = await booted(hardware=SOCKET)
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    assert await link.call("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    stop = await expect_stopped(link, tx_id, "UnlockCommand")
    assert "idTag" not in stop
    assert (await connector_1(st))["hardware"]["locked"] is False
    await st.plug_out()
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_tc_018_2_cs_unlock_with_session_fixed_cable_e2e(csms, booted):
    """TC_018_2_CS: fixed cable, Charging; UnlockConnector -> NotSupported; the transaction keeps running."""
    st, link = await booted()
    await start_charging(st, link)
    tx_id = link.last_transaction_id
    assert await link.call("UnlockConnector", {"connectorId": 1}) == {"status": "NotSupported"}
    await link.no_call(2)
    c1 = await connector_1(st)
    assert c1["status"] == "Charging" and c1["transactionId"] == tx_id
    assert await st.stop() == 0


async def test_tc_030_cs_unlock_failure_e2e(csms, booted):
    """TC_030_CS: the lock is stuck: UnlockConnector -> UnlockFailed."""
    st, link = await booted(hardware=SOCKET)
    await st.ok("POST", "/api/connectors/1/lock", {"failUnlock": True})
    assert await link.call("UnlockConnector", {"connectorId": 1}) == {"status": "UnlockFailed"}
    await link.no_call(1)
    assert await st.stop() == 0


async def test_tc_031_cs_unlock_unknown_connector_e2e(csms, booted):
    """TC_031_CS: UnlockConnector(9765) -> NotSupported ([ERRATA] 3.87), not UnlockFailed."""
    st, link = await booted(hardware=SOCKET)
    assert await link.call("UnlockConnector", {"connectorId": 9765}) == {"status": "NotSupported"}
    await link.no_call(1)
    assert await st.stop() == 0


# -- TC_024: lock failure -------------------------------------------------------------------------


async def test_tc_024_cs_lock_failure_e2e(csms, booted):
    """TC_024_CS: socket; the lock will not engage; RemoteStart Accepted, [Authorize], Preparing; plug ->
    Faulted(ConnectorLockFailure); no StartTransaction."""
    st, link = await booted(hardware=SOCKET)
    conf = await link.call("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    artr = conf["configurationKey"][0]["value"].lower() == "true"
    await st.ok("POST", "/api/connectors/1/lock", {"failLock": True})
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    if artr:
        assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Faulted", "ConnectorLockFailure")
    await link.no_call(2)  # no StartTransaction
    assert (await connector_1(st))["transactionId"] is None
    await st.plug_out()  # the cable taken out again: the lock failure is over
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


# -- TC_041: faults -------------------------------------------------------------------------------


async def test_tc_041_cs_fault_behavior_e2e(csms, booted):
    """TC_041_CS: a hardware fault -> Faulted with its errorCode; cleared -> back to the previous state
    (idle: Available; during a transaction: Charging, the transaction untouched)."""
    st, link = await booted()
    await st.ok("POST", "/api/connectors/1/fault", {"errorCode": "GroundFailure", "info": "ground fault"})
    s = await link.expect(SN)
    assert status(s) == (1, "Faulted", "GroundFailure")
    assert s.payload.get("info") == "ground fault"
    await st.ok("DELETE", "/api/connectors/1/fault")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")

    await start_charging(st, link)
    tx_id = link.last_transaction_id
    await st.ok("POST", "/api/connectors/1/fault", {"errorCode": "GroundFailure"})
    assert status(await link.expect(SN)) == (1, "Faulted", "GroundFailure")
    assert (await connector_1(st))["powerW"] == 0
    await st.ok("DELETE", "/api/connectors/1/fault")
    assert status(await link.expect(SN)) == (1, "Charging", "NoError")
    await link.no_call(1)  # no StopTransaction
    c1 = await connector_1(st)
    assert c1["transactionId"] == tx_id and c1["powerW"] > 0
    assert await st.stop() == 0

"""Nothing lost, end to end: resets, power cuts (real SIGKILL), offline operation
(TC_013-016, TC_032_1/2, TC_034, TC_036-039; spec §2.7, INTERFACE.md "What persists")."""

import asyncio

import pytest

TAG = "VALID01"


async def _charging(st, link):
    """Reusable state Charging: plug in, card, Authorize, StartTransaction + Charging."""
    await st.plug_in()
    assert (await link.expect("StatusNotification")).payload["status"] == "Preparing"
    await st.card(TAG)
    await link.expect("Authorize")
    got = {c.action: c for c in await link.expect_unordered(["StartTransaction", "StatusNotification"])}
    assert got["StatusNotification"].payload["status"] == "Charging"
    return link.last_transaction_id


async def _reboot_statuses(link, n=2):
    await link.expect("BootNotification", timeout=15)
    return {c.payload["connectorId"]: c.payload for c in await link.expect_unordered(["StatusNotification"] * n)}


@pytest.mark.parametrize("kind", ["Hard", "Soft"])
async def test_tc_013_cs_tc_014_cs_reset_without_transaction(booted, kind):
    """TC_013_CS (Hard) / TC_014_CS (Soft): Inoperative survives the reset; Operative afterwards."""
    st, link = await booted()
    assert await link.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Accepted"}
    assert (await link.expect("StatusNotification")).payload["status"] == "Unavailable"
    assert await link.call("Reset", {"type": kind}) == {"status": "Accepted"}
    statuses = await _reboot_statuses(link)
    assert statuses[0]["status"] == "Available" and statuses[1]["status"] == "Unavailable"
    assert await link.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Accepted"}
    assert (await link.expect("StatusNotification")).payload["status"] == "Available"
    assert await st.stop() == 0


async def test_tc_015_cs_hard_reset_with_transaction(booted):
    """TC_015_CS: StopTransaction(HardReset) once (before or after the reboot), then BootNotification; after it
    connector 1 reports Finishing: the session ended and the cable is still in (spec §2.5)."""
    st, link = await booted()
    tx_id = await _charging(st, link)
    assert await link.call("Reset", {"type": "Hard"}) == {"status": "Accepted"}
    before = []
    while not before or before[-1].action != "BootNotification":
        c = await link.next_call(timeout=15)
        assert c.action in ("StopTransaction", "StatusNotification", "MeterValues", "BootNotification"), c
        before.append(c)
    after = []  # the two statuses, and the StopTransaction if it did not go out before the reboot
    stopped_before = any(c.action == "StopTransaction" for c in before)
    while sum(c.action == "StatusNotification" for c in after) < 2 or not (
            stopped_before or any(c.action == "StopTransaction" for c in after)):
        c = await link.next_call(timeout=10)
        assert c.action in ("StopTransaction", "StatusNotification", "MeterValues"), c
        after.append(c)
    # one StopTransaction; the reboot may cut it off before its confirmation is read, and then the persisted
    # message goes out again after the boot with the same UniqueId (delivered at least once, never a new one)
    stops = [c for c in before + after if c.action == "StopTransaction"]
    assert len({c.unique_id for c in stops}) == 1, stops
    assert stops[0].payload["reason"] == "HardReset" and stops[0].payload["transactionId"] == tx_id
    statuses = {c.payload["connectorId"]: c.payload["status"] for c in after if c.action == "StatusNotification"}
    assert statuses == {0: "Available", 1: "Finishing"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0
    while True:  # for a second nothing else comes (a Heartbeat, or that same StopTransaction again at most)
        try:
            c = await link.next_call(timeout=max(0.0, deadline - loop.time()))
        except TimeoutError:
            break
        assert c.action == "Heartbeat" or (c.action == "StopTransaction" and c.unique_id == stops[0].unique_id), c
    assert await st.stop() == 0


async def test_tc_016_cs_soft_reset_with_transaction(booted):
    """TC_016_CS: StopTransaction(SoftReset) + Finishing before the restart; then BootNotification, and connector 1
    still Finishing after it while the cable is in (spec §2.5)."""
    st, link = await booted()
    tx_id = await _charging(st, link)
    assert await link.call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
    assert got["StopTransaction"].payload["reason"] == "SoftReset"
    assert got["StopTransaction"].payload["transactionId"] == tx_id
    assert got["StatusNotification"].payload["status"] == "Finishing"
    statuses = await _reboot_statuses(link)
    assert {cid: p["status"] for cid, p in statuses.items()} == {0: "Available", 1: "Finishing"}
    await link.no_call(1.0, ignore=("Heartbeat",))
    assert await st.stop() == 0


async def test_soft_reset_grace_window_refuses_a_remote_start(booted):
    """While StopTransaction(SoftReset) is unanswered the station is on its way down: RemoteStartTransaction is
    Rejected and nothing starts on the connector whose cable is still in ([SPEC] §5.14)."""
    st, link = await booted(ocpp={"AuthorizeRemoteTxRequests": False})
    await _charging(st, link)
    link.drop_next("StopTransaction")
    assert await link.call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert (await link.expect("StopTransaction", ignore=("StatusNotification",))).payload["reason"] == "SoftReset"
    remote = {"connectorId": 1, "idTag": "REMOTE1"}
    assert await link.call("RemoteStartTransaction", remote) == {"status": "Rejected"}
    await st.card(TAG, 1)
    c1 = next(c for c in (await st.state())["connectors"] if c["connectorId"] == 1)
    assert (c1["status"], c1["transactionId"], c1["idTag"]) == ("Finishing", None, None)
    assert await st.stop() == 0


async def test_tc_032_1_cs_power_failure_with_backup_power(csms, booted, station_factory, tmp_path):
    """TC_032_1_CS: StopTransaction(PowerLoss) + Finishing before dying; after power: Boot, statuses."""
    st, link = await booted()
    tx_id = await _charging(st, link)
    status, _ = await st.api("POST", "/api/power-cut", {"backupPower": True})
    assert status == 200
    got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
    assert got["StopTransaction"].payload["reason"] == "PowerLoss"
    assert got["StopTransaction"].payload["transactionId"] == tx_id
    assert got["StatusNotification"].payload["status"] == "Finishing"
    assert await st.wait_exit() == -9  # the power is gone: the process ends as kill -9 ends it
    st2 = await station_factory(config_name="CP001-again.toml")
    statuses = await _reboot_statuses(link)
    assert statuses[1]["status"] == "Finishing"  # the session ended and the cable is still in
    await link.no_call(1.0, ignore=("Heartbeat",))  # the transaction was reported once, not again
    assert await st2.stop() == 0


async def test_tc_032_2_cs_power_failure_without_backup_power(booted, station_factory):
    """TC_032_2_CS: SIGKILL while charging; after power: Boot, statuses (connector 1 Finishing: the session ended,
    the cable is in) and StopTransaction(PowerLoss) with the last known meter value, its transactionData ending with
    that value as Transaction.End ([ERRATA] 3.14, 4.25)."""
    st, link = await booted(ocpp={"MeterValueSampleInterval": 1})
    tx_id = await _charging(st, link)
    mv = await link.expect("MeterValues")
    last = int(mv.payload["meterValue"][0]["sampledValue"][0]["value"])
    await st.kill()
    st2 = await station_factory(config_name="CP001-again.toml", ocpp={"MeterValueSampleInterval": 1})
    await link.expect("BootNotification", timeout=15)
    calls = []  # steps 3-7 in any order; MeterValues queued before the cut may come before the stop
    while not (any(c.action == "StopTransaction" for c in calls)
               and sum(c.action == "StatusNotification" for c in calls) == 2):
        c = await link.next_call(timeout=10)
        assert c.action in ("StopTransaction", "StatusNotification", "MeterValues"), c
        calls.append(c)
    stop = next(c for c in calls if c.action == "StopTransaction")
    assert stop.payload["reason"] == "PowerLoss" and stop.payload["transactionId"] == tx_id
    assert stop.payload["meterStop"] >= last
    end = stop.payload["transactionData"][-1]
    assert end["timestamp"] == stop.payload["timestamp"]
    assert [(v["context"], v["value"]) for v in end["sampledValue"]] == [
        ("Transaction.End", str(stop.payload["meterStop"]))]
    statuses = {c.payload["connectorId"]: c.payload["status"] for c in calls if c.action == "StatusNotification"}
    assert statuses == {0: "Available", 1: "Finishing"}
    assert await st2.stop() == 0


async def test_tc_034_cs_power_failure_with_unavailable_status(booted, station_factory):
    """TC_034_CS: ChangeAvailability(0, Inoperative) survives a power cut."""
    st, link = await booted()
    assert await link.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {"status": "Accepted"}
    s = await link.expect_unordered(["StatusNotification", "StatusNotification"])
    assert {c.payload["connectorId"]: c.payload["status"] for c in s} == {0: "Unavailable", 1: "Unavailable"}
    await st.kill()
    st2 = await station_factory(config_name="CP001-again.toml")
    statuses = await _reboot_statuses(link)
    assert statuses[0]["status"] == "Unavailable" and statuses[1]["status"] == "Unavailable"
    assert await st2.stop() == 0


async def test_tc_036_cs_connection_loss_during_transaction(booted):
    """TC_036_CS: after the reconnect (no BootNotification at all: [OCPPJ] §5.4, spec §2.1) every MeterValues
    queued offline comes before any sampled after the reconnect ([SPEC] §3.7), in chronological order, spaced by
    MeterValueSampleInterval from the last one sent online (none lost), with the transactionId, context
    Sample.Periodic and format Raw (or omitted) (spec §2.7)."""
    from ocpp_station.core.clock import parse_iso

    interval = 2
    st, link = await booted(ocpp={"MeterValueSampleInterval": interval})
    tx_id = await _charging(st, link)
    last_online = await link.expect("MeterValues", timeout=interval + 2)
    boots = sum(c.action == "BootNotification" for c in link.calls)
    await st.network(False)
    await link.wait_disconnected()
    st_doc = await st.state()
    while st_doc["queuedTransactionMessages"] < 3:  # wait for 3 samples taken offline
        await link.no_call(0.5)
        st_doc = await st.state()
    queued = st_doc["queuedTransactionMessages"]  # at least these are queued (one more may be sampled meanwhile)
    reconnect_at = parse_iso((await st.network(True))["time"])
    await csms_wait_reconnect(link)
    got = [await link.expect("MeterValues", timeout=interval + 2) for _ in range(queued + 2)]
    stamps = [parse_iso(c.payload["meterValue"][0]["timestamp"]) for c in [last_online] + got]
    # each sample is stamped when its timer fires: allow the event loop's latency, not a missed, extra or late one
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert all(abs(step - interval) < 0.5 for step in steps), (stamps, steps)
    assert all(s < reconnect_at for s in stamps[1:queued + 1])  # the queued ones come first ...
    assert stamps[-1] > reconnect_at  # ... and at least one sampled after the reconnect follows them
    for c in got:
        assert c.payload["connectorId"] == 1 and c.payload["transactionId"] == tx_id
        [entry] = c.payload["meterValue"]
        for v in entry["sampledValue"]:
            assert v.get("context", "Sample.Periodic") == "Sample.Periodic"
            assert v.get("format", "Raw") == "Raw"
    assert sum(c.action == "BootNotification" for c in link.calls) == boots
    assert await st.stop() == 0


async def csms_wait_reconnect(link):
    n = link.connections
    await link.csms.wait_connected(link.identity, after=n)


async def test_tc_037_1_cs_offline_start_transaction_valid_idtag(booted):
    """TC_037_1_CS: with AllowOfflineTxForUnknownId=false (spec §2.7) only the cached idTag starts a
    transaction offline (an unknown one is refused); on reconnect the queued StartTransaction (original
    timestamp) and StatusNotification(Charging)."""
    st, link = await booted()
    for key, value in (("LocalAuthorizeOffline", "true"), ("AuthorizationCacheEnabled", "true"),
                       ("AllowOfflineTxForUnknownId", "false")):  # the OCTT "Configuration State"
        assert await link.call("ChangeConfiguration", {"key": key, "value": value}) == {"status": "Accepted"}, key
    await st.card(TAG)  # learn the idTag (cache), then cancel
    await link.expect("Authorize")
    assert (await link.expect("StatusNotification")).payload["status"] == "Preparing"
    await st.card(TAG)
    assert (await link.expect("StatusNotification")).payload["status"] == "Available"
    await st.network(False)
    await link.wait_disconnected()
    await st.plug_in()
    doc = await st.card("UNKNOWN9")  # not in the cache: refused offline
    assert (doc["connectors"][1]["status"], doc["connectors"][1]["transactionId"], doc["connectors"][1]["idTag"]) == (
        "Preparing", None, None
    )
    await st.card(TAG)
    doc = await st.state()
    assert doc["connectors"][1]["status"] == "Charging"
    assert doc["connectors"][1]["idTag"] == TAG
    started_at = doc["time"]
    await st.network(True)
    got = {c.action: c for c in await link.expect_unordered(["StartTransaction", "StatusNotification"])}
    assert got["StartTransaction"].payload["idTag"] == TAG
    assert got["StartTransaction"].payload["timestamp"] <= started_at
    assert got["StatusNotification"].payload["status"] == "Charging"
    assert not any(c.action == "BootNotification" for c in link.calls[-3:])
    assert await st.stop() == 0


@pytest.mark.parametrize("stop_on_invalid", [False, True])
async def test_tc_037_2_cs_tc_037_3_cs_offline_start_invalid_idtag(csms, booted, stop_on_invalid):
    """TC_037_2_CS (StopTransactionOnInvalidId=false: SuspendedEVSE, later a Local stop) and
    TC_037_3_CS (true: StopTransaction DeAuthorized + Finishing)."""
    st, link = await booted(ocpp={"StopTransactionOnInvalidId": stop_on_invalid, "AllowOfflineTxForUnknownId": True})
    csms.set_id_tag("UNKNOWN9", {"status": "Invalid"})
    await st.network(False)
    await link.wait_disconnected()
    await st.plug_in()
    await st.card("UNKNOWN9")
    assert (await st.state())["connectors"][1]["status"] == "Charging"
    await st.network(True)
    got = {c.action: c for c in await link.expect_unordered(["StartTransaction", "StatusNotification"])}
    assert got["StatusNotification"].payload["status"] == "Charging"
    if not stop_on_invalid:
        assert (await link.expect("StatusNotification")).payload["status"] == "SuspendedEVSE"
        await st.card("UNKNOWN9")
        got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
        assert got["StopTransaction"].payload["reason"] == "Local"
    else:
        got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
        assert got["StopTransaction"].payload["reason"] == "DeAuthorized"
    assert got["StatusNotification"].payload["status"] == "Finishing"
    assert await st.stop() == 0


@pytest.mark.parametrize("owner", ["same idTag", "same parent"])
async def test_tc_037_3_cs_socket_cable_locked_until_the_same_idtag_or_parent(csms, booted, owner):
    """TC_037_3_CS on a socket outlet: after the DeAuthorized stop the cable stays locked in the socket (it cannot
    be pulled out) while other idTags are presented, including a valid one of another parent; the same idTag, or an
    idTag never seen before whose Authorize.conf gives the same parentIdTag, unlocks it; then the cable comes out
    and the connector is Available ([SPEC] §3.5.4; [ERRATA] 3.5, 3.17)."""
    from e2e_steps import SOCKET

    csms.set_id_tag("UNKNOWN9", {"status": "Invalid", "parentIdTag": "ACME"})
    csms.set_id_tag("OTHER1", {"status": "Accepted", "parentIdTag": "OTHERCO"})
    csms.set_id_tag("SIBLING", {"status": "Accepted", "parentIdTag": "acme"})
    st, link = await booted(hardware=SOCKET, ocpp={"StopTransactionOnInvalidId": True,
                                                   "AllowOfflineTxForUnknownId": True})
    await st.network(False)
    await link.wait_disconnected()
    await st.plug_in()
    doc = await st.card("UNKNOWN9")
    assert doc["connectors"][1]["status"] == "Charging"
    await st.network(True)
    got = {c.action: c for c in await link.expect_unordered(["StartTransaction", "StatusNotification"])}
    assert got["StatusNotification"].payload["status"] == "Charging"
    got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
    assert got["StopTransaction"].payload["reason"] == "DeAuthorized"
    assert got["StatusNotification"].payload["status"] == "Finishing"
    c1 = (await st.plug_out(side="both"))["connectors"][1]  # the EV goes; the cable stays locked in the socket
    assert c1["hardware"]["locked"] is True and c1["hardware"]["cableAtStation"] is True
    await st.card("OTHER1")  # valid, but another parent
    assert (await link.expect("Authorize")).payload == {"idTag": "OTHER1"}
    await link.no_call(1.0, ignore=("Heartbeat",))
    assert (await st.state())["connectors"][1]["hardware"]["locked"] is True
    if owner == "same idTag":
        await st.card("UNKNOWN9")  # no Authorize.req: it is the idTag of the transaction
    else:
        await st.card("SIBLING")  # never seen: authorized to learn its parent
        assert (await link.expect("Authorize")).payload == {"idTag": "SIBLING"}
    for _ in range(50):  # the Authorize.conf is processed after the CSMS answered: wait for the unlock
        if not (await st.state())["connectors"][1]["hardware"]["locked"]:
            break
        await link.no_call(0.1, ignore=("Heartbeat",))
    assert (await st.state())["connectors"][1]["hardware"]["locked"] is False
    await st.plug_out(side="station")
    assert (await link.expect("StatusNotification", ignore=("Heartbeat",))).payload["status"] == "Available"
    assert await st.stop() == 0


async def test_tc_038_cs_offline_stop_transaction(booted):
    """TC_038_CS: stopped while offline; on reconnect StopTransaction(Local) + Finishing."""
    st, link = await booted()
    tx_id = await _charging(st, link)
    await st.network(False)
    await link.wait_disconnected()
    await st.card(TAG)
    await st.network(True)
    got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
    assert got["StopTransaction"].payload["reason"] == "Local"
    assert got["StopTransaction"].payload["transactionId"] == tx_id
    assert got["StatusNotification"].payload["status"] == "Finishing"
    assert await st.stop() == 0


async def test_tc_039_cs_offline_transaction(booted):
    """TC_039_CS: a whole transaction offline; on reconnect StartTransaction then StopTransaction, in order,
    the stop carrying the transactionId of the start."""
    st, link = await booted()
    await st.network(False)
    await link.wait_disconnected()
    await st.plug_in()
    await st.card(TAG)
    await st.card(TAG)
    await st.plug_out()
    await st.network(True)
    start = await link.expect("StartTransaction")
    stop = await link.expect("StopTransaction")
    assert stop.payload["transactionId"] == link.last_transaction_id
    assert stop.payload["reason"] == "Local"
    assert stop.payload["meterStop"] >= start.payload["meterStart"]
    await link.no_call(1.0, ignore=("Heartbeat",))  # status unchanged (Available): nothing else
    assert await st.stop() == 0

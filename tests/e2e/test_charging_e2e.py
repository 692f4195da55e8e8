"""Charging sessions end to end (OCTT TC_003, TC_004_1, TC_004_2, TC_007_1/_2, TC_061_1/_2, TC_023_4/_5, TC_068,
TC_069, TC_070, TC_071) with a real ``ocpp-station run`` process, websocket, SQLite file and control API.

Short intervals keep the set fast: ConnectionTimeOut 2 s, MeterValueSampleInterval 2 s,
ClockAlignedDataInterval 2 s. Waiting is on events (``link.expect``), never on sleeps."""

from __future__ import annotations

import time

from ocpp_station.core.clock import parse_iso

from e2e_steps import SN, configure, split, status


async def start_charging(st, link, tag: str = "TAG1", authorize: bool = True):
    """Reusable state Charging (plug first): Preparing, [Authorize], StartTransaction + Charging (either order).
    Returns the StartTransaction call; its transactionId is the CSMS's last one."""
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card(tag)
    if authorize:
        a = await link.expect("Authorize")
        assert a.payload == {"idTag": tag}
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    start = got["StartTransaction"]
    assert start.payload["connectorId"] == 1
    assert start.payload["idTag"] == tag
    assert isinstance(start.payload["meterStart"], int)
    assert status(got[SN]) == (1, "Charging", "NoError")
    return start


def wall_of(call) -> float:
    """The wall-clock time a call arrived (received_at is monotonic)."""
    return time.time() - (time.monotonic() - call.received_at)


# -- TC_003 / TC_004: regular sessions ------------------------------------------------------------


async def test_tc_003_cs_plugin_first_e2e(csms, booted):
    """TC_003_CS: plug -> Preparing -> present id -> Authorize(Accepted) -> StartTransaction (same idTag) + Charging."""
    st, link = await booted()
    start = await start_charging(st, link, "TAG1")
    tx_id = link.last_transaction_id
    assert set(start.payload) <= {"connectorId", "idTag", "meterStart", "timestamp", "reservationId"}
    assert "reservationId" not in start.payload
    state = await st.state()
    c1 = next(c for c in state["connectors"] if c["connectorId"] == 1)
    assert c1["status"] == "Charging" and c1["transactionId"] == tx_id and c1["idTag"] == "TAG1"
    await link.no_call(1)
    assert await st.stop() == 0


async def test_tc_004_1_cs_identification_first_e2e(csms, booted):
    """TC_004_1_CS: MeterValueSampleInterval set; id first -> Authorize, Preparing; plug -> StartTransaction +
    Charging; then periodic MeterValues of that transaction."""
    st, link = await booted()
    await configure(link, MeterValueSampleInterval=2)
    await st.card("TAG1")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    assert got["StartTransaction"].payload["connectorId"] == 1
    assert status(got[SN]) == (1, "Charging", "NoError")
    mv = await link.expect("MeterValues", timeout=4)
    assert mv.payload["connectorId"] == 1
    assert mv.payload["transactionId"] == link.last_transaction_id
    assert await st.stop() == 0


async def test_tc_004_2_cs_identification_first_connection_timeout_e2e(csms, booted):
    """TC_004_2_CS: ConnectionTimeOut=2; id presented, cable never plugged -> Authorize, Preparing, then
    Available after the timeout (window timeout-1 .. timeout+10 s); no StartTransaction."""
    st, link = await booted()
    await configure(link, ConnectionTimeOut=2)
    await st.card("TAG1")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    prep = await link.expect(SN)
    assert status(prep) == (1, "Preparing", "NoError")
    avail = await link.expect(SN, timeout=12)
    assert status(avail) == (1, "Available", "NoError")
    assert 2 - 1 <= avail.received_at - prep.received_at <= 2 + 10
    await link.no_call(1)
    assert await st.stop() == 0


# -- TC_007 / TC_061: the authorization cache -----------------------------------------------------


async def test_tc_007_cs_local_start_with_cached_id_e2e(csms, booted):
    """TC_007_1_CS (TC_007_CS), local start: AuthorizationCacheEnabled=true, LocalPreAuthorize=true, the idTag is cached ->
    present id: Preparing without Authorize.req; plug -> StartTransaction + Charging."""
    st, link = await booted()
    await configure(link, AuthorizationCacheEnabled=True, LocalPreAuthorize=True)
    # memory state: the idTag gets into the cache through an accepted Authorize; the same card
    # again cancels the incipient session
    await st.card("TAG1")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card("TAG1")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    # the scenario: cached id, no Authorize.req
    await st.card("TAG1")
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    assert status(got[SN]) == (1, "Charging", "NoError")
    assert not [c for c in link.calls if c.action == "Authorize"][1:], "cached idTag was authorized again"
    assert await st.stop() == 0


async def test_tc_061_cs_local_clear_authorization_cache_e2e(csms, booted):
    """TC_061_1_CS (TC_061_CS), local: cache on, LocalPreAuthorize on, ConnectionTimeOut=2: Authorized -> Preparing -> timeout ->
    Available; ClearCache Accepted; the same idTag then triggers an Authorize.req again."""
    st, link = await booted()
    await configure(link, AuthorizationCacheEnabled=True, LocalPreAuthorize=True, ConnectionTimeOut=2)
    await st.card("TAG1")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert status(await link.expect(SN, timeout=6)) == (1, "Available", "NoError")
    assert await link.call("ClearCache", {}) == {"status": "Accepted"}
    await st.card("TAG1")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await st.stop() == 0


async def test_tc_007_cs_remote_start_with_cached_id_e2e(csms, booted):
    """TC_007_2_CS, remote start: AuthorizationCacheEnabled=true, LocalPreAuthorize=true,
    AuthorizeRemoteTxRequests=true, the idTag is cached -> RemoteStartTransaction Accepted, Preparing without
    Authorize.req; plug -> StartTransaction (that idTag) + Charging."""
    st, link = await booted()
    await configure(link, AuthorizationCacheEnabled=True, LocalPreAuthorize=True, AuthorizeRemoteTxRequests=True)
    await st.card("TAG1")  # memory state: the idTag in the cache, the incipient session cancelled
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card("TAG1")
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")  # no Authorize.req before it
    await st.plug_in()
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    assert status(got[SN]) == (1, "Charging", "NoError")
    assert [c.payload["idTag"] for c in link.calls if c.action == "Authorize"] == ["TAG1"]  # the priming one
    assert await st.stop() == 0


async def test_tc_061_cs_remote_clear_authorization_cache_e2e(csms, booted):
    """TC_061_2_CS, remote: cache on, LocalPreAuthorize on, AuthorizeRemoteTxRequests on, ConnectionTimeOut=2:
    RemoteStart -> Authorize, Preparing -> timeout -> Available; ClearCache Accepted; a RemoteStart with the same
    idTag then triggers an Authorize.req again."""
    st, link = await booted()
    await configure(link, AuthorizationCacheEnabled=True, LocalPreAuthorize=True, AuthorizeRemoteTxRequests=True,
                    ConnectionTimeOut=2)
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert status(await link.expect(SN, timeout=6)) == (1, "Available", "NoError")
    assert await link.call("ClearCache", {}) == {"status": "Accepted"}
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"}) == {"status": "Accepted"}
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await st.stop() == 0


# -- TC_023: invalid idTag ------------------------------------------------------------------------


async def test_tc_023_cs_local_authorize_invalid_e2e(csms, booted):
    """TC_023_4_CS (TC_023_CS), local: LocalPreAuthorize=true; invalid id -> Authorize.conf Invalid; plug -> Preparing;
    no StartTransaction. (OCTT sets MinimumStatusDuration=10; 1 s here keeps the run short.)"""
    csms.set_id_tag("BAD", {"status": "Invalid"})
    st, link = await booted()
    await configure(link, MinimumStatusDuration=1, LocalPreAuthorize=True)
    await st.card("BAD")
    assert (await link.expect("Authorize")).payload == {"idTag": "BAD"}
    await link.no_call(1.5)  # an invalid id changes nothing
    await st.plug_in()
    assert status(await link.expect(SN, timeout=4)) == (1, "Preparing", "NoError")
    await link.no_call(2)  # no StartTransaction
    state = await st.state()
    assert next(c for c in state["connectors"] if c["connectorId"] == 1)["transactionId"] is None
    assert await st.stop() == 0


async def test_tc_023_cs_remote_authorize_invalid_e2e(csms, booted):
    """TC_023_5_CS, remote: LocalPreAuthorize=true, AuthorizeRemoteTxRequests=true; RemoteStart with an invalid
    id -> Accepted, Authorize.conf Invalid, no Preparing; plug -> Preparing; no StartTransaction.
    (OCTT sets MinimumStatusDuration=10; 1 s here keeps the run short.)"""
    csms.set_id_tag("BAD", {"status": "Invalid"})
    st, link = await booted()
    await configure(link, MinimumStatusDuration=1, LocalPreAuthorize=True, AuthorizeRemoteTxRequests=True)
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "BAD"}) == {"status": "Accepted"}
    assert (await link.expect("Authorize")).payload == {"idTag": "BAD"}
    await link.no_call(1.5)  # an invalid id changes nothing
    await st.plug_in()
    assert status(await link.expect(SN, timeout=4)) == (1, "Preparing", "NoError")
    await link.no_call(2)  # no StartTransaction
    state = await st.state()
    assert next(c for c in state["connectors"] if c["connectorId"] == 1)["transactionId"] is None
    assert await st.stop() == 0


# -- TC_068 / TC_069: who may stop ----------------------------------------------------------------


async def test_tc_068_cs_stop_with_same_id_tag_e2e(csms, booted):
    """TC_068_CS: Charging with TAG1; other idTags (invalid; valid without a common parent) do not stop it; TAG1 stops it without an
    Authorize.req: StopTransaction(idTag TAG1, reason Local) + Finishing; unplug -> Available."""
    csms.set_id_tag("BAD", {"status": "Invalid"})
    st, link = await booted()
    await start_charging(st, link, "TAG1")
    tx_id = link.last_transaction_id
    await st.card("BAD")
    assert (await link.expect("Authorize")).payload == {"idTag": "BAD"}
    await link.no_call(2)  # not stopped
    await st.card("OTHER")  # valid, but neither the starting idTag nor one with its parentIdTag
    assert (await link.expect("Authorize")).payload == {"idTag": "OTHER"}
    await link.no_call(2)  # not stopped
    await st.card("TAG1")
    got = split(await link.expect_unordered(["StopTransaction", SN]))  # no Authorize.req in between
    stop = got["StopTransaction"].payload
    assert stop["transactionId"] == tx_id
    assert stop["idTag"] == "TAG1"
    assert stop.get("reason", "Local") == "Local"
    assert isinstance(stop["meterStop"], int)
    assert status(got[SN]) == (1, "Finishing", "NoError")
    await st.plug_out()
    assert status(await link.expect(SN)) == (1, "Available", "NoError")
    assert await st.stop() == 0


async def test_tc_069_cs_stop_with_parent_id_tag_e2e(csms, booted):
    """TC_069_CS: Charging with TAG1 (parent PARENT); TAG2 with the same parent -> Authorize(TAG2) ->
    StopTransaction(idTag TAG2, reason Local) + Finishing."""
    csms.set_id_tag("TAG1", {"status": "Accepted", "parentIdTag": "PARENT"})
    csms.set_id_tag("TAG2", {"status": "Accepted", "parentIdTag": "PARENT"})
    st, link = await booted()
    await start_charging(st, link, "TAG1")
    tx_id = link.last_transaction_id
    await st.card("TAG2")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG2"}
    got = split(await link.expect_unordered(["StopTransaction", SN]))
    stop = got["StopTransaction"].payload
    assert stop["transactionId"] == tx_id
    assert stop["idTag"] == "TAG2"
    assert stop.get("reason", "Local") == "Local"
    assert status(got[SN]) == (1, "Finishing", "NoError")
    assert await st.stop() == 0


# -- TC_070 / TC_071: meter values ----------------------------------------------------------------


def _check_sampled_values(mv, items: list[str], context: str) -> None:
    assert len(mv.payload["meterValue"]) == 1
    values = mv.payload["meterValue"][0]["sampledValue"]
    assert [v.get("measurand", "Energy.Active.Import.Register") for v in values] == items
    for v in values:
        assert v.get("context") == context
        assert v.get("format", "Raw") == "Raw"
        if v.get("measurand") != "SoC":
            assert v.get("location") != "EV"
        if v.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
            assert v.get("unit", "Wh") == "Wh"
            float(v["value"])


async def _configured_items(link, key: str) -> list[str]:
    conf = await link.call("GetConfiguration", {"key": [key]})
    value = conf["configurationKey"][0]["value"]
    return [i.strip() for i in value.split(",") if i.strip()] or ["Energy.Active.Import.Register"]


async def test_tc_070_cs_sampled_meter_values_e2e(csms, booted):
    """TC_070_CS: MeterValueSampleInterval=2, ClockAlignedDataInterval=0; Charging; MeterValues every 2 s
    from the start, context Sample.Periodic, one value per MeterValuesSampledData item, transactionId set."""
    st, link = await booted()
    await configure(link, MeterValueSampleInterval=2, ClockAlignedDataInterval=0)
    items = await _configured_items(link, "MeterValuesSampledData")
    start = await start_charging(st, link, "TAG1")
    tx_id = link.last_transaction_id
    started = parse_iso(start.payload["timestamp"])
    mvs = [await link.expect("MeterValues", timeout=4) for _ in range(3)]
    stamps = [parse_iso(m.payload["meterValue"][0]["timestamp"]) for m in mvs]
    for i, (m, t) in enumerate(zip(mvs, stamps)):
        assert m.payload["connectorId"] == 1
        assert m.payload["transactionId"] == tx_id
        _check_sampled_values(m, items, "Sample.Periodic")
        assert abs(t - (started + 2 * (i + 1))) < 0.5, (t, started)
    for a, b in zip(mvs, mvs[1:]):
        assert abs((b.received_at - a.received_at) - 2) < 0.5
    energies = [float(m.payload["meterValue"][0]["sampledValue"][items.index("Energy.Active.Import.Register")]["value"])
                for m in mvs] if "Energy.Active.Import.Register" in items else []
    assert energies == sorted(energies)
    assert await st.stop() == 0


async def test_tc_071_cs_clock_aligned_meter_values_e2e(csms, booted):
    """TC_071_CS: MeterValueSampleInterval=0, ClockAlignedDataInterval=2; Charging; MeterValues at wall-clock
    instants that are multiples of 2 s, context Sample.Clock, one value per MeterValuesAlignedData item."""
    st, link = await booted()
    await configure(link, MeterValueSampleInterval=0, ClockAlignedDataInterval=2)
    items = await _configured_items(link, "MeterValuesAlignedData")
    # clock-aligned values are sent during a transaction only ([ERRATA] 3.13): the exact sequence, nothing else
    await link.no_call(2.5)  # more than one aligned instant while idle
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card("TAG1")
    assert (await link.expect("Authorize")).payload == {"idTag": "TAG1"}
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert status(got[SN]) == (1, "Charging", "NoError")
    tx_id = link.last_transaction_id
    mvs = [await link.expect("MeterValues", timeout=4) for _ in range(3)]
    stamps = [parse_iso(m.payload["meterValue"][0]["timestamp"]) for m in mvs]
    for m, t in zip(mvs, stamps):
        assert m.payload["connectorId"] == 1
        assert m.payload["transactionId"] == tx_id
        _check_sampled_values(m, items, "Sample.Clock")
        assert abs(t - round(t)) < 0.002 and round(t) % 2 == 0, t  # aligned to the interval (from midnight)
        assert abs(wall_of(m) - t) < 1.0  # sent at that instant of the wall clock
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [2.0, 2.0]
    assert await st.stop() == 0

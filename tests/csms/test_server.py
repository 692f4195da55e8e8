"""Tests of the development CSMS (real sockets on 127.0.0.1, a raw websocket client as the station)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ocpp_station.csms import NO_ANSWER, CallErrorReceived, DevCsms
from ocpp_station.ocpp.rpc import ErrorCode, OcppError
from ocpp_station.ocpp.validation import validate_response

BOOT = {"chargePointVendor": "ACME", "chargePointModel": "Model-1"}
START = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": "2025-01-01T00:00:00.000Z"}
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _assert_now(text: str) -> None:
    assert ISO_MS_Z.match(text), text
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - t).total_seconds()) < 5


# -- handshake -------------------------------------------------------------------


async def test_url_port_and_identity_percent_decoded(csms: DevCsms, station_factory) -> None:
    assert csms.port > 0
    assert csms.url == f"ws://127.0.0.1:{csms.port}/ocpp"
    async with station_factory("CP%20001") as st:
        assert st.ws.subprotocol == "ocpp1.6"
        link = await csms.wait_connected("CP 001", timeout=2)
        assert link.connected and link.identity == "CP 001"
    await link.wait_disconnected(timeout=2)


@pytest.mark.parametrize("path", ["/other/CP1", "/ocpp", "/ocpp/", "/ocpp/CP1/extra"])
async def test_wrong_path_is_404(csms: DevCsms, station_factory, path: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with station_factory(path=path):
            pass
    assert info.value.response.status_code == 404


@pytest.mark.parametrize("subprotocols", [[], ["ocpp2.0.1"]])
async def test_subprotocol_required(csms: DevCsms, station_factory, subprotocols: list[str]) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with station_factory("CP1", subprotocols=subprotocols):
            pass
    assert info.value.response.status_code == 400
    assert not csms.link("CP1").connected


async def test_refused_identity(csms: DevCsms, station_factory) -> None:
    csms.set_refused("CP1", 404)
    with pytest.raises(InvalidStatus) as info:
        async with station_factory("CP1"):
            pass
    assert info.value.response.status_code == 404
    csms.set_refused("CP1", None)
    async with station_factory("CP1"):
        await csms.wait_connected("CP1", timeout=2)


async def test_new_connection_replaces_old_and_disconnect(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as first:
        link = await csms.wait_connected("CP1", timeout=2)
        assert link.connections == 1
        async with station_factory("CP1") as second:
            await csms.wait_connected("CP1", timeout=2, after=1)
            await asyncio.wait_for(first.ws.wait_closed(), 2)
            assert link.connected and link.connections == 2
            answer = await second.call("Heartbeat", {})
            assert answer[0] == 3
            await csms.disconnect("CP1")
            assert not link.connected
            await asyncio.wait_for(second.ws.wait_closed(), 2)


# -- default answers ---------------------------------------------------------------


async def test_boot_answered_with_configured_status_and_interval(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        frame = await st.call("BootNotification", BOOT)
        assert frame[0] == 3
        validate_response("BootNotification", frame[2])
        assert frame[2]["status"] == "Accepted" and frame[2]["interval"] == 300
        _assert_now(frame[2]["currentTime"])

        csms.set_boot("Pending", 7)
        assert (await st.call("BootNotification", BOOT))[2]["status"] == "Pending"
        csms.set_boot("Rejected", 30, identity="CP1")
        frame = await st.call("BootNotification", BOOT)
        assert (frame[2]["status"], frame[2]["interval"]) == ("Rejected", 30)
        # [JERRATA] 3.10: while Rejected, other CALLs get SecurityError
        assert (await st.call("Heartbeat", {}))[2] == ErrorCode.SECURITY_ERROR

    async with station_factory("CP2") as st:
        frame = await st.call("BootNotification", BOOT)
        assert (frame[2]["status"], frame[2]["interval"]) == ("Pending", 7)


async def test_heartbeat_and_simple_actions(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        frame = await st.call("Heartbeat", {})
        validate_response("Heartbeat", frame[2])
        _assert_now(frame[2]["currentTime"])
        status = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
        assert (await st.call("StatusNotification", status))[2] == {}
        assert (await st.call("FirmwareStatusNotification", {"status": "Idle"}))[2] == {}
        dt = await st.call("DataTransfer", {"vendorId": "nobody"})
        assert dt[2] == {"status": "UnknownVendorId"}
        csms.set_data_transfer("acme", {"status": "Accepted", "data": "ok"})
        assert (await st.call("DataTransfer", {"vendorId": "acme"}))[2] == {"status": "Accepted", "data": "ok"}


async def test_start_transaction_ids_increase(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as a, station_factory("CP2") as b:
        ids = [
            (await a.call("StartTransaction", START))[2]["transactionId"],
            (await b.call("StartTransaction", START))[2]["transactionId"],
            (await a.call("StartTransaction", START))[2]["transactionId"],
        ]
        assert ids == [1, 2, 3]
        assert csms.link("CP1").last_transaction_id == 3
        stop = {"transactionId": 1, "meterStop": 10, "timestamp": START["timestamp"]}
        assert (await a.call("StopTransaction", stop))[2] == {}
        answer = await a.call("StopTransaction", {**stop, "idTag": "TAG1"})
        assert answer[2] == {"idTagInfo": {"status": "Accepted"}}


async def test_set_id_tag_changes_authorize(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        assert (await st.call("Authorize", {"idTag": "TAG1"}))[2] == {"idTagInfo": {"status": "Accepted"}}
        csms.set_id_tag("tag1", "Blocked")  # IdToken is case-insensitive
        assert (await st.call("Authorize", {"idTag": "TAG1"}))[2] == {"idTagInfo": {"status": "Blocked"}}
        info = {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00.000Z", "parentIdTag": "P"}
        csms.set_id_tag("TAG1", info)
        assert (await st.call("Authorize", {"idTag": "TAG1"}))[2] == {"idTagInfo": info}
        assert (await st.call("StartTransaction", START))[2]["idTagInfo"] == info


# -- scripted answers ---------------------------------------------------------------


async def test_fail_next_gives_callerror(csms: DevCsms, station_factory) -> None:
    csms.fail_next("CP1", "Heartbeat", code=ErrorCode.GENERIC_ERROR, count=2)
    async with station_factory("CP1") as st:
        for _ in range(2):
            frame = await st.call("Heartbeat", {})
            assert frame[0] == 4 and frame[2] == ErrorCode.GENERIC_ERROR
        assert (await st.call("Heartbeat", {}))[0] == 3


async def test_drop_next_gives_no_answer(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        csms.drop_next("CP1", "StartTransaction")
        await st.send([2, "dropped", "StartTransaction", START])
        with pytest.raises(TimeoutError):
            await st.recv(timeout=0.2)
        frame = await st.call("StartTransaction", START)
        assert frame[0] == 3  # only the next one was dropped
        link = csms.link("CP1")
        assert [c.unique_id for c in link.calls] == ["dropped", "st-1"]


async def test_on_call_hook(csms: DevCsms, station_factory) -> None:
    def reject_all(call):
        return {"idTagInfo": {"status": "Invalid"}}

    def boom(call):
        raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "nope")

    async def later(call):
        await asyncio.sleep(0)
        return {"currentTime": "2020-01-01T00:00:00.000Z"}

    csms.on_call(None, "Authorize", reject_all)
    csms.on_call("CP1", "StatusNotification", boom)
    csms.on_call("CP1", "Heartbeat", later)
    csms.on_call("CP1", "MeterValues", lambda call: NO_ANSWER)
    async with station_factory("CP1") as st:
        assert (await st.call("Authorize", {"idTag": "X"}))[2]["idTagInfo"]["status"] == "Invalid"
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        frame = await st.call("StatusNotification", status)
        assert frame[2:] == [ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "nope", {}]
        assert (await st.call("Heartbeat", {}))[2] == {"currentTime": "2020-01-01T00:00:00.000Z"}
        mv = {"connectorId": 1, "meterValue": [{"timestamp": START["timestamp"], "sampledValue": [{"value": "1"}]}]}
        await st.send([2, "mv", "MeterValues", mv])
        with pytest.raises(TimeoutError):
            await st.recv(timeout=0.2)
        csms.on_call("CP1", "Heartbeat", None)
        assert (await st.call("Heartbeat", {}))[2]["currentTime"] != "2020-01-01T00:00:00.000Z"


# -- malformed requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("not json", [4, "-1", ErrorCode.GENERIC_ERROR]),
        ('{"a": 1}', [4, "-1", ErrorCode.FORMATION_VIOLATION]),
        ('[2, "m1", "Heartbeat"]', [4, "m1", ErrorCode.FORMATION_VIOLATION]),
        ('[2, "m2", "FooBar", {}]', [4, "m2", ErrorCode.NOT_IMPLEMENTED]),
        ('[2, "m3", "Reset", {"type": "Hard"}]', [4, "m3", ErrorCode.NOT_SUPPORTED]),
        ('[2, "m4", "BootNotification", {"chargePointVendor": "A"}]', [4, "m4", ErrorCode.PROTOCOL_ERROR]),
        ('[2, "m5", "Heartbeat", {"x": 1}]', [4, "m5", ErrorCode.FORMATION_VIOLATION]),
        ('[2, "m6", "Authorize", {"idTag": "' + "x" * 21 + '"}]', [4, "m6", ErrorCode.TYPE_CONSTRAINT_VIOLATION]),
        (
            '[2, "m7", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Bad"}]',
            [4, "m7", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION],
        ),
    ],
)
async def test_malformed_request_gets_callerror(csms: DevCsms, station_factory, raw: str, expected: list) -> None:
    async with station_factory("CP1") as st:
        await st.send(raw)
        frame = await st.recv()
        assert frame[:3] == expected
        assert isinstance(frame[3], str) and frame[4] == {}


async def test_unknown_message_type_ignored(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        await st.send('[7, "x", {}]')  # [OCPPJ] §4.1.3: ignored
        assert (await st.call("Heartbeat", {}))[0] == 3


# -- calls to the station -----------------------------------------------------------


async def _answer_one(st, payload=None, error: list | None = None) -> list:
    """Read one CALL on the raw station and answer it with ``payload`` (or a CALLERROR)."""
    frame = await st.recv()
    if error is not None:
        await st.send([4, frame[1], *error])
    else:
        await st.send([3, frame[1], payload if payload is not None else {}])
    return frame


async def test_link_call_round_trip(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        link = await csms.wait_connected("CP1", timeout=2)
        answer = asyncio.create_task(_answer_one(st, {"status": "Accepted"}))
        result = await link.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, timeout=2)
        assert result == {"status": "Accepted"}
        sent = await answer
        assert sent[0] == 2 and sent[2] == "ChangeAvailability" and sent[3]["type"] == "Inoperative"

        answer = asyncio.create_task(_answer_one(st, error=["NotSupported", "no", {"k": 1}]))
        with pytest.raises(CallErrorReceived) as info:
            await link.call("UnlockConnector", {"connectorId": 1}, timeout=2)
        assert (info.value.code, info.value.description, info.value.details) == ("NotSupported", "no", {"k": 1})
        await answer

        answer = asyncio.create_task(_answer_one(st, {"status": "Whatever"}))
        with pytest.raises(AssertionError, match="breaks the schema"):
            await link.call("Reset", {"type": "Soft"}, timeout=2)
        await answer

        with pytest.raises(TimeoutError):
            await link.call("ClearCache", {}, timeout=0.1)
        assert (await st.recv())[2] == "ClearCache"

        directions = [d for d, _, _ in link.frames]
        assert directions == ["out", "in"] * 3 + ["out"]


async def test_link_call_fails_when_station_disconnects(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        link = await csms.wait_connected("CP1", timeout=2)
        pending = asyncio.create_task(link.call("ClearCache", {}, timeout=2))
        await st.recv()
        await st.ws.close()
        with pytest.raises(ConnectionError):
            await pending
    with pytest.raises(ConnectionError):
        await link.call("ClearCache", {})


async def test_send_raw_and_next_raw(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        link = await csms.wait_connected("CP1", timeout=2)
        await st.call("Heartbeat", {})  # an earlier frame next_raw must not return
        await link.send_raw('[2, "bad"')
        assert await st.ws.recv() == '[2, "bad"'
        await st.send('[4,"-1","GenericError","frame is not valid JSON",{}]')
        assert await link.next_raw(timeout=2) == '[4,"-1","GenericError","frame is not valid JSON",{}]'
        with pytest.raises(TimeoutError):
            await link.next_raw(timeout=0.05)
        big = "x" * (1024 * 1024)
        await link.send_raw(orjson.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": big}]).decode())
        assert len(await st.ws.recv()) > 1024 * 1024


# -- waiting for the station's CALLs ----------------------------------------------------


async def test_expect_in_order_and_wrong_action(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        await st.call("BootNotification", BOOT)
        await st.call("Heartbeat", {})
        link = await csms.wait_connected("CP1", timeout=2)
        boot = await link.expect("BootNotification", timeout=1)
        assert boot.payload == BOOT and boot.received_at > 0
        with pytest.raises(AssertionError, match="expected StatusNotification, got Heartbeat"):
            await link.expect("StatusNotification", timeout=1)
        with pytest.raises(TimeoutError):
            await link.expect("Heartbeat", timeout=0.05)
        assert [c.action for c in link.calls] == ["BootNotification", "Heartbeat"]


async def test_expect_waits_for_later_call_and_ignores(csms: DevCsms, station_factory) -> None:
    async with station_factory("CP1") as st:
        link = await csms.wait_connected("CP1", timeout=2)
        waiter = asyncio.create_task(link.expect("Authorize", timeout=2, ignore={"Heartbeat"}))
        await asyncio.sleep(0)
        await st.call("Heartbeat", {})
        await st.call("Authorize", {"idTag": "A"})
        call = await waiter
        assert call.payload == {"idTag": "A"}


async def test_expect_unordered_and_no_call(csms: DevCsms, station_factory) -> None:
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    async with station_factory("CP1") as st:
        link = await csms.wait_connected("CP1", timeout=2)
        await st.call("StatusNotification", status)
        await st.call("StartTransaction", START)
        got = await link.expect_unordered({"StartTransaction", "StatusNotification"}, timeout=1)
        assert [c.action for c in got] == ["StatusNotification", "StartTransaction"]

        await st.call("Heartbeat", {})
        await link.no_call(0.05, ignore={"Heartbeat"})
        await st.call("MeterValues", {"connectorId": 1, "meterValue": []})
        with pytest.raises(AssertionError):
            await link.expect_unordered(["StatusNotification"], timeout=1)

        late = asyncio.create_task(link.no_call(2))
        await asyncio.sleep(0.01)
        await st.call("Heartbeat", {})
        with pytest.raises(AssertionError, match="expected no CALL"):
            await asyncio.wait_for(late, 1)  # fails as soon as the CALL arrives


async def test_on_frame_callback_and_history_off() -> None:
    seen: list[tuple[str, str]] = []
    async with DevCsms(log_frames=False, keep_history=False, on_frame=lambda i, d, t, ts: seen.append((i, d))) as c:
        async with connect(f"{c.url}/CP9", subprotocols=["ocpp1.6"]) as ws:
            await ws.send('[2,"1","Heartbeat",{}]')
            await ws.recv()
            link = await c.wait_connected("CP9", timeout=2)
            assert link.calls == [] and link.frames == []
            # history off: nothing was queued before the first next_call() on the link ...
            with pytest.raises(TimeoutError):
                await link.next_call(timeout=0.05)
            # ... from then on the CALLs are queued
            await ws.send('[2,"2","Heartbeat",{}]')
            await ws.recv()
            assert (await link.next_call(timeout=1)).unique_id == "2"
    assert seen == [("CP9", "in"), ("CP9", "out")] * 2


async def test_history_off_keeps_nothing_per_call() -> None:
    """A load-test CSMS (history off, nobody consuming the CALLs) keeps O(1) per station: the link's
    retained objects do not grow with the CALLs (and transactions) it answered."""
    import gc

    def retained(link) -> int:
        seen: set[int] = set()
        todo = [link.__getattribute__(name) for name in link.__slots__ if name not in ("csms", "ws")]
        while todo:
            obj = todo.pop()
            if id(obj) in seen or isinstance(obj, (DevCsms, type)) or obj is None:
                continue
            seen.add(id(obj))
            todo.extend(gc.get_referents(obj))
        return len(seen)

    async with DevCsms(log_frames=False, keep_history=False) as c:
        async with connect(f"{c.url}/CP8", subprotocols=["ocpp1.6"]) as ws:
            n = 0

            async def burst(k: int) -> None:
                nonlocal n
                for _ in range(k):
                    n += 1
                    await ws.send(f'[2,"s{n}","StartTransaction",{{"connectorId":1,"idTag":"T{n}","meterStart":0,'
                                  f'"timestamp":"2025-01-01T00:00:00Z"}}]')
                    await ws.recv()
                    await ws.send(f'[2,"h{n}","Heartbeat",{{}}]')
                    await ws.recv()

            await burst(100)
            link = c.links["CP8"]
            before = retained(link)
            await burst(400)
            after = retained(link)
            assert c.calls_received == 1000
            assert link.calls == [] and link.frames == [] and link._pending is None
            assert after <= before, (before, after)


async def test_serve_forever_prints_frames_until_cancelled() -> None:
    from ocpp_station.csms import serve_forever

    lines: list[str] = []
    listening = asyncio.Event()

    def out(line: str) -> None:
        lines.append(line)
        listening.set()

    task = asyncio.create_task(serve_forever(port=0, out=out))
    await asyncio.wait_for(listening.wait(), 2)
    url = lines[0].split()[-1].replace("<identity>", "CP7")
    async with connect(url, subprotocols=["ocpp1.6"]) as ws:
        await ws.send('[2,"1","Heartbeat",{}]')
        await ws.recv()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert re.search(r"CP7 <- \[2,\"1\",\"Heartbeat\",\{\}\]", lines[1])
    assert " CP7 -> [3," in lines[2]

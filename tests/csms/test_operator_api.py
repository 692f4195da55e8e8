"""The operator API of the dev CSMS over real HTTP on 127.0.0.1, a raw websocket client as the station."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from ocpp_station.csms import DevCsms
from ocpp_station.csms.messages import MessageLog
from ocpp_station.csms.operator_api import MAX_BODY, start_operator_api

BOOT = {"chargePointVendor": "ACME", "chargePointModel": "Model-1"}
START = {"connectorId": 1, "idTag": "TAG1", "meterStart": 12, "timestamp": "2025-01-01T00:00:00.000Z"}
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Operator:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.port = port

    async def get(self, path: str) -> tuple[int, dict]:
        async with self.http.get(path) as r:
            return r.status, await r.json()

    async def send(self, method: str, path: str, body=None, data: bytes | None = None) -> tuple[int, dict]:
        kwargs = {"data": data} if data is not None else {"json": body} if body is not None else {}
        async with self.http.request(method, path, **kwargs) as r:
            return r.status, await r.json()

    async def call(self, identity: str, body) -> tuple[int, dict]:
        return await self.send("POST", f"/api/stations/{identity}/call", body)


@pytest.fixture
async def op(csms: DevCsms) -> AsyncIterator[Operator]:
    csms.message_log = MessageLog(1000)
    runner, port = await start_operator_api(csms, ("127.0.0.1", 0))
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            yield Operator(http, port)
    finally:
        await runner.cleanup()


async def _answer(st, payload=None, error: list | None = None) -> list:
    """Read one CALL on the raw station and answer it with ``payload`` (or a CALLERROR)."""
    frame = await st.recv()
    await st.send([4, frame[1], *error] if error is not None else [3, frame[1], payload if payload is not None else {}])
    return frame


# -- GET /api/stations ------------------------------------------------------------------------


async def test_stations_lists_identity_boot_registration_and_open_transactions(csms, station_factory, op) -> None:
    assert await op.get("/api/stations") == (200, {"stations": []})
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        status, doc = await op.get("/api/stations")
        (cp1,) = doc["stations"]
        assert (cp1["identity"], cp1["connected"], cp1["registration"], cp1["boot"], cp1["openTransactions"]) == (
            "CP1", True, None, None, [])
        await st.call("BootNotification", BOOT)
        tx = (await st.call("StartTransaction", START))[2]["transactionId"]
        status, cp1 = await op.get("/api/stations/CP1")
        assert status == 200
        assert cp1["registration"] == "Accepted" and cp1["boot"] == BOOT and cp1["connections"] == 1
        assert cp1["openTransactions"] == [{"transactionId": tx, **START}]
        for key in ("lastSeen", "bootAt", "connectedSince"):
            assert ISO_MS_Z.match(cp1[key]), (key, cp1[key])
        stop = {"transactionId": tx, "meterStop": 40, "timestamp": "2025-01-01T00:10:00.000Z", "reason": "Local"}
        await st.call("StopTransaction", stop)
        assert (await op.get("/api/stations/CP1"))[1]["openTransactions"] == []
    await csms.link("CP1").wait_disconnected(timeout=2)
    status, doc = await op.get("/api/stations")
    (cp1,) = doc["stations"]  # recently seen stations stay listed
    assert (cp1["connected"], cp1["connectedSince"], cp1["registration"]) == (False, None, "Accepted")


async def test_station_identity_is_percent_decoded_and_unknown_is_404(csms, station_factory, op) -> None:
    csms.link("SCRIPTED")  # scripted before connecting: not a station seen
    async with station_factory("CP%20001"):
        await csms.wait_connected("CP 001", timeout=2)
        status, doc = await op.get("/api/stations/CP%20001")
        assert (status, doc["identity"]) == (200, "CP 001")
        assert [s["identity"] for s in (await op.get("/api/stations"))[1]["stations"]] == ["CP 001"]
        assert await op.get("/api/stations/SCRIPTED") == (
            404, {"error": "unknown station 'SCRIPTED': it never connected", "field": "identity"})


# -- POST /api/stations/{id}/call ---------------------------------------------------------------


async def test_call_returns_callresult(csms, station_factory, op) -> None:
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        answering = asyncio.create_task(_answer(st, {"status": "Accepted"}))
        status, doc = await op.call("CP1", {"action": "Reset", "payload": {"type": "Soft"}})
        assert (status, doc) == (200, {"messageId": "csms-1", "action": "Reset", "type": "CALLRESULT",
                                       "payload": {"status": "Accepted"}})
        assert await answering == [2, "csms-1", "Reset", {"type": "Soft"}]


OPTIONAL_PROFILE_CALLS = [
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "Accepted"}),
    ("SendLocalList", {"listVersion": 3, "updateType": "Full",
                       "localAuthorizationList": [{"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted"}}]},
     {"status": "Accepted"}),
    ("ReserveNow", {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00.000Z", "idTag": "TAG1",
                    "reservationId": 7}, {"status": "Accepted"}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}},
     {"status": "Accepted"}),
    ("UpdateFirmware", {"location": "https://fw.example/fw.bin", "retrieveDate": "2030-01-01T00:00:00.000Z"}, {}),
    ("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}, {"status": "Accepted"}),
]


@pytest.mark.parametrize(("action", "payload", "answer"), OPTIONAL_PROFILE_CALLS,
                         ids=[c[0] for c in OPTIONAL_PROFILE_CALLS])
async def test_call_sends_actions_of_every_profile(csms, station_factory, op, action, payload, answer) -> None:
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        answering = asyncio.create_task(_answer(st, answer))
        status, doc = await op.call("CP1", {"action": action, "payload": payload})
        assert (status, doc["type"], doc["payload"]) == (200, "CALLRESULT", answer)
        assert "responseError" not in doc
        assert await answering == [2, doc["messageId"], action, payload]


async def test_call_returns_callerror_and_flags_an_answer_breaking_the_schema(csms, station_factory, op) -> None:
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        answering = asyncio.create_task(_answer(st, error=["NotSupported", "no reservations", {"why": "none"}]))
        status, doc = await op.call("CP1", {"action": "CancelReservation", "payload": {"reservationId": 1}})
        await answering
        assert (status, doc) == (200, {"messageId": "csms-1", "action": "CancelReservation", "type": "CALLERROR",
                                       "errorCode": "NotSupported", "errorDescription": "no reservations",
                                       "errorDetails": {"why": "none"}})
        answering = asyncio.create_task(_answer(st, {"status": "Maybe"}))
        status, doc = await op.call("CP1", {"action": "ClearCache"})
        await answering
        assert (status, doc["type"], doc["payload"]) == (200, "CALLRESULT", {"status": "Maybe"})
        assert doc["responseError"]["code"] == "PropertyConstraintViolation"
        assert doc["responseError"]["description"].startswith("status: ")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"payload": {}}, 422, "action"),
        ({"action": 5}, 422, "action"),
        ({"action": "FooBar"}, 422, "action"),
        ({"action": "BootNotification", "payload": BOOT}, 422, "action"),  # sent by a charge point
        ({"action": "Reset", "payload": []}, 422, "payload"),
        ({"action": "Reset", "payload": {}}, 422, "payload.type"),
        ({"action": "Reset", "payload": {"type": "Gentle"}}, 422, "payload.type"),
        ({"action": "Reset", "payload": {"type": "Soft", "when": 1}}, 422, "payload.when"),
        ({"action": "ChangeAvailability", "payload": {"connectorId": "1", "type": "Operative"}}, 422,
         "payload.connectorId"),
        ({"action": "SetChargingProfile", "payload": {"connectorId": 1, "csChargingProfiles": {}}}, 422,
         "payload.csChargingProfiles.chargingProfileId"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "timeout": 0}, 422, "timeout"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "timeout": True}, 422, "timeout"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "validate": "no"}, 422, "validate"),
        ({"action": "Reset", "payload": {"type": "Soft"}, "extra": 1}, 422, "extra"),
    ],
)
async def test_call_bad_body_is_4xx_naming_the_field(csms, station_factory, op, body, status, field) -> None:
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        got, doc = await op.call("CP1", body)
        assert (got, doc.get("field")) == (status, field), doc
        assert doc["error"]
        with pytest.raises(TimeoutError):  # nothing was sent to the station
            await st.recv(timeout=0.05)


async def test_call_payload_error_carries_the_ocpp_code(csms, station_factory, op) -> None:
    async with station_factory("CP1"):
        await csms.wait_connected("CP1", timeout=2)
        status, doc = await op.call("CP1", {"action": "Reset", "payload": {}})
        assert (status, doc) == (422, {"error": '"type" is a required property', "field": "payload.type",
                                       "ocppErrorCode": "ProtocolError"})


async def test_call_without_validation_sends_a_bad_payload(csms, station_factory, op) -> None:
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        answering = asyncio.create_task(_answer(st, error=["PropertyConstraintViolation", "type", {}]))
        status, doc = await op.call("CP1", {"action": "Reset", "payload": {"type": "Gentle"}, "validate": False})
        assert (status, doc["type"], doc["errorCode"]) == (200, "CALLERROR", "PropertyConstraintViolation")
        assert (await answering)[3] == {"type": "Gentle"}


@pytest.mark.parametrize(("data", "message"),
                         [(b"{", "body is not valid JSON"), (b"[1]", "body must be a JSON object")])
async def test_call_malformed_body_is_400(csms, station_factory, op, data, message) -> None:
    async with station_factory("CP1"):
        await csms.wait_connected("CP1", timeout=2)
        status, doc = await op.send("POST", "/api/stations/CP1/call", data=data)
        assert status == 400 and doc["error"].startswith(message)


async def test_call_oversize_body_is_413(csms, station_factory, op) -> None:
    async with station_factory("CP1"):
        await csms.wait_connected("CP1", timeout=2)
        big = orjson.dumps({"action": "DataTransfer", "payload": {"vendorId": "v", "data": "x" * MAX_BODY}})
        status, doc = await op.send("POST", "/api/stations/CP1/call", data=big)
        assert status == 413 and "exceeds" in doc["error"]

        async def chunks():  # no Content-Length: the limit holds while reading
            for _ in range(MAX_BODY // 65536 + 2):
                yield b"x" * 65536

        status, doc = await op.send("POST", "/api/stations/CP1/call", data=chunks())
        assert status == 413 and doc["error"] == f"body exceeds {MAX_BODY} bytes"


async def test_call_body_in_two_segments(csms, station_factory, op) -> None:
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        answering = asyncio.create_task(_answer(st, {}))
        body = orjson.dumps({"action": "ClearCache", "payload": {}})
        reader, writer = await asyncio.open_connection("127.0.0.1", op.port)
        writer.write(b"POST /api/stations/CP1/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        await writer.drain()
        await asyncio.sleep(0.05)  # not a wait for a result: it makes the rest of the body a later TCP segment
        writer.write(body[10:])
        await writer.drain()
        head, _, answer = (await asyncio.wait_for(reader.read(), 5)).partition(b"\r\n\r\n")
        writer.close()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert orjson.loads(answer)["type"] == "CALLRESULT"
        assert (await answering)[2] == "ClearCache"


async def test_call_unknown_not_connected_timeout_and_disconnect(csms, station_factory, op) -> None:
    status, doc = await op.call("NOPE", {"action": "ClearCache"})
    assert (status, doc["field"]) == (404, "identity")
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        status, doc = await op.call("CP1", {"action": "ClearCache", "timeout": 0.2})
        assert (status, doc) == (504, {"error": "no answer to ClearCache within 0.2 s", "messageId": "csms-1"})
        assert (await st.recv())[1] == "csms-1"

        pending = asyncio.create_task(op.call("CP1", {"action": "ClearCache"}))
        await st.recv()
        await st.ws.close()
        status, doc = await pending
        assert (status, doc) == (502, {"error": "station 'CP1' disconnected before answering", "messageId": "csms-2"})
    await csms.link("CP1").wait_disconnected(timeout=2)
    status, doc = await op.call("CP1", {"action": "ClearCache"})
    assert (status, doc) == (409, {"error": "station 'CP1' is not connected", "field": "identity"})


# -- GET /api/stations/{id}/messages ------------------------------------------------------------


def _strip(msgs: list[dict]) -> list[tuple]:
    for m in msgs:
        assert ISO_MS_Z.match(m.pop("time")), m
    return [tuple(m.values()) for m in msgs]


async def test_messages_shows_what_the_station_sent_and_the_answers(csms, station_factory, op) -> None:
    async with station_factory("CP1") as st, station_factory("CP2") as other:
        await csms.wait_connected("CP1", timeout=2)
        await st.call("BootNotification", BOOT)
        await other.call("Heartbeat", {})  # another station's frames are not listed
        answering = asyncio.create_task(_answer(st, error=["NotSupported", "no", {}]))
        await op.call("CP1", {"action": "ClearCache"})
        await answering
        await st.send('[2, "bad"')
        bad_answer = await st.recv()
        status, doc = await op.get("/api/stations/CP1/messages")
        assert status == 200 and doc["identity"] == "CP1" and doc["oldestKept"] == 1 and doc["next"] == 8
        boot_conf = doc["messages"][1]["payload"]
        assert boot_conf["status"] == "Accepted"
        assert _strip(doc["messages"]) == [
            (1, "station", "CALL", "st-1", "BootNotification", BOOT),
            (2, "csms", "CALLRESULT", "st-1", "BootNotification", boot_conf),
            (5, "csms", "CALL", "csms-1", "ClearCache", {}),
            (6, "station", "CALLERROR", "csms-1", "ClearCache", "NotSupported", "no", {}),
            (7, "station", "invalid", '[2, "bad"'),
            (8, "csms", "CALLERROR", "-1", None, *bad_answer[2:]),
        ]
        assert await op.get("/api/stations/CP1/messages?since=8") == (
            200, {"identity": "CP1", "messages": [], "next": 8, "oldestKept": 1})
        status, doc = await op.get("/api/stations/CP1/messages?since=1&limit=2")
        assert [m["seq"] for m in doc["messages"]] == [2, 5] and doc["next"] == 5
        status, doc = await op.get("/api/stations/CP1/messages?action=ClearCache")
        assert [m["seq"] for m in doc["messages"]] == [5, 6]


async def test_messages_are_bounded(csms, station_factory, op) -> None:
    csms.message_log = MessageLog(4)
    async with station_factory("CP1") as st:
        await csms.wait_connected("CP1", timeout=2)
        for _ in range(3):
            await st.call("Heartbeat", {})
        status, doc = await op.get("/api/stations/CP1/messages")
        assert [m["seq"] for m in doc["messages"]] == [3, 4, 5, 6] and doc["oldestKept"] == 3
        # the answer whose CALL was dropped still shows; its action is no longer known
        assert [m["action"] for m in doc["messages"]] == ["Heartbeat", "Heartbeat", "Heartbeat", "Heartbeat"]


async def test_messages_wait_for_the_next_frame(csms, station_factory, op) -> None:
    async with station_factory("CP1") as st, station_factory("CP2") as other:
        await csms.wait_connected("CP1", timeout=2)
        await st.call("Heartbeat", {})
        status, doc = await op.get("/api/stations/CP1/messages")
        since = doc["next"]
        waiting = asyncio.create_task(op.get(f"/api/stations/CP1/messages?since={since}&wait=30&action=Authorize"))
        await other.call("Authorize", {"idTag": "A"})  # another station's frame: still waiting
        await st.call("Heartbeat", {})  # another action: still waiting
        assert not waiting.done()
        await st.call("Authorize", {"idTag": "B"})
        status, doc = await asyncio.wait_for(waiting, 5)
        assert [(m["from"], m["type"], m["action"]) for m in doc["messages"]] == [
            ("station", "CALL", "Authorize"), ("csms", "CALLRESULT", "Authorize")]
        assert doc["messages"][0]["payload"] == {"idTag": "B"}


async def test_stopping_ends_a_waiting_messages_read_at_once(csms, station_factory) -> None:
    csms.message_log = log = MessageLog(100)
    runner, port = await start_operator_api(csms, ("127.0.0.1", 0))
    async with station_factory("CP1"), aiohttp.ClientSession() as http:
        await csms.wait_connected("CP1", timeout=2)
        url = f"http://127.0.0.1:{port}/api/stations/CP1/messages?wait=60"
        reading = asyncio.create_task(http.get(url))
        async with asyncio.timeout(5):
            while not log._waiters:  # the read is now waiting in the server
                await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await runner.cleanup()
        assert loop.time() - t0 < 1  # not the runner's 3 s shutdown timeout
        async with await reading as r:
            assert (r.status, (await r.json())["messages"]) == (200, [])


@pytest.mark.parametrize(("query", "field"), [("since=-1", "since"), ("since=x", "since"), ("limit=0", "limit"),
                                              ("limit=99999", "limit"), ("action=Nope", "action"), ("foo=1", "foo"),
                                              ("wait=61", "wait"), ("wait=0.5", "wait")])
async def test_messages_bad_query_is_422(csms, station_factory, op, query, field) -> None:
    async with station_factory("CP1"):
        await csms.wait_connected("CP1", timeout=2)
        status, doc = await op.get(f"/api/stations/CP1/messages?{query}")
        assert (status, doc["field"]) == (422, field)
    assert (await op.get("/api/stations/NOPE/messages"))[0] == 404


# -- the answer policy ----------------------------------------------------------------------------


async def test_policy_default_has_the_test_cards(csms, op) -> None:
    assert await op.get("/api/policy") == (200, {
        "boot": {"status": "Accepted", "interval": 300},
        "defaultIdTagInfo": {"status": "Accepted"},
        "idTags": {"INVALID01": {"status": "Invalid"}, "BLOCKED01": {"status": "Blocked"},
                   "EXPIRED01": {"status": "Expired"}},
        "stations": {},
    })


async def test_put_policy_changes_the_answers(csms, station_factory, op) -> None:
    info = {"status": "Accepted", "parentIdTag": "FLEET", "expiryDate": "2030-01-01T00:00:00.000Z"}
    status, doc = await op.send("PUT", "/api/policy", {
        "boot": {"status": "Pending", "interval": 5},
        "defaultIdTagInfo": "Invalid",
        "idTags": {"Tag1": info, "TAG2": "ConcurrentTx"},
    })
    assert (status, doc) == (200, {"boot": {"status": "Pending", "interval": 5},
                                   "defaultIdTagInfo": {"status": "Invalid"},
                                   "idTags": {"Tag1": info, "TAG2": {"status": "ConcurrentTx"}}, "stations": {}})
    async with station_factory("CP1") as st:
        boot = (await st.call("BootNotification", BOOT))[2]
        assert (boot["status"], boot["interval"]) == ("Pending", 5)
        assert (await st.call("Authorize", {"idTag": "TAG1"}))[2] == {"idTagInfo": info}  # case-insensitive
        assert (await st.call("Authorize", {"idTag": "TAG2"}))[2] == {"idTagInfo": {"status": "ConcurrentTx"}}
        assert (await st.call("Authorize", {"idTag": "INVALID01"}))[2] == {"idTagInfo": {"status": "Invalid"}}
        assert (await st.call("Authorize", {"idTag": "ANY"}))[2] == {"idTagInfo": {"status": "Invalid"}}
        start = (await st.call("StartTransaction", {**START, "idTag": "tag1"}))[2]
        assert start["idTagInfo"] == info

        status, doc = await op.send("PUT", "/api/policy", {"boot": {"interval": 9}})  # only what is given changes
        assert doc["boot"] == {"status": "Pending", "interval": 9} and doc["defaultIdTagInfo"] == {"status": "Invalid"}
        status, doc = await op.send("PUT", "/api/policy/id-tags/ANY", {"status": "Blocked"})
        assert (status, doc["idTags"]["ANY"]) == (200, {"status": "Blocked"})
        assert (await st.call("Authorize", {"idTag": "ANY"}))[2] == {"idTagInfo": {"status": "Blocked"}}
        status, doc = await op.send("DELETE", "/api/policy/id-tags/any")
        assert (status, "ANY" in doc["idTags"]) == (200, False)
        assert (await st.call("Authorize", {"idTag": "ANY"}))[2] == {"idTagInfo": {"status": "Invalid"}}


async def test_policy_per_station_boot_answer(csms, station_factory, op) -> None:
    # set before the station ever connected: its first BootNotification gets it
    status, doc = await op.send("PUT", "/api/policy", {"stations": {"CP2": {"boot": {"status": "Rejected"}},
                                                                    "CP3": {"boot": {"interval": 77}}}})
    assert (status, doc["stations"]) == (200, {"CP2": {"boot": {"status": "Rejected"}},
                                               "CP3": {"boot": {"interval": 77}}})
    assert [s["identity"] for s in (await op.get("/api/stations"))[1]["stations"]] == []  # none seen yet
    async with station_factory("CP1") as a, station_factory("CP2") as b, station_factory("CP3") as c:
        assert [(f := (await st.call("BootNotification", BOOT))[2])["status"] for st in (a, b, c)] == [
            "Accepted", "Rejected", "Accepted"]
        assert f["interval"] == 77
        assert (await b.call("Heartbeat", {}))[2] == "SecurityError"  # [JERRATA] 3.10: not accepted
        status, doc = await op.send("PUT", "/api/policy", {"stations": {"CP2": {"boot": {"status": "Accepted"}}}})
        assert doc["stations"] == {"CP2": {"boot": {"status": "Accepted"}}}  # replaces every station's answer
        assert (await b.call("BootNotification", BOOT))[2]["status"] == "Accepted"
        assert (await c.call("BootNotification", BOOT))[2]["interval"] == 300
        assert (await op.get("/api/stations/CP2"))[1]["registration"] == "Accepted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stations": {"CP1": {"boot": {"status": "Maybe"}}}}, "stations.CP1.boot.status"),
        ({"stations": {"CP1": {"boot": {"interval": -1}}}}, "stations.CP1.boot.interval"),
        ({"stations": {"CP1": {"idTags": {}}}}, "stations.CP1.idTags"),
        ({"stations": {"CP1": "Rejected"}}, "stations.CP1"),
        ({"stations": {"": {}}}, "stations."),
        ({"stations": []}, "stations"),
        ({"boot": {"status": "Maybe"}}, "boot.status"),
        ({"boot": {"interval": -5}}, "boot.interval"),
        ({"boot": {"interval": 1.5}}, "boot.interval"),
        ({"boot": {"interval": True}}, "boot.interval"),
        ({"boot": {"when": 1}}, "boot.when"),
        ({"boot": "Accepted"}, "boot"),
        ({"defaultIdTagInfo": {"status": "Nope"}}, "defaultIdTagInfo.status"),
        ({"idTags": {"A": {"status": "Accepted", "expiryDate": "soon"}}}, "idTags.A.expiryDate"),
        ({"idTags": {"A": {"status": "Accepted", "parentIdTag": "P" * 21}}}, "idTags.A.parentIdTag"),
        ({"idTags": {"A": {}}}, "idTags.A.status"),
        ({"idTags": {"A": {"status": "Accepted", "x": 1}}}, "idTags.A.x"),
        ({"idTags": {"X" * 21: "Accepted"}}, "idTags." + "X" * 21),
        ({"idTags": {"a": "Accepted", "A": "Blocked"}}, "idTags.A"),
        ({"idTags": ["A"]}, "idTags"),
        ({"cards": {}}, "cards"),
    ],
)
async def test_put_policy_bad_field_is_422_and_changes_nothing(csms, op, body, field) -> None:
    before = await op.get("/api/policy")
    status, doc = await op.send("PUT", "/api/policy", body)
    assert (status, doc["field"]) == (422, field), doc
    assert await op.get("/api/policy") == before


async def test_policy_bad_bodies(csms, op) -> None:
    assert (await op.send("PUT", "/api/policy", data=b"{oops"))[0] == 400
    assert (await op.send("PUT", "/api/policy", data=b'"x"'))[0] == 400
    status, doc = await op.send("PUT", "/api/policy/id-tags/" + "X" * 21, {"status": "Blocked"})
    assert (status, doc["field"]) == (422, "idTag")
    status, doc = await op.send("PUT", "/api/policy/id-tags/A", {"status": "Gone"})
    assert (status, doc["field"]) == (422, "idTagInfo.status")


# -- GET /api/status --------------------------------------------------------------------------


async def test_status_reports_calls_cpu_memory_and_gc_pauses(csms, station_factory, op) -> None:
    import gc

    from ocpp_station.csms.stats import CsmsStats

    csms.stats = CsmsStats(csms)
    csms.stats.gc.install()
    try:
        async with station_factory("CP1") as st:
            await st.call("BootNotification", BOOT)
            await st.call("Heartbeat", {})
            gc.collect()
            status, doc = await op.get("/api/status")
    finally:
        csms.stats.gc.uninstall()
    assert status == 200
    assert doc["stations"] == 1 and doc["connected"] == 1 and doc["callsReceived"] == 2
    assert doc["cpuSeconds"] >= 0 and doc["cpuMicrosecondsPerCall"] is not None
    assert doc["rssPeakKiB"] >= doc["rssKiB"] > 0
    assert doc["gc"]["collections"][2] >= 1 and doc["gc"]["maxPauseMs"] >= 0

"""ocpp.session: the sans-I/O RPC session ([OCPPJ] §4.1, spec digest §2.1).

No sockets, no clock: `now` is stepped by hand.
"""

from __future__ import annotations

import json

import pytest

from ocpp_station.ocpp.rpc import CallError, ErrorCode, OcppError
from ocpp_station.ocpp.session import (
    CallAnswered,
    CallFailed,
    CallReceived,
    CallTimedOut,
    FrameDropped,
    OutgoingCall,
    Session,
)
from ocpp_station.ocpp.rpc import Call

BOOT_REQ = {"chargePointVendor": "Acme", "chargePointModel": "M1"}
BOOT_CONF = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}
CHANGE_AV = {"connectorId": 1, "type": "Inoperative"}


def frames(session: Session) -> list[list]:
    return [json.loads(f) for f in session.data_to_send()]


@pytest.fixture
def s() -> Session:
    return Session("boot7", message_timeout=30.0)


def boot(s: Session, now: float = 100.0) -> OutgoingCall:
    req = s.send_call("BootNotification", BOOT_REQ, now=now)
    assert frames(s) == [[2, req.unique_id, "BootNotification", BOOT_REQ]]
    return req


# -- sending ---------------------------------------------------------------------------------


def test_idle_session(s):
    assert (s.busy, s.in_flight, s.get_timer(), s.data_to_send()) == (False, None, None, [])
    assert s.handle_timer(now=1e9) == []


def test_send_call_makes_session_busy(s):
    req = s.send_call("BootNotification", BOOT_REQ, now=100.0, context="rec-1")
    assert req == OutgoingCall("boot7-1", "BootNotification", BOOT_REQ, 100.0, 130.0, "rec-1")
    assert s.busy is True
    assert s.in_flight is req
    assert s.get_timer() == 130.0
    assert frames(s) == [[2, "boot7-1", "BootNotification", BOOT_REQ]]
    assert s.data_to_send() == []  # drained


def test_second_send_call_raises_and_leaves_first_in_flight(s):
    req = boot(s)
    with pytest.raises(RuntimeError):
        s.send_call("Heartbeat", {}, now=101.0)
    assert s.in_flight is req
    assert s.data_to_send() == []


def test_send_call_keeps_a_given_id_for_retries(s):
    req = s.send_call("Heartbeat", {}, now=0.0, unique_id="tx-retry-1")
    assert req.unique_id == "tx-retry-1"
    assert frames(s) == [[2, "tx-retry-1", "Heartbeat", {}]]


def test_ids_are_unique_and_prefixed():
    s = Session("p9x")
    ids = []
    for i in range(50):
        req = s.send_call("Heartbeat", {}, now=float(i))
        ids.append(req.unique_id)
        (ev,) = s.receive(json.dumps([3, req.unique_id, {"currentTime": "2024-01-01T00:00:00Z"}]), now=i + 0.5)
        assert isinstance(ev, CallAnswered)
    assert ids == [f"p9x-{n}" for n in range(1, 51)]
    assert len(set(ids)) == 50
    assert all(len(i) <= 36 for i in ids)
    # another boot (another prefix) does not collide
    assert Session("q1").new_id() not in ids


def test_outgoing_payload_schema_violation_raises_and_sends_nothing(s):
    with pytest.raises(OcppError) as info:
        s.send_call("BootNotification", {"chargePointVendor": "Acme"}, now=0.0)
    assert info.value.code == ErrorCode.PROTOCOL_ERROR
    with pytest.raises(OcppError) as info:
        s.send_call("Authorize", {"idTag": "A" * 21}, now=0.0)
    assert info.value.code == ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert (s.busy, s.data_to_send()) == (False, [])


def test_outgoing_result_schema_violation_raises(s):
    with pytest.raises(OcppError) as info:
        s.send_result("x-1", "ChangeAvailability", {"status": "Maybe"})
    assert info.value.code == ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert s.data_to_send() == []


def test_outgoing_validation_can_be_disabled():
    s = Session("nv", validate_outgoing=False)
    s.send_call("BootNotification", {}, now=0.0)
    assert frames(s) == [[2, "nv-1", "BootNotification", {}]]


# -- answers to our CALL ---------------------------------------------------------------------


def test_callresult_with_right_id_answers(s):
    req = boot(s)
    events = s.receive(json.dumps([3, req.unique_id, BOOT_CONF]), now=101.0)
    assert events == [CallAnswered(req, BOOT_CONF, 101.0)]
    assert (s.busy, s.in_flight, s.get_timer()) == (False, None, None)
    assert s.data_to_send() == []  # answers are never answered


@pytest.mark.parametrize("current_time", ["2024-01-01T00:00:00", "2024-01-01T00:00:00+0000", "2024-01-01t01:00:00.5+01"])
def test_callresult_with_an_iso_8601_date_time_answers(s, current_time):
    """[ERRATA] 3.10: a confirmation whose date-time is ISO 8601 but not RFC 3339 is an answer, not a failure."""
    req = boot(s)
    conf = {**BOOT_CONF, "currentTime": current_time}
    assert s.receive(json.dumps([3, req.unique_id, conf]), now=101.0) == [CallAnswered(req, conf, 101.0)]


def test_callresult_with_a_garbage_date_time_fails(s):
    req = boot(s)
    (ev,) = s.receive(json.dumps([3, req.unique_id, {**BOOT_CONF, "currentTime": "soon"}]), now=101.0)
    assert isinstance(ev, CallFailed) and ev.error.error_code == "TypeConstraintViolation"


def test_a_date_time_we_send_is_utc_with_milliseconds_and_z(s):
    payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "2024-01-01T00:00:00Z"}
    with pytest.raises(OcppError) as exc:
        s.send_call("StatusNotification", payload, now=0.0)
    assert exc.value.code == "TypeConstraintViolation"
    assert frames(s) == [] and not s.busy
    s.send_call("StatusNotification", {**payload, "timestamp": "2024-01-01T00:00:00.000Z"}, now=0.0)
    assert frames(s)[0][3]["timestamp"] == "2024-01-01T00:00:00.000Z"


def test_callresult_with_wrong_id_is_dropped_and_still_busy(s):
    req = boot(s)
    events = s.receive(json.dumps([3, "someone-else", BOOT_CONF]), now=101.0)
    assert len(events) == 1 and isinstance(events[0], FrameDropped)
    assert events[0].answered_with is None
    assert s.busy and s.in_flight is req
    assert s.data_to_send() == []
    # the right answer still lands afterwards
    assert s.receive(json.dumps([3, req.unique_id, BOOT_CONF]), now=102.0) == [CallAnswered(req, BOOT_CONF, 102.0)]


def test_answer_when_idle_is_dropped(s):
    (ev,) = s.receive('[3, "boot7-1", {}]', now=0.0)
    assert isinstance(ev, FrameDropped) and ev.answered_with is None
    assert s.data_to_send() == []


def test_callerror_fails_the_call(s):
    req = boot(s)
    events = s.receive(json.dumps([4, req.unique_id, "InternalError", "db down", {"retry": True}]), now=105.0)
    assert events == [CallFailed(req, CallError(req.unique_id, "InternalError", "db down", {"retry": True}), 105.0)]
    assert s.busy is False
    assert s.data_to_send() == []


def test_callerror_with_wrong_id_is_dropped(s):
    req = boot(s)
    (ev,) = s.receive('[4, "other", "GenericError", "", {}]', now=101.0)
    assert isinstance(ev, FrameDropped) and ev.answered_with is None
    assert s.in_flight is req


def test_callresult_breaking_the_schema_fails_the_call(s):
    req = boot(s)
    (ev,) = s.receive(json.dumps([3, req.unique_id, {**BOOT_CONF, "interval": "300"}]), now=101.0)
    assert isinstance(ev, CallFailed)
    assert (ev.request, ev.now) == (req, 101.0)
    assert (ev.error.unique_id, ev.error.error_code) == (req.unique_id, ErrorCode.TYPE_CONSTRAINT_VIOLATION)
    assert s.busy is False
    assert s.data_to_send() == []


# -- timeout -----------------------------------------------------------------------------------


def test_timeout_exactly_at_deadline():
    s = Session("t", message_timeout=12.5)
    req = s.send_call("Heartbeat", {}, now=1000.0)
    deadline = 1012.5
    assert req.deadline == deadline == s.get_timer()
    assert s.handle_timer(now=1000.0) == []
    assert s.handle_timer(now=deadline - 0.001) == []
    assert s.busy
    assert s.handle_timer(now=deadline) == [CallTimedOut(req, deadline)]
    assert (s.busy, s.get_timer()) == (False, None)
    assert s.handle_timer(now=deadline + 1) == []  # only once


def test_default_message_timeout_is_30_s(s):
    req = s.send_call("Heartbeat", {}, now=5.0)
    assert req.deadline == 35.0
    assert Session("d").message_timeout == 30.0


def test_message_timeout_change_applies_to_the_next_call(s):
    s.message_timeout = 60.0  # e.g. MessageTimeout changed by the CSMS
    req = s.send_call("Heartbeat", {}, now=0.0)
    assert s.handle_timer(now=59.999) == []
    assert s.handle_timer(now=60.0) == [CallTimedOut(req, 60.0)]


def test_late_answer_after_timeout_is_dropped(s):
    req = boot(s, now=0.0)
    assert s.handle_timer(now=30.0) == [CallTimedOut(req, 30.0)]
    (ev,) = s.receive(json.dumps([3, req.unique_id, BOOT_CONF]), now=31.0)
    assert isinstance(ev, FrameDropped) and ev.answered_with is None
    # and a new CALL may go out
    nxt = s.send_call("Heartbeat", {}, now=31.0)
    assert nxt.unique_id == "boot7-2"


# -- CALLs from the CSMS ------------------------------------------------------------------------


def test_incoming_call_while_ours_in_flight(s):
    req = boot(s)
    events = s.receive(json.dumps([2, "csms-1", "ChangeAvailability", CHANGE_AV]), now=101.0)
    assert events == [CallReceived(Call("csms-1", "ChangeAvailability", CHANGE_AV))]
    assert s.in_flight is req and s.get_timer() == 130.0
    s.send_result("csms-1", "ChangeAvailability", {"status": "Accepted"})
    assert frames(s) == [[3, "csms-1", {"status": "Accepted"}]]
    # ours is still answered normally
    assert s.receive(json.dumps([3, req.unique_id, BOOT_CONF]), now=102.0) == [CallAnswered(req, BOOT_CONF, 102.0)]


def test_send_error_frame(s):
    s.send_error("csms-2", ErrorCode.INTERNAL_ERROR)
    s.send_error("csms-3", ErrorCode.NOT_SUPPORTED, "no", {"k": 1})
    assert frames(s) == [
        [4, "csms-2", "InternalError", "", {}],
        [4, "csms-3", "NotSupported", "no", {"k": 1}],
    ]


def test_data_transfer_is_accepted_both_ways(s):
    p = {"vendorId": "acme", "messageId": "m", "data": "x"}
    assert s.receive(json.dumps([2, "dt-1", "DataTransfer", p]), now=0.0) == [CallReceived(Call("dt-1", "DataTransfer", p))]


def test_unknown_action_is_not_implemented(s):
    events = s.receive('[2, "csms-9", "FlyToTheMoon", {}]', now=0.0)
    assert events == [FrameDropped("unknown action 'FlyToTheMoon'", ErrorCode.NOT_IMPLEMENTED)]
    (frame,) = frames(s)
    assert frame[:3] == [4, "csms-9", "NotImplemented"]
    assert frame[4] == {}


def test_action_names_are_case_sensitive(s):
    s.receive('[2, "csms-10", "changeAvailability", {"connectorId": 1, "type": "Operative"}]', now=0.0)
    assert frames(s)[0][:3] == [4, "csms-10", "NotImplemented"]


@pytest.mark.parametrize("action", ["BootNotification", "Heartbeat", "StartTransaction", "StatusNotification", "SignCertificate"])
def test_cp_to_csms_action_sent_to_the_cp_is_not_supported(s, action):
    (ev,) = s.receive(json.dumps([2, "csms-11", action, {}]), now=0.0)
    assert isinstance(ev, FrameDropped) and ev.answered_with == ErrorCode.NOT_SUPPORTED
    (frame,) = frames(s)
    assert frame[:3] == [4, "csms-11", "NotSupported"]
    assert frame[4] == {}


# -- malformed input, then a valid CALL still gets through ----------------------------------------

VALID_CALL = [2, "ok-1", "ChangeAvailability", CHANGE_AV]

MALFORMED = [
    # (name, data, expected CALLERROR frame without the description, or None for a silent drop)
    ("missing required field", json.dumps([2, "m-1", "ChangeAvailability", {"connectorId": 1}]), ["m-1", "ProtocolError"]),
    ("wrong type", json.dumps([2, "m-2", "ChangeAvailability", {"connectorId": "1", "type": "Operative"}]), ["m-2", "TypeConstraintViolation"]),
    ("over maxLength", json.dumps([2, "m-3", "RemoteStartTransaction", {"idTag": "A" * 21}]), ["m-3", "TypeConstraintViolation"]),
    ("extra property", json.dumps([2, "m-4", "ChangeAvailability", {**CHANGE_AV, "x": 1}]), ["m-4", "FormationViolation"]),
    ("bad enum", json.dumps([2, "m-5", "ChangeAvailability", {"connectorId": 1, "type": "Bogus"}]), ["m-5", "PropertyConstraintViolation"]),
    ("bad date-time", json.dumps([2, "m-6", "ReserveNow", {"connectorId": 1, "expiryDate": "soon", "idTag": "T", "reservationId": 1}]), ["m-6", "TypeConstraintViolation"]),
    ("payload is a list", json.dumps([2, "m-7", "ChangeAvailability", []]), ["m-7", "FormationViolation"]),
    ("unknown action", json.dumps([2, "m-8", "Bogus", {}]), ["m-8", "NotImplemented"]),
    ("cp->csms action", json.dumps([2, "m-9", "BootNotification", BOOT_REQ]), ["m-9", "NotSupported"]),
    ("not JSON", "this is not json", ["-1", "GenericError"]),
    ("binary frame", b'[2, "m-10", "ClearCache", {}]', ["-1", "GenericError"]),
    ("message type as string", json.dumps(["2", "m-11", "ClearCache", {}]), ["m-11", "FormationViolation"]),
    ("not an array", '{"id": "m-12"}', ["-1", "FormationViolation"]),
    ("id too long", json.dumps([2, "x" * 37, "ClearCache", {}]), ["x" * 37, "FormationViolation"]),
    ("answer with an id too long", json.dumps([3, "x" * 37, {}]), None),
    ("missing action", json.dumps([2, "m-13", {}]), ["m-13", "FormationViolation"]),
    ("1 MiB payload", json.dumps([2, "m-14", "DataTransfer", {"vendorId": "v", "data": "x" * (1024 * 1024)}]), ["m-14", "GenericError"]),
    ("wrong message type number", json.dumps([7, "m-15", "ClearCache", {}]), None),
    ("malformed CALLRESULT", '[3, "m-16"]', None),
]


@pytest.mark.parametrize("data, expected", [(d, e) for _, d, e in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_input_then_valid_call_is_delivered(s, data, expected):
    req = boot(s)
    events = s.receive(data, now=101.0)
    assert len(events) == 1 and isinstance(events[0], FrameDropped)
    out = frames(s)
    if expected is None:
        assert events[0].answered_with is None
        assert out == []
    else:
        assert events[0].answered_with == expected[1]
        assert len(out) == 1
        frame = out[0]
        assert len(frame) == 5
        assert [frame[0], frame[1], frame[2]] == [4, *expected]
        assert isinstance(frame[3], str) and frame[4] == {}
    # our own CALL is untouched ...
    assert s.in_flight is req and s.get_timer() == 130.0
    # ... and the session keeps working
    assert s.receive(json.dumps(VALID_CALL), now=102.0) == [CallReceived(Call("ok-1", "ChangeAvailability", CHANGE_AV))]
    assert s.data_to_send() == []
    assert s.receive(json.dumps([3, req.unique_id, BOOT_CONF]), now=103.0) == [CallAnswered(req, BOOT_CONF, 103.0)]


@pytest.mark.parametrize("data", [d for _, d, _ in MALFORMED] + [json.dumps(VALID_CALL)],
                         ids=[n for n, _, _ in MALFORMED] + ["valid CALL"])
def test_drop_calls_answers_nothing(s, data):
    """spec §2.2 ([SPEC] §4.2): while registration is Rejected nothing is answered, not even a CALLERROR."""
    s.drop_calls = True
    events = s.receive(data, now=101.0)
    assert len(events) == 1 and isinstance(events[0], FrameDropped) and events[0].answered_with is None
    assert s.data_to_send() == []
    # an answer to our own CALL is still taken
    req = boot(s)
    assert s.receive(json.dumps([3, req.unique_id, BOOT_CONF]), now=102.0) == [CallAnswered(req, BOOT_CONF, 102.0)]
    # once cleared, CALLs are answered again
    s.drop_calls = False
    s.receive('[2, "csms-9", "FlyToTheMoon", {}]', now=103.0)
    assert frames(s)[0][:3] == [4, "csms-9", "NotImplemented"]


def test_max_frame_bytes_is_honoured():
    s = Session("mf", max_frame_bytes=64)
    (ev,) = s.receive(json.dumps([2, "big", "DataTransfer", {"vendorId": "v" * 64}]), now=0.0)
    assert ev.answered_with == ErrorCode.GENERIC_ERROR
    assert frames(s)[0][:3] == [4, "big", "GenericError"]
    assert s.receive('[2,"small","ClearCache",{}]', now=0.0) == [CallReceived(Call("small", "ClearCache", {}))]


# -- connection loss ---------------------------------------------------------------------------


def test_connection_lost_returns_in_flight_call_and_clears_output(s):
    req = s.send_call("BootNotification", BOOT_REQ, now=0.0)  # not yet written
    s.send_error("csms-1", ErrorCode.GENERIC_ERROR)
    assert s.connection_lost() is req
    assert (s.busy, s.in_flight, s.get_timer(), s.data_to_send()) == (False, None, None, [])
    assert s.handle_timer(now=1e6) == []
    assert s.connection_lost() is None
    # ids keep counting across the reconnect
    assert s.send_call("Heartbeat", {}, now=1.0).unique_id == "boot7-2"

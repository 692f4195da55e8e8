"""ocpp.codec: OCPP-J frame decoding/encoding ([OCPPJ] §4, spec digest §2.1 "Framing")."""

from __future__ import annotations

import json

import pytest

from ocpp_station.ocpp.codec import DEFAULT_MAX_FRAME_BYTES, FrameError, FrameIgnored, decode, encode
from ocpp_station.ocpp.rpc import UNKNOWN_ID, Call, CallError, CallResult, ErrorCode


def frame_error(data, **kw) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode(data, **kw)
    return info.value


# -- valid frames ----------------------------------------------------------------


def test_decode_call():
    frame = decode('[2, "abc-1", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}]')
    assert frame == Call("abc-1", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})


def test_decode_call_with_empty_payload():
    assert decode('[2,"x","ClearCache",{}]') == Call("x", "ClearCache", {})


def test_decode_callresult():
    frame = decode('[3, "abc-1", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}]')
    assert frame == CallResult("abc-1", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300})


def test_decode_callerror():
    frame = decode('[4, "abc-1", "NotSupported", "no smart charging", {"hint": 1}]')
    assert frame == CallError("abc-1", "NotSupported", "no smart charging", {"hint": 1})


def test_decode_callerror_without_details_gets_empty_object():
    assert decode('[4, "abc-1", "GenericError", ""]') == CallError("abc-1", "GenericError", "", {})


def test_decode_non_ascii_text():
    assert decode('[2,"ü-1","DataTransfer",{"vendorId":"Grüße"}]') == Call("ü-1", "DataTransfer", {"vendorId": "Grüße"})


def test_decode_id_of_exactly_36_chars_is_accepted():
    uid = "a" * 36
    assert decode(json.dumps([3, uid, {}])) == CallResult(uid, {})


@pytest.mark.parametrize(
    "frame, expected",
    [
        (Call("id-1", "Heartbeat", {}), [2, "id-1", "Heartbeat", {}]),
        (
            Call("id-2", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}),
            [2, "id-2", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
        ),
        (CallResult("id-3", {"currentTime": "2024-01-01T00:00:00Z"}), [3, "id-3", {"currentTime": "2024-01-01T00:00:00Z"}]),
        (CallResult("id-4", {}), [3, "id-4", {}]),
        (CallError("id-5", "NotImplemented", "unknown action", {"a": [1, 2]}), [4, "id-5", "NotImplemented", "unknown action", {"a": [1, 2]}]),
        (CallError("id-6", "GenericError"), [4, "id-6", "GenericError", "", {}]),
    ],
)
def test_encode_exact_and_round_trip(frame, expected):
    text = encode(frame)
    assert isinstance(text, str)
    assert json.loads(text) == expected
    assert decode(text) == frame


def test_encode_callerror_with_none_details_writes_empty_object():
    err = CallError("id", "InternalError", "boom")
    err.details = None  # type: ignore[assignment]
    assert json.loads(encode(err)) == [4, "id", "InternalError", "boom", {}]


# -- text that is not an OCPP-J frame -------------------------------------------------


@pytest.mark.parametrize("text", ["not json", "[2, \"x\", ", "", "{'a': 1}", "[2,\"id\",\"Reset\",{\"type\":\"Hard\"}] trailing"])
def test_not_json_is_generic_error_with_unknown_id(text):
    e = frame_error(text)
    assert (e.code, e.unique_id, e.is_call, e.action) == (ErrorCode.GENERIC_ERROR, "-1", False, None)
    assert UNKNOWN_ID == "-1"


@pytest.mark.parametrize("data", [b'[2,"x","Heartbeat",{}]', bytearray(b"[3,\"x\",{}]"), memoryview(b"\x00\x01")])
def test_binary_frame_is_generic_error(data):
    e = frame_error(data)
    assert (e.code, e.unique_id) == (ErrorCode.GENERIC_ERROR, "-1")


@pytest.mark.parametrize("text", ['{"a": 1}', '"text"', "42", "null", "true", "[]"])
def test_non_array_json_is_formation_violation(text):
    e = frame_error(text)
    assert (e.code, e.unique_id) == (ErrorCode.FORMATION_VIOLATION, "-1")


@pytest.mark.parametrize("mtype", [0, 1, 5, 7, 99, -2])
def test_unknown_message_type_number_is_ignored(mtype):
    # [OCPPJ] §4.1.3 / digest §2.1: unknown message type numbers are ignored (dropped, no answer)
    with pytest.raises(FrameIgnored):
        decode(json.dumps([mtype, "abc", "Heartbeat", {}]))


@pytest.mark.parametrize(
    "text, expected_id",
    [
        ('["2", "abc-9", "Heartbeat", {}]', "abc-9"),
        ('[2.0, "abc-9", "Heartbeat", {}]', "abc-9"),
        ('[true, "abc-9", "Heartbeat", {}]', "abc-9"),
        ('[null, "abc-9", "Heartbeat", {}]', "abc-9"),
        ('["2"]', "-1"),
        ('["2", 17, "Heartbeat", {}]', "-1"),
        ('["2", "' + "z" * 37 + '", "Heartbeat", {}]', "z" * 37),  # over 36 characters, but readable
    ],
)
def test_message_type_not_an_integer_is_formation_violation(text, expected_id):
    e = frame_error(text)
    assert (e.code, e.unique_id) == (ErrorCode.FORMATION_VIOLATION, expected_id)


@pytest.mark.parametrize(
    "text",
    [
        "[2]",
        '[2, 123, "Heartbeat", {}]',
        '[2, null, "Heartbeat", {}]',
        '[2, "", "Heartbeat", {}]',
        '[3, ["a"], {}]',
    ],
)
def test_unreadable_unique_id_is_formation_violation_to_minus_one(text):
    e = frame_error(text)
    assert (e.code, e.unique_id) == (ErrorCode.FORMATION_VIOLATION, "-1")


@pytest.mark.parametrize("length", [37, 100, 1000])
def test_call_with_unique_id_longer_than_36_chars_is_formation_violation_to_that_id(length):
    # [OCPPJ] §4.1.1: at most 36 characters; the id was readable, so the CALLERROR goes to it, not to "-1"
    uid = "a" * length
    e = frame_error(json.dumps([2, uid, "Heartbeat", {}]))
    assert (e.code, e.unique_id) == (ErrorCode.FORMATION_VIOLATION, uid)
    assert "36" in e.description


@pytest.mark.parametrize("text", [json.dumps([3, "a" * 37, {}]), json.dumps([4, "a" * 37, "GenericError", "", {}])])
def test_answer_with_unique_id_longer_than_36_chars_is_ignored(text):
    # we never send such an id: an answer to it answers nothing of ours (logged and dropped, like an unknown id)
    with pytest.raises(FrameIgnored):
        decode(text)


def test_oversize_call_with_a_long_id_is_answered_to_that_id():
    uid = "b" * 40
    e = frame_error(json.dumps([2, uid, "DataTransfer", {"vendorId": "v", "data": "x" * 600_000}]))
    assert (e.code, e.unique_id) == (ErrorCode.GENERIC_ERROR, uid)


@pytest.mark.parametrize(
    "text",
    [
        '[2, "call-7", {}]',  # action missing
        '[2, "call-7", 5, {}]',  # action not a string
        '[2, "call-7", null, {}]',
        '[2, "call-7", "Heartbeat"]',  # payload missing
        '[2, "call-7", "Heartbeat", {}, {}]',  # one element too many
    ],
)
def test_call_with_wrong_structure_is_formation_violation_with_its_id(text):
    e = frame_error(text)
    assert (e.code, e.unique_id, e.is_call) == (ErrorCode.FORMATION_VIOLATION, "call-7", False)


@pytest.mark.parametrize("payload", ["[]", "null", '"x"', "1", "[{}]"])
def test_call_payload_not_an_object_is_formation_violation_with_id_and_action(payload):
    e = frame_error(f'[2, "call-8", "Reset", {payload}]')
    assert (e.code, e.unique_id, e.action, e.is_call) == (ErrorCode.FORMATION_VIOLATION, "call-8", "Reset", True)


@pytest.mark.parametrize(
    "text",
    [
        '[3, "r-1"]',
        '[3, "r-1", []]',
        '[3, "r-1", null]',
        '[3, "r-1", {}, {}]',
        '[4, "r-1", "GenericError"]',
        '[4, "r-1", 5, ""]',
        '[4, "r-1", "GenericError", null, {}]',
        '[4, "r-1", "GenericError", "", {}, 1]',
    ],
)
def test_malformed_answers_are_ignored(text):
    with pytest.raises(FrameIgnored):
        decode(text)


# -- size limit --------------------------------------------------------------------------


def test_default_limit_is_512_kib():
    assert DEFAULT_MAX_FRAME_BYTES == 512 * 1024


def test_oversize_call_refused_before_parsing_with_id_from_prefix(monkeypatch):
    import ocpp_station.ocpp.codec as codec

    def no_parse(_):  # the frame must be refused unparsed
        raise AssertionError("oversize frame was parsed")

    monkeypatch.setattr(codec.orjson, "loads", no_parse)
    big = '[2, "big-1", "DataTransfer", {"vendorId": "v", "data": "' + "x" * (1024 * 1024) + '"}]'
    e = frame_error(big)
    assert (e.code, e.unique_id) == (ErrorCode.GENERIC_ERROR, "big-1")
    assert str(len(big)) in e.description


def test_oversize_unparseable_frame_keeps_prefix_id():
    big = ' [ 2 ,  "big-2", ' + "garbage" * 200_000  # not even JSON: the id is still read from the prefix
    e = frame_error(big)
    assert (e.code, e.unique_id) == (ErrorCode.GENERIC_ERROR, "big-2")


def test_oversize_without_readable_id_is_minus_one():
    e = frame_error('{"a": "' + "x" * DEFAULT_MAX_FRAME_BYTES + '"}')
    assert (e.code, e.unique_id) == (ErrorCode.GENERIC_ERROR, "-1")


def test_size_limit_is_in_utf8_bytes_and_configurable():
    frame = '[2,"s-1","DataTransfer",{"vendorId":"' + "é" * 30 + '"}]'  # 30 chars but 60 bytes
    limit = len(frame.encode()) - 1
    assert len(frame) <= limit
    e = frame_error(frame, max_bytes=limit)
    assert (e.code, e.unique_id) == (ErrorCode.GENERIC_ERROR, "s-1")
    assert decode(frame, max_bytes=limit + 1) == Call("s-1", "DataTransfer", {"vendorId": "é" * 30})

"""Malformed input from the CSMS, end to end: a real ``ocpp-station run`` process answers each bad frame
with the documented CALLERROR (README "OCPP-J error handling"), or drops it, and keeps working."""

from __future__ import annotations

import json
import re

import pytest

GET_ONE = '[2,"after-1","GetConfiguration",{"key":["NumberOfConnectors"]}]'
GET_ONE_ANSWER = [3, "after-1", {"configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "1"}]}]


async def _still_working(st, link) -> None:
    """A following valid CALL is answered and is the next frame; the process is alive."""
    await link.send_raw(GET_ONE)
    assert json.loads(await link.next_raw(timeout=5)) == GET_ONE_ANSWER
    assert st.proc.returncode is None
    state = await st.state()
    assert state["connectors"]
    assert link.connections == 1  # the bad frame did not cost the connection


async def _answer_to(link, frame: str | bytes) -> list:
    await link.send_raw(frame)
    raw = await link.next_raw(timeout=5)
    assert isinstance(raw, str)
    return json.loads(raw)


def names(description: str, field: str) -> bool:
    """The CALLERROR description names ``field`` (as a word), whatever the wording of the JSON or schema library."""
    return re.search(rf"(?<![\w/]){re.escape(field)}(?![\w/])", description) is not None


# name -> (frame, expected [4, id, code], the field (or action) the description names, None when there is none)
CASES = {
    "missing_required_field": (
        '[2,"m1","ChangeConfiguration",{"key":"HeartbeatInterval"}]', [4, "m1", "ProtocolError"], "value",
    ),
    "wrong_type": (
        '[2,"m2","ChangeConfiguration",{"key":"HeartbeatInterval","value":5}]',
        [4, "m2", "TypeConstraintViolation"], "value",
    ),
    "string_too_long": (
        '[2,"m3","ChangeConfiguration",{"key":"' + "K" * 51 + '","value":"5"}]',
        [4, "m3", "TypeConstraintViolation"], "key",
    ),
    "extra_property": (
        '[2,"m4","ChangeConfiguration",{"key":"HeartbeatInterval","value":"5","extra":1}]',
        [4, "m4", "FormationViolation"], "extra",
    ),
    "unknown_action": ('[2,"m5","FooBar",{}]', [4, "m5", "NotImplemented"], "FooBar"),
    "not_json": ("not json", [4, "-1", "GenericError"], None),
    "binary_frame": (b"\x00\x01binary", [4, "-1", "GenericError"], None),
}


async def _check(link, case: str) -> None:
    """The bad frame gets a CALLERROR with the OCPP-J code and the id, a description naming the field, no details."""
    frame, head, field = CASES[case]
    answer = await _answer_to(link, frame)
    assert answer[:3] == head and answer[4] == {} and len(answer) == 5, answer
    assert isinstance(answer[3], str) and answer[3], answer
    if field is not None:
        assert names(answer[3], field), answer[3]


async def test_malformed_missing_required_field(booted):
    st, link = await booted()
    await _check(link, "missing_required_field")
    await _still_working(st, link)
    # nothing was changed
    conf = await link.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
    assert conf["configurationKey"][0]["value"] == "30"
    assert await st.stop() == 0


async def test_malformed_wrong_type(booted):
    st, link = await booted()
    await _check(link, "wrong_type")
    await _still_working(st, link)
    assert await st.stop() == 0


async def test_malformed_string_over_max_length(booted):
    st, link = await booted()
    await _check(link, "string_too_long")
    await _still_working(st, link)
    assert await st.stop() == 0


async def test_malformed_extra_property(booted):
    st, link = await booted()
    await _check(link, "extra_property")
    await _still_working(st, link)
    assert await st.stop() == 0


async def test_malformed_unknown_action(booted):
    st, link = await booted()
    await _check(link, "unknown_action")
    await _still_working(st, link)
    assert await st.stop() == 0


async def test_malformed_not_json(booted):
    st, link = await booted()
    await _check(link, "not_json")
    await _still_working(st, link)
    assert await st.stop() == 0


async def test_malformed_binary_frame(booted):
    st, link = await booted()
    await _check(link, "binary_frame")
    await _still_working(st, link)
    assert await st.stop() == 0


def _answers_since(link, index: int) -> list:
    """CALLRESULT/CALLERROR frames received from the station since ``link.frames[index]``."""
    out = []
    for direction, data, _t in link.frames[index:]:
        if direction == "in":
            msg = json.loads(data)
            if msg[0] in (3, 4):
                out.append(msg)
    return out


@pytest.mark.parametrize("mtype", [7, 0, 5])
async def test_malformed_unknown_message_type_dropped(booted, mtype):
    """[OCPPJ] §4.1.3: an unknown MessageTypeId is dropped: no answer at all, the next frame the station
    sends is the answer to the following valid CALL."""
    st, link = await booted()
    start = len(link.frames)
    await link.send_raw(f'[{mtype},"x","GetConfiguration",{{}}]')
    await link.send_raw(GET_ONE)
    assert json.loads(await link.next_raw(timeout=5)) == GET_ONE_ANSWER
    # exactly one answer came back for the two frames sent (history also catches an answer that might
    # have arrived before the second send_raw cleared the next_raw queue)
    assert _answers_since(link, start) == [GET_ONE_ANSWER]
    assert st.proc.returncode is None
    assert link.connections == 1
    assert await st.stop() == 0


async def test_malformed_frame_over_limit(booted):
    """A 1 MiB frame (limit 512 KiB) is refused unparsed: GenericError with the id read from its start."""
    st, link = await booted()
    frame = '[2,"big-1","DataTransfer",{"vendorId":"X","data":"' + "a" * (1 << 20) + '"}]'
    size = len(frame.encode())
    assert await _answer_to(link, frame) == [
        4,
        "big-1",
        "GenericError",
        f"frame of {size} bytes exceeds the limit of 524288 bytes",
        {},
    ]
    await _still_working(st, link)
    assert await st.stop() == 0


@pytest.mark.parametrize(
    "frame",
    ['[3,"nobody-asked",{"status":"Accepted"}]', '[4,"nobody-asked","InternalError","boom",{}]'],
    ids=["callresult", "callerror"],
)
async def test_malformed_answer_for_unknown_id_dropped(booted, frame):
    """A CALLRESULT (or CALLERROR) for a message id the station never used is logged and dropped:
    no answer, no CALL, and the station keeps working."""
    st, link = await booted()
    start = len(link.frames)
    await link.send_raw(frame)
    await link.send_raw(GET_ONE)
    assert json.loads(await link.next_raw(timeout=5)) == GET_ONE_ANSWER
    assert _answers_since(link, start) == [GET_ONE_ANSWER]
    await link.no_call(0.3, ignore=("Heartbeat",))
    assert st.proc.returncode is None
    assert link.connections == 1
    assert await link.call("GetConfiguration", {"key": ["NumberOfConnectors"]}) == GET_ONE_ANSWER[2]
    assert await st.stop() == 0

"""Property-based fuzzing of the OCPP-J frame path: the codec and a booted core Station.

Invariants:
* ``codec.decode`` raises nothing but FrameError / FrameIgnored; a FrameError carries a
  1.6 error code and a message id of at most 36 characters.
* A booted Station fed anything never raises, answers only with well-formed
  CALLRESULT/CALLERROR frames, and still answers a valid GetConfiguration afterwards.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import CoreHarness
from ocpp_station.ocpp import actions, codec
from ocpp_station.ocpp.rpc import ErrorCode

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# -- strategies ---------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=20), json_values, max_size=6)

CSMS_ACTIONS = sorted(a for a in actions.ACTIONS if actions.sent_by_csms(a))
ALL_ACTIONS = sorted(actions.ACTIONS)

# field names the OCPP 1.6 requests use, so random payloads sometimes get past "required"
FIELD_NAMES = [
    "connectorId", "type", "key", "value", "idTag", "transactionId", "chargingProfile", "requestedMessage",
    "vendorId", "messageId", "data", "location", "retrieveDate", "listVersion", "updateType",
    "localAuthorizationList", "reservationId", "expiryDate", "duration", "chargingRateUnit", "id",
    "stackLevel", "chargingProfilePurpose", "certificateType", "certificate", "logType", "log", "requestId",
    "firmware", "certificateHashData", "retries", "retryInterval", "startTime", "stopTime",
]
ocpp_like_objects = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=12), json_values, max_size=5)

message_ids = st.text(max_size=40) | json_values
action_names = st.sampled_from(ALL_ACTIONS) | st.text(max_size=30) | json_values


@st.composite
def structured_frames(draw) -> list:
    """A JSON array that looks like an OCPP-J frame but may be wrong anywhere."""
    mtype = draw(st.sampled_from([2, 3, 4]) | json_scalars)
    uid = draw(message_ids)
    if mtype == 2:
        rest = [draw(action_names), draw(json_objects | ocpp_like_objects | json_values)]
    elif mtype == 3:
        rest = [draw(json_objects | json_values)]
    elif mtype == 4:
        rest = [draw(st.sampled_from(sorted(ErrorCode.ALL)) | json_values), draw(st.text(max_size=30) | json_values)]
        if draw(st.booleans()):
            rest.append(draw(json_objects | json_values))
    else:
        rest = draw(st.lists(json_values, max_size=4))
    frame = [mtype, uid, *rest]
    cut = draw(st.integers(min_value=0, max_value=len(frame) + 1))
    if cut < len(frame) and draw(st.booleans()):
        frame = frame[:cut]
    elif draw(st.booleans()):
        frame.append(draw(json_values))
    return frame


def dumps(value) -> str:
    return orjson.dumps(value).decode()


CONFIG_KEYS = sorted(CoreHarness().station.config.specs)

small_ints = st.integers(min_value=-3, max_value=5) | st.integers(min_value=-(2**31), max_value=2**31 - 1)
id_tags = st.text(min_size=1, max_size=20) | st.sampled_from(["TAG1", "ABC", "x" * 20])
config_values = (
    st.text(max_size=10)
    | st.integers(min_value=-(2**40), max_value=2**40).map(str)
    | st.sampled_from(["true", "false", "0", "-1", "Energy.Active.Import.Register", "Power.Active.Import,Voltage"])
    | st.sampled_from(["0.RST,1.NotApplicable", "1e9", " 5", "5 ", "", "nan", "inf"])
)
datetimes = st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:10:00.000Z", "1970-01-01T00:00:00Z"]) | st.text(
    max_size=25
)


def _opt(**fields):
    return st.fixed_dictionaries({}, optional=fields)


# schema-shaped payloads (random values of the right types) so fuzzing reaches the handlers
NEAR_VALID: dict[str, st.SearchStrategy] = {
    "ChangeAvailability": st.fixed_dictionaries(
        {"connectorId": small_ints, "type": st.sampled_from(["Operative", "Inoperative"]) | st.text(max_size=12)}
    ),
    "ChangeConfiguration": st.fixed_dictionaries(
        {"key": st.sampled_from(CONFIG_KEYS) | st.text(min_size=1, max_size=50), "value": config_values}
    ),
    "ClearCache": st.just({}),
    "DataTransfer": st.fixed_dictionaries(
        {"vendorId": st.text(min_size=1, max_size=255)},
        optional={"messageId": st.text(max_size=50), "data": st.text(max_size=50)},
    ),
    "GetConfiguration": _opt(key=st.lists(st.sampled_from(CONFIG_KEYS) | st.text(max_size=50), max_size=40)),
    "RemoteStartTransaction": st.fixed_dictionaries({"idTag": id_tags}, optional={"connectorId": small_ints}),
    "RemoteStopTransaction": st.fixed_dictionaries({"transactionId": small_ints}),
    "Reset": st.fixed_dictionaries({"type": st.sampled_from(["Hard", "Soft"])}),
    "UnlockConnector": st.fixed_dictionaries({"connectorId": small_ints}),
    "TriggerMessage": st.fixed_dictionaries(
        {
            "requestedMessage": st.sampled_from(
                ["BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
                 "MeterValues", "StatusNotification"]
            )
        },
        optional={"connectorId": small_ints},
    ),
    "CancelReservation": st.fixed_dictionaries({"reservationId": small_ints}),
    "ReserveNow": st.fixed_dictionaries(
        {"connectorId": small_ints, "expiryDate": datetimes, "idTag": id_tags, "reservationId": small_ints}
    ),
    "GetLocalListVersion": st.just({}),
    "ClearChargingProfile": _opt(id=small_ints, connectorId=small_ints),
}


@st.composite
def csms_calls(draw) -> str:
    """A CALL of a CSMS->CP action with a random payload: arbitrary, OCPP-flavoured or schema-shaped."""
    uid = draw(st.text(min_size=1, max_size=36))
    action = draw(st.sampled_from(CSMS_ACTIONS))
    payloads = ocpp_like_objects | json_objects
    if action in NEAR_VALID:
        payloads = NEAR_VALID[action] | NEAR_VALID[action] | payloads
    payload = draw(payloads)
    return dumps([2, uid, action, payload])


raw_text = st.text(max_size=200) | st.text(alphabet="[]{}\",:0123456789 .-eEtrufalsn\\", max_size=80)
any_frame = (
    raw_text
    | st.binary(max_size=200)
    | structured_frames().map(dumps)
    | st.lists(json_values, max_size=6).map(dumps)
    | json_values.map(dumps)
    | csms_calls()
)


# -- (a) the codec --------------------------------------------------------------------


def _check_decode(data) -> None:
    try:
        codec.decode(data)
    except codec.FrameError as exc:
        assert exc.code in ErrorCode.ALL, exc.code
        assert isinstance(exc.unique_id, str) and len(exc.unique_id) <= 36, exc.unique_id
        assert isinstance(exc.description, str)
    except codec.FrameIgnored:
        pass


@FUZZ
@given(st.text())
def test_decode_arbitrary_text(data: str) -> None:
    _check_decode(data)


@FUZZ
@given(st.binary())
def test_decode_arbitrary_bytes(data: bytes) -> None:
    _check_decode(data)


@FUZZ
@given(structured_frames())
def test_decode_structured_but_wrong(frame: list) -> None:
    _check_decode(dumps(frame))


@FUZZ
@given(structured_frames(), st.integers(min_value=1, max_value=200))
def test_decode_oversize_frames(frame: list, limit: int) -> None:
    """Above the size limit the id is read without parsing; still only FrameError/FrameIgnored."""
    try:
        codec.decode(dumps(frame), max_bytes=limit)
    except codec.FrameError as exc:
        assert exc.code in ErrorCode.ALL
        assert isinstance(exc.unique_id, str) and len(exc.unique_id) <= 36
    except codec.FrameIgnored:
        pass


# -- (b) a booted Station -------------------------------------------------------------------


def _check_answer(msg) -> None:
    assert isinstance(msg, list) and msg, msg
    if msg[0] == 3:
        assert len(msg) == 3 and isinstance(msg[1], str) and isinstance(msg[2], dict), msg
    elif msg[0] == 4:
        assert len(msg) == 5, msg
        assert isinstance(msg[1], str) and len(msg[1]) <= 36, msg
        assert msg[2] in ErrorCode.ALL, msg
        assert isinstance(msg[3], str) and isinstance(msg[4], dict), msg
    else:
        assert msg[0] == 2 and len(msg) == 4 and isinstance(msg[2], str) and isinstance(msg[3], dict), msg


@pytest.fixture(scope="module")
def booted() -> CoreHarness:
    h = CoreHarness()
    h.boot()
    return h


def _probe(h: CoreHarness, n: int) -> None:
    uid = f"probe-{n}"
    h.station.receive(dumps([2, uid, "GetConfiguration", {"key": ["HeartbeatInterval"]}]), h.now)
    h._collect()
    ans = h.answers.pop(uid, None)
    assert ans is not None, "GetConfiguration not answered"
    assert ans[0] == 3 and isinstance(ans[2], dict), ans


_counter = iter(range(10**9))


@FUZZ
@given(frames=st.lists(any_frame, min_size=1, max_size=3))
def test_station_survives_arbitrary_frames(booted: CoreHarness, frames: list) -> None:
    h = booted
    for data in frames:
        before = len(h.raw_out)
        h.station.receive(data, h.now)  # must not raise
        h._collect()  # every frame the station sends is JSON (orjson.loads inside)
        for msg in h.raw_out[before:]:
            _check_answer(msg)
        h.calls.clear()  # CALLs the station starts (StatusNotification...) stay unanswered
        h.answers.clear()
        _probe(h, next(_counter))
        # let timers run a little so a station CALL in flight times out and the queue moves
        h.advance(1)
        h.calls.clear()
        h.answers.clear()


@FUZZ
@given(call=csms_calls())
def test_fresh_station_answers_every_csms_call(call: str) -> None:
    """Each random CSMS CALL on a freshly booted station gets exactly one well-formed answer."""
    h = _fresh()
    uid = orjson.loads(call)[1]
    before = len(h.raw_out)
    h.station.receive(call, h.now)
    h._collect()
    answers = [m for m in h.raw_out[before:] if m[0] in (3, 4)]
    for msg in h.raw_out[before:]:
        _check_answer(msg)
    assert [m[1] for m in answers] == [uid], answers
    _probe(h, next(_counter))




def _fresh() -> CoreHarness:
    h = CoreHarness()
    h.boot()
    return h

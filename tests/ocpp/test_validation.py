"""ocpp.validation: schema failures -> OCPP-J 1.6 CALLERROR codes (spec digest §2.1 "CALLERROR codes").

Mapping under test (documented in validation.py): missing required field -> ProtocolError;
wrong type / length / format (date-time, uri) -> TypeConstraintViolation; extra property or payload
not an object -> FormationViolation; invalid value (enum, minimum) -> PropertyConstraintViolation;
array size -> OccurenceConstraintViolation. Precedence: Formation > Protocol > Type > Occurence > Property.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.ocpp import actions, dates, validation
from ocpp_station.ocpp.rpc import ErrorCode, OcppError

FV = ErrorCode.FORMATION_VIOLATION
PE = ErrorCode.PROTOCOL_ERROR
TCV = ErrorCode.TYPE_CONSTRAINT_VIOLATION
PCV = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
OCV = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION

BOOT_CONF = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}
RESERVE = {"connectorId": 1, "expiryDate": "2024-01-01T12:00:00Z", "idTag": "TAG", "reservationId": 7}


def request_error(action, payload) -> OcppError:
    with pytest.raises(OcppError) as info:
        validation.validate_request(action, payload)
    return info.value


def names(description: str, field: str) -> bool:
    """The description names the offending field (its path, e.g. ``key/0``, or ``payload`` for the payload itself)
    as a word: the code and the field are the contract, not the schema library's wording around them."""
    return re.search(rf"(?<![\w/]){re.escape(field)}(?![\w/])", description) is not None


def response_error(action, payload) -> OcppError:
    with pytest.raises(OcppError) as info:
        validation.validate_response(action, payload)
    return info.value


@pytest.mark.parametrize(
    "action, payload",
    [
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
        ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
        ("RemoteStartTransaction", {"idTag": "A" * 20}),
        ("RemoteStartTransaction", {"idTag": "TAG", "connectorId": 1}),
        ("ClearCache", {}),
        ("GetConfiguration", {}),
        ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
        ("ReserveNow", RESERVE),
        ("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}),
        ("DataTransfer", {"vendorId": "acme"}),
    ],
)
def test_valid_requests_pass(action, payload):
    assert validation.validate_request(action, payload) is None


def test_valid_response_passes():
    assert validation.validate_response("BootNotification", BOOT_CONF) is None
    assert validation.validate_response("ChangeConfiguration", {"status": "Accepted"}) is None


# -- one rule broken ----------------------------------------------------------------


@pytest.mark.parametrize(
    "action, payload, code, where",
    [
        # missing required field
        ("ChangeConfiguration", {"key": "HeartbeatInterval"}, PE, "value"),
        ("RemoteStartTransaction", {}, PE, "idTag"),
        ("ChangeAvailability", {"connectorId": 1}, PE, "type"),
        # wrong type
        ("ChangeConfiguration", {"key": 1, "value": "60"}, TCV, "key"),
        ("ChangeAvailability", {"connectorId": "1", "type": "Operative"}, TCV, "connectorId"),
        ("RemoteStartTransaction", {"idTag": "TAG", "connectorId": 1.5}, TCV, "connectorId"),
        # over maxLength: idTag is CiString20
        ("RemoteStartTransaction", {"idTag": "A" * 21}, TCV, "idTag"),
        ("ChangeConfiguration", {"key": "K" * 51, "value": "v"}, TCV, "key"),
        ("ChangeConfiguration", {"key": "K", "value": "v" * 501}, TCV, "value"),
        # extra property (additionalProperties: false)
        ("ChangeConfiguration", {"key": "K", "value": "v", "extra": 1}, FV, "extra"),
        ("ClearCache", {"x": None}, FV, "x"),
        # bad enum value
        ("ChangeAvailability", {"connectorId": 1, "type": "Bogus"}, PCV, "type"),
        ("ChangeAvailability", {"connectorId": 1, "type": "operative"}, PCV, "type"),  # enums are case-sensitive
        # not a dateTime: a data type constraint ([OCPPJ] §4.2.3)
        ("ReserveNow", {**RESERVE, "expiryDate": "not-a-date"}, TCV, "expiryDate"),
        ("ReserveNow", {**RESERVE, "expiryDate": "2024-13-01T00:00:00Z"}, TCV, "expiryDate"),
        ("ReserveNow", {**RESERVE, "expiryDate": "2024-01-01"}, TCV, "expiryDate"),
        # nested in an array
        ("GetConfiguration", {"key": [1]}, TCV, "key/0"),
    ],
)
def test_request_rule_maps_to_code(action, payload, code, where):
    e = request_error(action, payload)
    assert e.code == code
    assert names(e.description, where), e.description
    assert e.details == {}


@pytest.mark.parametrize("payload", [[], [{"connectorId": 1, "type": "Operative"}], "x", 1, None, True])
def test_payload_not_an_object_is_formation_violation(payload):
    e = request_error("ChangeAvailability", payload)
    assert e.code == FV
    assert e.description.startswith("payload: ")


def test_unknown_action_has_no_schema():
    e = request_error("NoSuchAction", {})
    assert e.code == ErrorCode.NOT_IMPLEMENTED
    e = response_error("NoSuchAction", {})
    assert e.code == ErrorCode.NOT_IMPLEMENTED


def test_action_names_are_case_sensitive():
    assert request_error("changeavailability", {"connectorId": 1, "type": "Operative"}).code == ErrorCode.NOT_IMPLEMENTED


# -- responses are validated too -----------------------------------------------------------


@pytest.mark.parametrize(
    "payload, code, where",
    [
        ({**BOOT_CONF, "interval": "300"}, TCV, "interval"),
        ({**BOOT_CONF, "interval": 300.5}, TCV, "interval"),
        ({"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z"}, PE, "interval"),
        ({**BOOT_CONF, "status": "Maybe"}, PCV, "status"),
        ({**BOOT_CONF, "currentTime": "yesterday"}, TCV, "currentTime"),
        ({**BOOT_CONF, "extra": True}, FV, "extra"),
        ([BOOT_CONF], FV, "payload"),
    ],
)
def test_boot_notification_response_rules(payload, code, where):
    e = response_error("BootNotification", payload)
    assert e.code == code
    assert names(e.description, where), e.description


# -- several rules broken: precedence ------------------------------------------------------


@pytest.mark.parametrize(
    "payload, code",
    [
        # extra property + missing field + wrong type + bad enum -> FormationViolation
        ({"connectorId": "1", "type": "Bogus", "extra": 1}, FV),
        ({"extra": 1}, FV),
        # missing field + wrong type -> ProtocolError
        ({"connectorId": "1"}, PE),
        # missing field + bad enum -> ProtocolError
        ({"type": "Bogus"}, PE),
        # wrong type + bad enum -> TypeConstraintViolation
        ({"connectorId": "1", "type": "Bogus"}, TCV),
        ({"connectorId": 1.5, "type": "Bogus"}, TCV),
    ],
)
def test_precedence_change_availability(payload, code):
    assert request_error("ChangeAvailability", payload).code == code


def test_precedence_over_length_beats_bad_value():
    # idTag too long (TypeConstraintViolation) and a bad enum (PropertyConstraintViolation) -> TypeConstraintViolation
    entry = {"idTag": "A" * 21, "idTagInfo": {"status": "Bogus"}}
    e = request_error("SendLocalList", {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [entry]})
    assert e.code == TCV
    assert e.description.startswith("localAuthorizationList/0/idTag: ")


def test_precedence_bad_date_time_beats_bad_value():
    entry = {"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "never"}}
    e = request_error("SendLocalList", {"listVersion": 1, "updateType": "Bogus", "localAuthorizationList": [entry]})
    assert e.code == TCV
    assert e.description.startswith("localAuthorizationList/0/idTagInfo/expiryDate: ")


def test_precedence_does_not_depend_on_property_order():
    a = {"type": "Bogus", "connectorId": "1"}
    b = {"connectorId": "1", "type": "Bogus"}
    assert request_error("ChangeAvailability", a).code == request_error("ChangeAvailability", b).code == TCV


def test_long_messages_are_truncated():
    e = request_error("ChangeConfiguration", {"key": "K", "value": "v" * 5000})
    assert e.code == TCV
    assert len(e.description) <= len("value: ") + 203


# -- schemas exist for every action we know ------------------------------------------------


def test_every_known_action_has_request_and_response_schema():
    missing = [
        name
        for a in actions.ACTIONS
        for name in (a, a + "Response")
        if validation._validator(name) is None
    ]
    assert missing == []


def test_precompile_accepts_all_known_actions():
    assert validation.precompile(list(actions.ACTIONS)) is None


# -- date-times: lenient on receipt, strict when sent ([ERRATA] 3.10) --------------------------

RECEIVED_OK = [
    "2030-05-01T12:00:00Z",
    "2030-05-01T12:00:00",  # no zone: read as UTC, with a warning
    "2030-05-01T12:00:00+0000",
    "2030-05-01T12:00:00+01:00",
    "2030-05-01T12:00:00.123456789-05:30",
    "2030-05-01t12:00:00.5z",
]


@pytest.mark.parametrize("text", RECEIVED_OK)
def test_received_date_times_in_iso_8601_forms_pass(text):
    assert validation.validate_response("Heartbeat", {"currentTime": text}) is None
    assert validation.validate_response("BootNotification", {**BOOT_CONF, "currentTime": text}) is None
    assert validation.validate_request("ReserveNow", {**RESERVE, "expiryDate": text}) is None
    info = {"status": "Accepted", "expiryDate": text}
    assert validation.validate_response("StartTransaction", {"transactionId": 1, "idTagInfo": info}) is None


def test_zoneless_received_date_time_is_logged_as_a_warning(caplog):
    caplog.set_level("WARNING", logger="ocpp_station.ocpp.validation")
    validation.validate_response("Heartbeat", {"currentTime": "2030-05-01T12:00:00"})
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "'2030-05-01T12:00:00'" in caplog.records[0].getMessage()
    assert "UTC" in caplog.records[0].getMessage()
    caplog.clear()
    validation.validate_response("Heartbeat", {"currentTime": "2030-05-01T12:00:00+02:00"})
    assert caplog.records == []


@pytest.mark.parametrize("text", ["2030-05-01", "12:00:00Z", "2030-05-01T25:00:00Z", "2030-05-01T12:00:00Z junk", ""])
def test_received_garbage_date_time_is_type_constraint_violation(text):
    e = response_error("Heartbeat", {"currentTime": text})
    assert (e.code, e.description.split(":")[0]) == (TCV, "currentTime")


@pytest.mark.parametrize("text", RECEIVED_OK[1:])
def test_sent_date_times_must_be_utc_with_milliseconds_and_z(text):
    payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": text}
    assert validation.validate_request("StatusNotification", payload) is None  # fine to receive
    with pytest.raises(OcppError) as exc:
        validation.validate_request("StatusNotification", payload, sent=True)
    assert (exc.value.code, exc.value.description.split(":")[0]) == (TCV, "timestamp")
    payload["timestamp"] = "2030-05-01T12:00:00.000Z"
    assert validation.validate_request("StatusNotification", payload, sent=True) is None


_DT_CHARS = "0123456789-:Tt Zz+.,"


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(["2030-05-01T12:00:00.000Z", "2024-02-29T23:59:60+01:00", "0000-01-01T00:00Z"]),
    edits=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(_DT_CHARS), st.booleans()), max_size=3),
)
def test_received_date_time_passes_exactly_when_dates_reads_it(base, edits):
    """The schema check (RFC 3339 in the library, then ocpp.dates) lets in what the core's parser reads, no more."""
    text = list(base)
    for pos, ch, insert in edits:
        pos = min(pos, len(text))
        if insert or pos == len(text):
            text.insert(pos, ch)
        else:
            text[pos] = ch
    value = "".join(text)
    try:
        validation.validate_response("Heartbeat", {"currentTime": value})
        passed = True
    except OcppError as exc:
        assert exc.code == TCV
        passed = False
    assert passed == dates.is_valid(value), value


@pytest.mark.parametrize("text", ["2030-05-01T12:00:00.000Z\n", "2030-05-01T12:00:00.000Zx", " 2030-05-01T12:00:00.000Z"])
def test_sent_date_time_is_the_whole_string(text):
    payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": text}
    with pytest.raises(OcppError) as exc:
        validation.validate_request("StatusNotification", payload, sent=True)
    assert exc.value.code == TCV

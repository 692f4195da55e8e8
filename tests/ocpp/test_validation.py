"""ocpp.validation: schema failures -> OCPP-J 1.6 CALLERROR codes (spec digest §2.1 "CALLERROR codes").

Mapping under test (documented in validation.py): missing required field -> ProtocolError;
wrong type / length -> TypeConstraintViolation; extra property or payload not an object ->
FormationViolation; invalid value (enum, format, minimum) -> PropertyConstraintViolation;
array size -> OccurenceConstraintViolation. Precedence: Formation > Protocol > Type > Occurence > Property.
"""

from __future__ import annotations

import re

import pytest

from ocpp_station.ocpp import actions, validation
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
        # bad date-time format
        ("ReserveNow", {**RESERVE, "expiryDate": "not-a-date"}, PCV, "expiryDate"),
        ("ReserveNow", {**RESERVE, "expiryDate": "2024-13-01T00:00:00Z"}, PCV, "expiryDate"),
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
        ({**BOOT_CONF, "currentTime": "yesterday"}, PCV, "currentTime"),
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
    # idTag too long (TypeConstraintViolation) and a bad date (PropertyConstraintViolation) -> TypeConstraintViolation
    e = request_error("ReserveNow", {**RESERVE, "idTag": "A" * 21, "expiryDate": "never"})
    assert e.code == TCV
    assert e.description.startswith("idTag: ")


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

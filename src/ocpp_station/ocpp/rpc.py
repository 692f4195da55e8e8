"""OCPP-J 1.6 RPC frames and error codes ([OCPPJ] §4).

CALL       [2, "<uniqueId>", "<Action>", {payload}]
CALLRESULT [3, "<uniqueId>", {payload}]
CALLERROR  [4, "<uniqueId>", "<errorCode>", "<errorDescription>", {errorDetails}]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class MessageType(IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


class ErrorCode:
    """The OCPP-J 1.6 CALLERROR codes, 1.6 spelling ([JERRATA] 5.1, 5.2)."""

    NOT_IMPLEMENTED = "NotImplemented"  # action not known
    NOT_SUPPORTED = "NotSupported"  # action known but not supported
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"  # payload incomplete (a required field is missing)
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"  # not the PDU structure (1.6: not "FormatViolation")
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"  # a field has an invalid value
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"  # sic: one "r" in 1.6
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"  # wrong data type or length
    GENERIC_ERROR = "GenericError"

    ALL = frozenset(
        {
            NOT_IMPLEMENTED,
            NOT_SUPPORTED,
            INTERNAL_ERROR,
            PROTOCOL_ERROR,
            SECURITY_ERROR,
            FORMATION_VIOLATION,
            PROPERTY_CONSTRAINT_VIOLATION,
            OCCURENCE_CONSTRAINT_VIOLATION,
            TYPE_CONSTRAINT_VIOLATION,
            GENERIC_ERROR,
        }
    )


class OcppError(Exception):
    """A failure that is answered with a CALLERROR carrying ``code``."""

    def __init__(self, code: str, description: str = "", details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code  # one of ErrorCode
        self.description = description  # human-readable, may be ""
        self.details = details or {}  # errorDetails object, {} when empty


@dataclass(slots=True)
class Call:
    unique_id: str  # message id, <= 36 characters
    action: str  # case-sensitive action name, e.g. "BootNotification"
    payload: dict[str, Any]  # the request payload


@dataclass(slots=True)
class CallResult:
    unique_id: str  # echoes the CALL's id
    payload: dict[str, Any]  # the confirmation payload


@dataclass(slots=True)
class CallError:
    unique_id: str  # echoes the CALL's id ("-1" when it could not be read)
    error_code: str  # one of ErrorCode (or whatever the peer sent)
    description: str = ""  # errorDescription
    details: dict[str, Any] = field(default_factory=dict)  # errorDetails


Frame = Call | CallResult | CallError

MAX_UNIQUE_ID_LENGTH = 36  # [OCPPJ] §4.1.1
UNKNOWN_ID = "-1"  # used in a CALLERROR when the offending frame's id cannot be read

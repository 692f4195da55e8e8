"""Validation of every payload against the official OCPP 1.6 JSON schemas.

The schemas are the ones shipped by the ``ocpp`` package (``ocpp/v16/schemas``),
which carry the JSON errata (optional StopTransaction.reason, integer
BootNotificationResponse.interval, additionalProperties false...). They are
compiled with ``jsonschema_rs``: ~0.15 µs for a small valid payload against
~0.5 µs for fastjsonschema and ~10 µs for jsonschema (benchmarks/README.md).

Schema failures map to OCPP-J 1.6 CALLERROR codes ([OCPPJ] §4.2.3):

=====================================  ================================
schema keyword                          CALLERROR code
=====================================  ================================
required (a field is missing)           ProtocolError ("payload incomplete")
additionalProperties, payload not obj   FormationViolation
type, maxLength, minLength, format      TypeConstraintViolation
minItems, maxItems, uniqueItems         OccurenceConstraintViolation
enum, minimum, maximum, ...             PropertyConstraintViolation
=====================================  ================================

``format`` is a type rule: the schemas' ``date-time`` and ``uri`` are the OCPP
data types ``dateTime`` and ``anyURI`` ([SPEC] §7), and a value that is not
one "violates data type constraints" ([OCPPJ] §4.2.3 TypeConstraintViolation).

Date-times are checked with :mod:`.dates`, not the library's RFC 3339 rule:
what we *receive* may be any ISO 8601 date-time with fractions and offsets
([ERRATA] 3.10), a zone-less one is read as UTC and logged as a warning; what
we *send* (``sent=True``) must be UTC with milliseconds and ``Z``.

When a payload breaks several rules, the first code in this order wins:
FormationViolation, ProtocolError, TypeConstraintViolation,
OccurenceConstraintViolation, PropertyConstraintViolation.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from . import dates
from .rpc import ErrorCode, OcppError

log = logging.getLogger(__name__)

_KIND_TO_CODE = {
    "Required": ErrorCode.PROTOCOL_ERROR,
    "AdditionalProperties": ErrorCode.FORMATION_VIOLATION,
    "Type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "MaxLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "MinLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "Format": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "MinItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "MaxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "UniqueItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
}
_PRECEDENCE = [
    ErrorCode.FORMATION_VIOLATION,
    ErrorCode.PROTOCOL_ERROR,
    ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
]


def _load_schema(name: str) -> dict[str, Any] | None:
    try:
        text = resources.files("ocpp.v16").joinpath("schemas", f"{name}.json").read_text("utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)


def _received_date_time(text: str) -> bool:
    """[ERRATA] 3.10: any ISO 8601 date-time; zone-less ones are read as UTC (:mod:`.dates`), with a warning."""
    try:
        parsed = dates.parse(text)
    except ValueError:
        return False
    if parsed.zoneless:
        log.warning("date-time %r has no time zone: read as UTC ([ERRATA] 3.10)", text)
    return True


_FORMATS = {
    False: {"date-time": _received_date_time},  # what we receive
    True: {"date-time": dates.is_strict},  # what we send
}


@cache
def _validator(name: str, sent: bool = False) -> Any:
    schema = _load_schema(name)
    if schema is None:
        return None
    return jsonschema_rs.Draft4Validator(schema, validate_formats=True, formats=_FORMATS[sent])


def _check(name: str, payload: Any, sent: bool = False) -> None:
    v = _validator(name, sent)
    if v is None:
        raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"no schema for {name}")
    if v.is_valid(payload):
        return
    best: tuple[int, str, str] | None = None
    for err in v.iter_errors(payload):
        kind = type(err.kind).__name__
        path = list(err.instance_path)
        if not path and kind == "Type":
            code = ErrorCode.FORMATION_VIOLATION  # the payload itself is not an object
        else:
            code = _KIND_TO_CODE.get(kind, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
        rank = _PRECEDENCE.index(code)
        where = "/".join(str(p) for p in path) or "payload"
        message = err.message if len(err.message) <= 200 else err.message[:200] + "..."
        if best is None or rank < best[0]:
            best = (rank, code, f"{where}: {message}")
    assert best is not None
    raise OcppError(best[1], best[2])


def validate_request(action: str, payload: Any, sent: bool = False) -> None:
    """Raise :class:`OcppError` with the 1.6 code when ``payload`` breaks the request schema.

    ``sent``: the payload is ours, about to go out (strict date-times); else it was received."""
    _check(action, payload, sent)


def validate_response(action: str, payload: Any, sent: bool = False) -> None:
    """Raise :class:`OcppError` when ``payload`` breaks the confirmation schema of ``action``."""
    _check(action + "Response", payload, sent)


def precompile(actions: list[str]) -> None:
    """Compile the validators of ``actions`` up front (the fleet does this once per process)."""
    for a in actions:
        for sent in (False, True):
            _validator(a, sent)
            _validator(a + "Response", sent)

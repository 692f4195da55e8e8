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
type, maxLength, minLength              TypeConstraintViolation
minItems, maxItems, uniqueItems         OccurenceConstraintViolation
enum, minimum, maximum, format, ...     PropertyConstraintViolation
=====================================  ================================

When a payload breaks several rules, the first code in this order wins:
FormationViolation, ProtocolError, TypeConstraintViolation,
OccurenceConstraintViolation, PropertyConstraintViolation.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from .rpc import ErrorCode, OcppError

_KIND_TO_CODE = {
    "Required": ErrorCode.PROTOCOL_ERROR,
    "AdditionalProperties": ErrorCode.FORMATION_VIOLATION,
    "Type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "MaxLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "MinLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
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


@cache
def _validator(name: str) -> Any:
    schema = _load_schema(name)
    if schema is None:
        return None
    return jsonschema_rs.Draft4Validator(schema, validate_formats=True)


def _check(name: str, payload: Any) -> None:
    v = _validator(name)
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


def validate_request(action: str, payload: Any) -> None:
    """Raise :class:`OcppError` with the 1.6 code when ``payload`` breaks the request schema."""
    _check(action, payload)


def validate_response(action: str, payload: Any) -> None:
    """Raise :class:`OcppError` when ``payload`` breaks the confirmation schema of ``action``."""
    _check(action + "Response", payload)


def precompile(actions: list[str]) -> None:
    """Compile the validators of ``actions`` up front (the fleet does this once per process)."""
    for a in actions:
        _validator(a)
        _validator(a + "Response")

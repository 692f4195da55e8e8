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

Date-times accept what :mod:`.dates` reads, not only RFC 3339: what we
*receive* may be any ISO 8601 date-time with fractions and offsets
([ERRATA] 3.10); a zone-less one is read as UTC and logged as a warning. The
library's RFC 3339 rule checks it first (in Rust, no call back into Python);
what it refuses is read by :func:`.dates.parse`. What we *send*
(``sent=True``) must be UTC with milliseconds and ``Z``: in those schemas the
``date-time`` format becomes the pattern :data:`.dates.SENT`.

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
    "Pattern": ErrorCode.TYPE_CONSTRAINT_VIOLATION,  # the 1.6 schemas have none: only our sent date-times
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


def _read_as_iso_8601(err: Any) -> bool:
    """[ERRATA] 3.10: a received date-time that RFC 3339 refuses may still be ISO 8601 (no zone, ``+0000``,
    ``+01``...): True when :mod:`.dates` reads it; a zone-less one is read as UTC, with a warning."""
    if getattr(err.kind, "format", None) != "date-time":
        return False
    try:
        parsed = dates.parse(err.instance)
    except ValueError:
        return False
    if parsed.zoneless:
        log.warning("date-time %r has no time zone: read as UTC ([ERRATA] 3.10)", err.instance)
    return True


def _strict_date_times(node: Any) -> Any:
    """The schema with every ``format: date-time`` turned into the pattern of what we send (:data:`.dates.SENT`),
    checked by the library without a call back into Python."""
    if isinstance(node, dict):
        out = {k: _strict_date_times(v) for k, v in node.items()}
        if out.get("format") == "date-time":
            del out["format"]
            out["pattern"] = dates.SENT.pattern
        return out
    if isinstance(node, list):
        return [_strict_date_times(v) for v in node]
    return node


@cache
def _validator(name: str, sent: bool = False) -> Any:
    """What we receive: the library's RFC 3339 rule (fast), and what it refuses by :func:`_read_as_iso_8601`,
    which reads every RFC 3339 date-time too: together they accept exactly what :func:`.dates.parse` reads.
    What we send: the one strict form."""
    schema = _load_schema(name)
    if schema is None:
        return None
    if sent:
        schema = _strict_date_times(schema)
    return jsonschema_rs.Draft4Validator(schema, validate_formats=True)


def _check(name: str, payload: Any, sent: bool = False) -> None:
    v = _validator(name, sent)
    if v is None:
        raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"no schema for {name}")
    if v.is_valid(payload):
        return
    best: tuple[int, str, str] | None = None
    for err in v.iter_errors(payload):
        kind = type(err.kind).__name__
        if kind == "Format" and not sent and _read_as_iso_8601(err):
            continue
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
    if best is not None:
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

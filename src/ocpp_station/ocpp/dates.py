"""The OCPP ``dateTime`` type: what we accept and what we send ([SPEC] §7 dateTime; [ERRATA] 3.10).

[ERRATA] 3.10 (new §3.14 "Time notations") asks receivers to handle ISO 8601
date-times with fractional seconds and time offsets, while senders use UTC.
So, one reader for every date-time that comes in, and one writer for every
one that goes out:

* :func:`parse` reads ``YYYY-MM-DDThh:mm:ss`` with an optional fraction of
  any length (``.`` or ``,``; ISO 8601 also lets the seconds be left out) and
  an optional zone: ``Z``, ``+hh:mm``, ``+hhmm`` or ``+hh``. ``t``/``z`` may
  be lowercase and the ``T`` a space (RFC 3339 §5.6 allows both). A time
  without a zone is read as UTC and flagged, so the receiver can log it. A
  leap second (``:60``) is read as the first second of the next minute.
  Every RFC 3339 date-time is one of these forms (year 0000 included).
* :func:`is_strict` is what we send: RFC 3339 in UTC with exactly three
  fraction digits and ``Z`` (``2030-05-01T12:00:00.000Z``).

Anything else (no time part, out-of-range fields, trailing text) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_READ = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)
SENT = re.compile(  # what we send: UTC, milliseconds, Z (a day out of range for its month is not checked)
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$"
)


@dataclass(frozen=True, slots=True)
class DateTime:
    timestamp: float  # seconds since the epoch (UTC)
    zoneless: bool  # the text had no zone: read as UTC


def parse(text: str) -> DateTime:
    """Read an incoming date-time; ``ValueError`` when it is not one."""
    m = _READ.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not a date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, z, sign, off_h, off_m = m.groups()
    y, mo, d, h, mi = int(year), int(month), int(day), int(hour), int(minute)
    sec = int(second) if second else 0
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h <= 23 and mi <= 59 and sec <= 60):
        raise ValueError(f"not a date-time: {text!r} (a field is out of range)")
    ts = float(_days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec)  # :60, a leap second, runs on
    if fraction:
        digits = fraction[:9]  # nanoseconds are more than enough; the rest is read and ignored
        ts += int(digits) / 10 ** len(digits)
    if sign:
        oh, om = int(off_h), int(off_m or 0)
        if oh > 23 or om > 59:
            raise ValueError(f"not a date-time: {text!r} (offset out of range)")
        ts -= (oh * 3600 + om * 60) * (1 if sign == "+" else -1)
    return DateTime(ts, zoneless=not (z or sign))


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _days_since_epoch(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 in the proleptic Gregorian calendar (year 0 included), by H. Hinnant's method."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def is_valid(text: str) -> bool:
    """True when :func:`parse` reads ``text``."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def is_strict(text: str) -> bool:
    """True for the form we send: UTC, milliseconds, ``Z``."""
    return isinstance(text, str) and SENT.fullmatch(text) is not None

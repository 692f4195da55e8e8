"""The OCPP ``dateTime`` type: what we accept and what we send ([SPEC] §7 dateTime; [ERRATA] 3.10).

[ERRATA] 3.10 (new §3.14 "Time notations") asks receivers to handle ISO 8601
date-times with fractional seconds and time offsets, while senders use UTC.
So, one reader for every date-time that comes in, and one writer for every
one that goes out:

* :func:`parse` reads ``YYYY-MM-DDThh:mm:ss`` with an optional fraction of any
  length (``.`` or ``,``; ISO 8601 also lets the seconds be left out), and an optional zone: ``Z``, ``+hh:mm``, ``+hhmm``
  or ``+hh``. ``t``/``z`` may be lowercase and the ``T`` a space (RFC 3339 §5.6 allows both). A time
  without a zone is read as UTC and flagged, so the receiver can log it. A
  leap second (``:60``) is read as the first second of the next minute.
* :func:`is_strict` is what we send: RFC 3339 in UTC with exactly three
  fraction digits and ``Z`` (``2030-05-01T12:00:00.000Z``).

Anything else (no time part, out-of-range fields, trailing text) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_READ = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)
_SENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", re.ASCII)


@dataclass(frozen=True, slots=True)
class DateTime:
    timestamp: float  # seconds since the epoch (UTC)
    zoneless: bool  # the text had no zone: read as UTC


def parse(text: str) -> DateTime:
    """Read an incoming date-time; ``ValueError`` when it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"not a date-time: {text!r}")
    m = _READ.fullmatch(text)
    if m is None:
        raise ValueError(f"not a date-time: {text!r}")
    year, month, day, hour, minute, second = (int(g or 0) for g in m.groups()[:6])
    fraction, z, sign, off_h, off_m = m.group(7), m.group(8), m.group(9), m.group(10), m.group(11)
    leap = second == 60
    if leap:
        second = 59
    dt = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)  # ValueError when out of range
    ts = dt.timestamp() + (1 if leap else 0)
    if fraction:
        digits = fraction[:9]  # nanoseconds are more than enough; the rest is read and ignored
        ts += int(digits) / 10 ** len(digits)
    if sign:
        hours, minutes = int(off_h), int(off_m or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"not a date-time: {text!r} (offset out of range)")
        offset = timedelta(hours=hours, minutes=minutes).total_seconds()
        ts -= offset if sign == "+" else -offset
    return DateTime(ts, zoneless=not (z or sign))


def is_valid(text: str) -> bool:
    """True when :func:`parse` reads ``text``."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def is_strict(text: str) -> bool:
    """True for the form we send: UTC, milliseconds, ``Z``."""
    return isinstance(text, str) and _SENT.fullmatch(text) is not None and is_valid(text)

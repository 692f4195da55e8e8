"""Wall-clock handling: the station's clock is `now` plus an offset set from the CSMS's currentTime."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from ..ocpp import dates


_last_second: list = [None, ""]  # (whole second, its "YYYY-MM-DDTHH:MM:SS." text): many stamps share one


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-25T10:00:00.000Z ([ERRATA] 3.10)."""
    ms = round(ts * 1000)
    sec, frac = divmod(ms, 1000)
    if _last_second[0] != sec:
        dt = datetime.fromtimestamp(sec, tz=timezone.utc)
        _last_second[0], _last_second[1] = sec, dt.strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{_last_second[1]}{frac:03d}Z"


def parse_iso(text: str) -> float:
    """A received date-time as seconds since the epoch: ISO 8601 with fractions and offsets, zone-less = UTC
    ([ERRATA] 3.10). The one reader of every incoming time, the same the schema check uses (:mod:`ocpp.dates`).
    ``ValueError`` when ``text`` is not a date-time."""
    return dates.parse(text).timestamp


class Clock:
    """Maps `now` to the station's wall clock."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset  # wall - now, seconds
        self.on_change: list[Callable[[float], None]] = []  # called with `now` after sync() moved the clock

    def wall(self, now: float) -> float:
        return now + self.offset

    def to_now(self, wall: float) -> float:
        return wall - self.offset

    def sync(self, current_time: str, now: float) -> None:
        """Adopt the CSMS's currentTime (BootNotification.conf, Heartbeat.conf)."""
        try:
            offset = parse_iso(current_time) - now
        except ValueError:
            return  # the schema checked the format; an odd value leaves the clock alone
        if offset != self.offset:
            self.offset = offset
            for listener in self.on_change:
                listener(now)

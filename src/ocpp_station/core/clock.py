"""Wall-clock handling: the station's clock is `now` plus an offset set from the CSMS's currentTime."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-25T10:00:00.000Z ([ERRATA] 3.10)."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 time with fractions and offsets ([ERRATA] 3.10); naive means UTC."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class Clock:
    """Maps `now` to the station's wall clock."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset  # wall - now, seconds

    def wall(self, now: float) -> float:
        return now + self.offset

    def to_now(self, wall: float) -> float:
        return wall - self.offset

    def sync(self, current_time: str, now: float) -> None:
        """Adopt the CSMS's currentTime (BootNotification.conf, Heartbeat.conf)."""
        try:
            self.offset = parse_iso(current_time) - now
        except ValueError:
            pass  # the schema checked the format; an odd value leaves the clock alone

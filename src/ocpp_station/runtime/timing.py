"""Time for the runtime and the fleet: a clock that never jumps, and the reconnect back-off."""

from __future__ import annotations

import time


class SteadyClock:
    """Seconds since the epoch that never jump: the wall clock read once, then advanced by the monotonic
    clock. Deadlines (heartbeat, MessageTimeout, retries, sampling) are differences of ``now``, so an NTP
    step or a manual clock change must not freeze them (a step back) or fire them all (a step forward);
    the wall-clock time of the station's messages is set by the CSMS's currentTime (BootNotification,
    Heartbeat), as the core's Clock offsets it."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()  # wall minus monotonic, at start-up

    def __call__(self) -> float:
        return time.monotonic() + self._offset


def reconnect_delay(failures: int, lo: float, hi: float, r: float) -> float:
    """Exponential back-off from ``lo`` capped at ``hi``, with equal jitter (``r`` in [0, 1)): half the
    step fixed, half random, so that stations cut off together do not come back together."""
    base = min(hi, lo * 2 ** min(max(0, failures - 1), 30))  # a capped exponent: no overflow after hours
    return base / 2 + r * base / 2

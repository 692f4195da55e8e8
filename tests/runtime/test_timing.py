"""runtime/timing.py: the reconnect back-off."""

from __future__ import annotations

import pytest

from ocpp_station.runtime.timing import reconnect_delay


def test_reconnect_delay_doubles_up_to_the_cap_with_equal_jitter():
    assert [reconnect_delay(n, 1.0, 30.0, 0.0) for n in (1, 2, 3, 4, 5, 6, 7)] == [0.5, 1, 2, 4, 8, 15, 15]
    assert [reconnect_delay(n, 1.0, 30.0, 0.999999) for n in (1, 5, 6)] == pytest.approx([1.0, 16.0, 30.0], abs=1e-4)


def test_reconnect_delay_after_days_of_failures_does_not_overflow():
    assert reconnect_delay(1025, 1.0, 30.0, 0.5) == 22.5
    assert reconnect_delay(10**9, 0.001, 0.002, 0.0) == 0.001

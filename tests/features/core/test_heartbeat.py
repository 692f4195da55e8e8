"""Heartbeat at core level, stepping `now` ([SPEC] §4.6; [OCPPJ] §5.3; [ERRATA] 3.10)."""

import pytest
from charging import booted

from harness import CoreHarness


@pytest.mark.parametrize(
    "current_time, expected",
    [
        ("2030-05-01T12:00:00", "2030-05-01T12:00:00.000Z"),
        ("2030-05-01T12:00:00+0000", "2030-05-01T12:00:00.000Z"),
        ("2030-05-01T13:30:00.5+01:30", "2030-05-01T12:00:00.500Z"),
    ],
)
def test_heartbeat_current_time_in_any_iso_8601_form_sets_the_clock(current_time, expected):
    """[ERRATA] 3.10: Heartbeat.conf's currentTime with an offset, fractions or no zone (UTC) syncs the clock."""
    h = CoreHarness()
    h.boot(interval=10)
    hb = h.advance_to_next_call()
    assert hb.action == "Heartbeat"
    h.reply(h.take("Heartbeat"), {"currentTime": current_time})
    assert h.station.timestamp(h.now) == expected

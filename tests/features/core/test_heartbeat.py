"""Heartbeat at core level, stepping `now` ([SPEC] §4.6; [OCPPJ] §5.3; [ERRATA] 3.10)."""

import pytest
from charging import booted, configure, plug, run, start_charging

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


DAY = 24 * 3600


def test_a_heartbeat_a_day_while_other_calls_flow():
    """[SPEC] §4.6, [OCPPJ] §5.3: the clock needs a Heartbeat at least once a day. 26 h of charging with a
    MeterValues every 60 s (each CALL restarts the inactivity timer) still sends one 24 h after the clock
    was last set (BootNotification.conf), and its answer sets the clock."""
    h = booted(MeterValueSampleInterval=60)
    accepted_at = h.now
    start_charging(h)
    done = run(h, 26 * 3600, answer=("MeterValues", "Heartbeat"))
    beats = [c for c in done if c.action == "Heartbeat"]
    assert [c.at - accepted_at for c in beats] == [DAY]
    assert beats[0].payload == {}
    assert sum(c.action == "MeterValues" for c in done) == 26 * 60
    h.no_call()


def test_daily_heartbeat_counts_from_the_last_heartbeat():
    h = booted(MeterValueSampleInterval=60)
    accepted_at = h.now
    start_charging(h)
    done = run(h, 2 * DAY + 3600, answer=("MeterValues", "Heartbeat"))
    assert [c.at - accepted_at for c in done if c.action == "Heartbeat"] == [DAY, 2 * DAY]


def test_heartbeat_interval_zero_still_beats_once_a_day():
    h = booted()
    configure(h, HeartbeatInterval=0)
    t0 = h.now
    h.advance(DAY - 1)
    h.no_call()
    hb = h.advance_to_next_call()
    assert (hb.action, hb.at - t0) == ("Heartbeat", DAY)


def test_at_most_one_heartbeat_waits_behind_an_unanswered_call():
    """MessageTimeout (120 s) > HeartbeatInterval (10 s): while a CALL waits for its answer, the heartbeat timer
    fires several times but only one Heartbeat is queued; it goes out when the CALL times out."""
    h = booted(MessageTimeout=120)
    configure(h, HeartbeatInterval=10, ConnectionTimeOut=3600)
    plug(h)
    prep = h.take("StatusNotification")  # left unanswered
    h.advance(119)
    h.no_call()
    h.advance(1)  # the StatusNotification times out: the one queued Heartbeat goes
    hb = h.take("Heartbeat")
    assert hb.at == prep.at + 120
    h.reply(hb, {"currentTime": "2026-01-01T00:02:00.000Z"})
    h.no_call()  # nothing piled up behind it
    assert h.advance_to_next_call().action == "Heartbeat"
    assert h.take().at == hb.at + 10

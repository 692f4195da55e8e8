"""StatusNotification reporting at core level: the timestamp is the time of the change, whenever it is sent
([SPEC] §4.9, §6.47 timestamp "the time for which the status is reported"; [ERRATA] 3.19)."""

from charging import booted, expect_status, plug, unplug
from harness import T0

from ocpp_station.core.clock import iso


def test_timestamp_is_the_time_of_the_change_not_the_end_of_minimum_status_duration():
    """MinimumStatusDuration delays the report, not the time it carries."""
    h = booted(MinimumStatusDuration=10)
    h.advance(5)
    plug(h)
    changed = h.now
    h.advance(10)
    prep = expect_status(h, 1, "Preparing")
    assert prep.at == changed + 10
    assert prep.payload["timestamp"] == iso(changed) == "2026-01-01T00:00:05.000Z"
    h.no_call()


def test_timestamp_after_an_offline_period_is_the_time_of_the_change():
    """A status that changed while offline is sent on reconnect with the time it changed, not the reconnect time."""
    h = booted()
    h.disconnect()
    h.advance(100)
    plug(h)
    changed = h.now
    h.advance(50)  # within ConnectionTimeOut (60 s): still Preparing
    h.connect()
    prep = expect_status(h, 1, "Preparing")
    assert prep.at == changed + 50
    assert prep.payload["timestamp"] == iso(changed) == iso(T0 + 100)
    h.no_call()


def test_timestamp_of_the_latest_change_when_several_happen_within_minimum_status_duration():
    """Only the last of several quick changes is reported, with its own time."""
    h = booted(MinimumStatusDuration=10)
    plug(h)
    h.advance(5)
    unplug(h)
    h.advance(3)
    plug(h)
    changed = h.now
    h.advance(10)
    prep = expect_status(h, 1, "Preparing")
    assert prep.payload["timestamp"] == iso(changed)
    h.no_call()

"""core.clock: what the station sends and how it reads received times ([ERRATA] 3.10)."""

import pytest

from ocpp_station.core.clock import Clock, iso, parse_iso
from ocpp_station.ocpp import dates

NOON = 1_903_867_200.0  # 2030-05-01T12:00:00Z


@pytest.mark.parametrize("ts", [NOON, NOON + 0.5, NOON + 0.0004, NOON + 59.9996, 0.0])
def test_iso_is_utc_with_milliseconds_and_z(ts):
    assert dates.is_strict(iso(ts))
    assert parse_iso(iso(ts)) == pytest.approx(round(ts, 3))


@pytest.mark.parametrize("text", ["2030-05-01T12:00:00", "2030-05-01T12:00:00+0000", "2030-05-01T14:00:00+02:00"])
def test_parse_iso_reads_every_form_the_schema_check_lets_in(text):
    assert parse_iso(text) == NOON


def test_sync_adopts_current_time_and_ignores_garbage():
    c = Clock()
    c.sync("2030-05-01T12:00:00", now=100.0)
    assert c.wall(100.0) == NOON
    c.sync("garbage", now=200.0)
    assert c.wall(100.0) == NOON


def test_sync_tells_the_listeners_when_the_clock_moves():
    c = Clock()
    seen = []
    c.on_change.append(seen.append)
    c.sync("2030-05-01T12:00:00Z", now=100.0)
    c.sync("2030-05-01T12:00:01Z", now=101.0)  # the same offset: nothing moved
    c.sync("nonsense", now=102.0)
    c.sync("2030-05-01T12:05:00Z", now=103.0)
    assert seen == [100.0, 103.0]

"""ocpp.dates: the one reader of received date-times and the check of sent ones ([ERRATA] 3.10)."""

from __future__ import annotations

import pytest

from ocpp_station.ocpp import dates

NOON = 1_903_867_200.0  # 2030-05-01T12:00:00Z


@pytest.mark.parametrize(
    "text, timestamp, zoneless",
    [
        ("2030-05-01T12:00:00Z", NOON, False),
        ("2030-05-01T12:00:00.000Z", NOON, False),
        ("2030-05-01T12:00:00", NOON, True),
        ("2030-05-01T12:00:00.250", NOON + 0.25, True),
        ("2030-05-01T12:00:00+0000", NOON, False),
        ("2030-05-01T12:00:00+00:00", NOON, False),
        ("2030-05-01T12:00:00-00:00", NOON, False),
        ("2030-05-01T13:00:00+01:00", NOON, False),
        ("2030-05-01T13:00:00+01", NOON, False),
        ("2030-05-01T06:30:00-0530", NOON, False),
        ("2030-05-01T12:00:00.5Z", NOON + 0.5, False),
        ("2030-05-01T12:00:00,5Z", NOON + 0.5, False),
        ("2030-05-01T12:00:00.123456789Z", NOON + 0.123456789, False),
        ("2030-05-01T12:00:00." + "1" * 40 + "Z", NOON + 0.111111111, False),  # any length
        ("2030-05-01t12:00:00z", NOON, False),
        ("2030-05-01 12:00:00Z", NOON, False),
        ("2030-05-01T12:00Z", NOON, False),
        ("2030-05-01T11:59:60Z", NOON, False),  # a leap second
    ],
)
def test_parse_reads_iso_8601_forms(text, timestamp, zoneless):
    got = dates.parse(text)
    assert got.timestamp == pytest.approx(timestamp, abs=1e-6)
    assert got.zoneless is zoneless


@pytest.mark.parametrize(
    "text",
    [
        "", "garbage", "2030-05-01", "12:00:00Z", "2030-05-01T12Z", "20300501T120000Z",
        "2030-13-01T12:00:00Z", "2030-02-30T12:00:00Z", "2030-05-01T24:00:00Z", "2030-05-01T12:61:00Z",
        "2030-05-01T12:00:00+24:00", "2030-05-01T12:00:00+01:60", "2030-05-01T12:00:00Zjunk",
        " 2030-05-01T12:00:00Z", "2030-05-01T12:00:00Z ", "2030-05-01T12:00:00.Z", "2030-05-01T12:00:00 Z",
        "٢٠٣٠-05-01T12:00:00Z",  # non-ASCII digits
    ],
)
def test_parse_refuses_what_is_not_a_date_time(text):
    with pytest.raises(ValueError):
        dates.parse(text)
    assert dates.is_valid(text) is False


def test_parse_refuses_non_strings():
    with pytest.raises(ValueError):
        dates.parse(12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, strict",
    [
        ("2030-05-01T12:00:00.000Z", True),
        ("2030-05-01T12:00:00Z", False),
        ("2030-05-01T12:00:00.0Z", False),
        ("2030-05-01T12:00:00.000+00:00", False),
        ("2030-05-01t12:00:00.000z", False),
        ("2030-05-01T12:00:00.000", False),
        ("2030-13-01T12:00:00.000Z", False),
        ("2030-05-01T24:00:00.000Z", False),
    ],
)
def test_is_strict_is_the_form_we_send(text, strict):
    assert dates.is_strict(text) is strict

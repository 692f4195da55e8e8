"""--metrics time series, --plot HTML page, and the live progress table."""

from __future__ import annotations

import io
import json

import pytest

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet.metrics import Aggregator
from ocpp_station.fleet.runner import Progress

DOC = {
    "fleet": {"identity_pattern": "PL{n:03d}"},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 6.0, "session_duration": {"distribution": "uniform", "min": 300, "max": 900}},
}


@pytest.mark.timeout(60)
def test_metrics_time_series_and_plot(tmp_path):
    metrics, plot = tmp_path / "m.json", tmp_path / "p.html"
    run_fleet(FleetOptions(csms_url="builtin", count=10, scenario=parse_scenario(DOC), seed=2, duration=900.0,
                           virtual_time=True, metrics_path=metrics, plot_path=plot, err=io.StringIO()))
    result = json.loads(metrics.read_text())
    series = result["time_series"]
    assert (result["time_base"], result["bucket_s"]) == ("virtual", 1.0)
    assert series and sum(p["messages"] for p in series) == result["frames_in"] + result["frames_out"]
    assert {"t", "messages_per_s", "latency_p50_ms", "latency_p99_ms", "connected", "charging_stations",
            "charging_connectors"} <= set(series[0])
    html = plot.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 2
    assert "<polyline" in html or "<circle" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_progress_table_in_place_on_a_terminal_and_lines_otherwise():
    agg = Aggregator(3, 1, 0.0)
    agg.handle({"type": "snapshot", "worker": 0, "connected": 2, "accepted": 2, "charging_stations": 1, "queued": 4,
                "frames_in": 5, "frames_out": 5, "errors": 0, "latencies": [0.001], "clock": 1.0, "jumps": 0,
                "all_accepted_at": None, "accepted_ever": 2})

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, plain = Tty(), io.StringIO()
    for _ in range(2):
        Progress(agg, plain).tick()
    show = Progress(agg, tty)
    show.tick()
    show.tick()
    out = tty.getvalue()
    assert "\x1b[2F" in out and "queued tx" in out and "2/3" in out  # redrawn in place
    assert "\x1b" not in plain.getvalue() and len(plain.getvalue().splitlines()) == 2


def test_nice_ticks_are_round_steps_of_1_2_5():
    from ocpp_station.fleet.metrics import nice_ticks

    assert nice_ticks(0, 5936) == [0, 1000, 2000, 3000, 4000, 5000, 6000]
    assert nice_ticks(0, 7) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert nice_ticks(3, 903) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0, 0.37) == [0, 0.1, 0.2, 0.3, 0.4]
    assert nice_ticks(0, 12.5) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert nice_ticks(5, 5) == [5, 5.2, 5.4, 5.6, 5.8, 6]  # no range: one unit


def _point(t, rate, virtual_t=None):
    return {"t": t, "virtual_t": virtual_t, "messages": rate, "messages_per_s": rate, "latency_count": 1,
            "latency_p50_ms": 1.5, "latency_p99_ms": 3.25, "connected": 10, "accepted": 10, "charging_stations": 2,
            "queued": 0, "errors": 0}


def _axis_labels(svg_chart: str) -> tuple[list[str], list[str], str]:
    import re

    xs = re.findall(r'y="236" font-size="11" text-anchor="middle">([^<]*)<', svg_chart)
    ys = re.findall(r'font-size="11" text-anchor="end">([^<]*)<', svg_chart)
    xlabel = re.findall(r'y="254" font-size="11" text-anchor="middle">([^<]*)<', svg_chart)
    return xs, ys, xlabel[0]


def test_plot_ticks_are_round_and_virtual_time_uses_the_virtual_clock():
    from ocpp_station.fleet.metrics import plot_html

    wall = {"stations": 10, "time_series": [_point(t, r) for t, r in enumerate([120, 5936, 4000, 3000, 2000, 1000, 10, 0])]}
    charts = plot_html(wall).split("<svg")[1:]
    xs, ys, xlabel = _axis_labels(charts[0])
    assert xs == ["0", "1", "2", "3", "4", "5", "6", "7"]
    assert ys == ["0", "1000", "2000", "3000", "4000", "5000", "6000"]
    assert xlabel == "wall-clock seconds since the start"
    xs, ys, _ = _axis_labels(charts[1])  # latency: p99 3.25 ms at most
    assert ys == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5"]

    virtual = {"stations": 10, "time_base": "virtual", "bucket_s": 10.0,
               "time_series": [_point(t, 50, t) for t in (0.0, 310.0, 620.0, 900.0)]}
    html = plot_html(virtual)
    xs, _, xlabel = _axis_labels(html.split("<svg")[1])
    assert xs == ["0", "200", "400", "600", "800", "1000"]
    assert xlabel == "virtual seconds since the start (the stations&#x27; clock)"
    assert "Throughput (messages in + out per virtual second)" in html
    assert "CSMS latency per 10 virtual seconds (CALL to answer, real ms)" in html


def _result(**changes):
    r = {"stations": 10, "workers": 1, "wall_s": 3.25, "virtual_s": 900.0, "virtual_jumps": 1234, "accepted": 10,
         "time_to_all_accepted_s": 0.412, "frames_in": 6000, "frames_out": 6000, "messages_per_s": 3692.3,
         "latency_ms": {"count": 5990, "p50": 0.412, "p90": 0.9, "p99": 1.203, "max": 5.0},
         "stop_latency_ms": {"count": 0, "p50": None, "p90": None, "p99": None, "max": None},
         "errors": 0, "call_errors": 0, "call_timeouts": 0, "exceptions": 0, "connect_failures": 0,
         "network_drops": 2, "open_transactions_at_end": 0, "queued_tx_at_end": 0,
         "answered": {"StartTransaction": 12, "StopTransaction": 12},
         "cpu": {"fleet_cpu_s": 2.5, "fleet_cpu_percent": 76.9}, "rss_kib": {"0": 51200}}
    r.update(changes)
    return r


def test_summary_is_an_aligned_table():
    from ocpp_station.fleet.metrics import summary_text

    assert summary_text(_result()) == "\n".join([
        "fleet: 10 stations, 1 worker(s)",
        "  time               3.2 s wall-clock, 900 s virtual (1234 jumps)",
        "  stations           all 10 accepted after 0.4 s virtual",
        "  messages           12000 (3692.3/s wall-clock, 13.3/s virtual)",
        "  transactions       12 started, 12 stopped; at the end 0 open, 0 messages queued, 0 dropped",
        "  errors             0 (CALLERROR 0, timeouts 0, exceptions 0)",
        "  connections        connect failures 0, network drops 2",
        "  cpu                fleet_cpu_s 2.5, fleet_cpu_percent 76.9",
        "  RSS per worker     50.0 MiB",
        "  CSMS latency (ms)    p50    p90    p99    max  calls",
        "    driving          0.412  0.900  1.203  5.000   5990",
        "    stop phase           –      –      –      –      0",
    ])


def test_summary_says_how_many_were_accepted_when_not_all():
    from ocpp_station.fleet.metrics import summary_text

    text = summary_text(_result(virtual_s=None, virtual_jumps=0, accepted=8, time_to_all_accepted_s=None, cpu={},
                                rss_kib={"0": None}))
    assert text.splitlines()[1:4] == [
        "  time               3.2 s wall-clock",
        "  stations           8 of 10 accepted",
        "  messages           12000 (3692.3/s wall-clock)",
    ]
    assert "None" not in text and "all 10" not in text


TWO_HOURS = {
    "fleet": {"identity_pattern": "VT{n}"},
    "station": {"connectors": 2},
    "ocpp": {"MeterValueSampleInterval": 300, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 4.0, "session_duration": {"distribution": "uniform", "min": 1800, "max": 3600}},
}


@pytest.mark.timeout(60)
def test_virtual_time_series_is_bucketed_on_the_stations_clock_from_its_start():
    """A 2 h virtual run takes a few wall-clock seconds: its series is per virtual bucket (10 s for 2 h),
    from virtual 0 to the end of the drain, with rates per virtual second."""
    r = run_fleet(FleetOptions(csms_url="builtin", count=4, scenario=parse_scenario(TWO_HOURS), seed=3,
                               duration=7200.0, virtual_time=True, progress=False, err=io.StringIO()))
    series = r["time_series"]
    assert (r["time_base"], r["bucket_s"]) == ("virtual", 10.0)
    ts = [p["t"] for p in series]
    assert ts == [10.0 * k for k in range(len(ts))]  # every bucket, from the stations' start
    assert ts[-1] <= r["virtual_s"] < ts[-1] + 10 and len(ts) >= 720
    assert all(p["span_s"] == 10.0 for p in series[:-1]) and 0 <= series[-1]["span_s"] <= 10.0
    assert sum(p["messages"] for p in series) == r["frames_in"] + r["frames_out"]
    for p in series[:-1]:
        assert p["messages_per_s"] == round(p["messages"] / 10.0, 3)  # per virtual second
    assert series[0]["messages"] > 0 and series[0]["connected"] == 4  # the boots are in the first bucket
    assert sum(p["latency_count"] for p in series) == r["latency_ms"]["count"] + r["stop_latency_ms"]["count"]
    # "charging" counts stations; their connectors are counted apart
    assert all(p["charging_stations"] <= p["charging_connectors"] <= 2 * p["charging_stations"] for p in series)
    assert any(p["charging_connectors"] > p["charging_stations"] for p in series)
    assert max(p["charging_stations"] for p in series) <= 4


def test_series_step_keeps_a_virtual_series_to_about_a_thousand_buckets():
    from ocpp_station.fleet.metrics import series_step

    assert [series_step(d) for d in (60, 1000, 1001, 7200, 86400, 7 * 86400)] == [1, 1, 2, 10, 120, 1200]

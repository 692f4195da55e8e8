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
    series = json.loads(metrics.read_text())["time_series"]
    assert series and sum(p["messages"] for p in series) > 0
    assert {"t", "messages_per_s", "latency_p50_ms", "latency_p99_ms", "connected", "charging"} <= set(series[0])
    html = plot.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 2
    assert "<polyline" in html or "<circle" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_progress_table_in_place_on_a_terminal_and_lines_otherwise():
    agg = Aggregator(3, 1, 0.0)
    agg.handle({"type": "snapshot", "worker": 0, "connected": 2, "accepted": 2, "charging": 1, "queued": 4,
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

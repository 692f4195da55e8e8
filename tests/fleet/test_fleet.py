"""The fleet: 200 full stations against the dev CSMS (in a subprocess), and the seeded driver's determinism."""

from __future__ import annotations

import gc
import io
import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from ocpp_station.fleet import Driver, FleetOptions, ScenarioError, parse_scenario, run_fleet

FAST = {
    "fleet": {"identity_pattern": "CI{n:04d}", "ramp_rate": 100.0},
    "station": {"connectors": 1},
    "ocpp": {"MeterValueSampleInterval": 2, "WebSocketPingInterval": 0},
    "driver": {
        "sessions_per_hour": 1200.0,  # one every ~3 s per station
        "session_duration": {"distribution": "uniform", "min": 2, "max": 5},
        "plug_to_card": 0.5,
        "card_to_unplug": 0.5,
    },
    "faults": {"network_drop_probability": 0.1, "network_outage": {"min": 0.5, "max": 1.5}},
}


@pytest.fixture
def csms_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet", "--log-level", "WARNING",
         "--boot-interval", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"(ws://\S+?)/<identity>", line)
        assert m, line
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.timeout(60)
def test_200_stations_boot_charge_and_report_every_transaction(csms_url, tmp_path):
    scenario = parse_scenario(FAST)
    err = io.StringIO()
    metrics = tmp_path / "metrics.json"
    thresholds = gc.get_threshold()
    result = run_fleet(
        FleetOptions(csms_url=csms_url, count=200, scenario=scenario, seed=7, duration=12.0,
                     drain_timeout=15.0, metrics_path=metrics, err=err)
    )
    assert gc.get_threshold() == thresholds  # raised after the ramp-up, given back at the end
    # the worker's collections and loop stalls are in the result, the ramp-up's connections frozen
    doc = result["gc"]["0"]
    assert sum(doc["collections"]) >= 1 and doc["frozen"] > 0 and isinstance(doc["longPauses"], list)
    assert isinstance(result["loop_stalls"]["0"], list) and result["started_wall"] > 0
    out = err.getvalue()
    assert "connected" in out and "latency p50" in out  # the progress line
    assert json.loads(metrics.read_text())["stations"] == 200
    per = result["per_station"]
    assert sorted(per) == [f"CI{n:04d}" for n in range(1, 201)]
    assert result["errors"] == 0, out
    assert result["exceptions"] == 0
    starts = stops = 0
    for ident, s in per.items():
        assert s["accepted_at"] is not None, ident  # every station booted (Accepted)
        assert s["answered"].get("BootNotification", 0) >= 1, ident
        # every started transaction was stopped and the stop reported (answered by the CSMS)
        assert s["answered"].get("StartTransaction", 0) == s["answered"].get("StopTransaction", 0), (ident, s)
        assert s["queued"] == 0 and s["open_transactions"] == 0, (ident, s)
        starts += s["answered"].get("StartTransaction", 0)
        stops += s["answered"].get("StopTransaction", 0)
    assert starts >= 200  # ~3 sessions per station in 12 s
    assert result["answered"].get("MeterValues", 0) > 0
    assert result["network_drops"] > 0  # the fault injection ran, and the stations came back
    assert result["latency_ms"]["count"] > 0 and result["latency_ms"]["p99"] is not None
    assert result["time_to_all_accepted_s"] is not None


def test_the_seeded_schedule_is_deterministic():
    scenario = parse_scenario(FAST)
    a = Driver(scenario, 42).planned(50, 600.0)
    b = Driver(scenario, 42).planned(50, 600.0)
    c = Driver(scenario, 43).planned(50, 600.0)
    assert a == b
    assert a != c
    assert len(a) > 1000
    kinds = Counter(ev.kind for ev in a)
    assert kinds["plug_in"] >= kinds["card_stop"] >= kinds["plug_out"] - 1
    assert kinds["drop"] > 0
    # per station and connector, the actions come in the order of a session
    order = {"plug_in": 0, "card_start": 1, "drop": 2, "card_stop": 3, "plug_out": 4}
    last: dict[tuple[int, int], int] = {}
    for ev in a:
        key = (ev.index, ev.connector)
        prev = last.get(key, 4)
        assert order[ev.kind] > prev or (prev == 4 and ev.kind == "plug_in"), (ev, prev)
        last[key] = order[ev.kind]
    # a station's schedule does not depend on how many stations there are (or which worker runs it)
    assert [e for e in Driver(scenario, 42).planned(5, 600.0) if e.index == 3] == [e for e in a if e.index == 3]


def test_scenario_errors_name_the_key():
    with pytest.raises(ScenarioError, match=r"driver.session_duration.distribution"):
        parse_scenario({"driver": {"session_duration": {"distribution": "gauss"}}})
    with pytest.raises(ScenarioError, match=r"^scenario: ocpp.MeterValueSampleInterval: must be >= 0, got -3$"):
        parse_scenario({"ocpp": {"MeterValueSampleInterval": "-3"}})
    with pytest.raises(ScenarioError, match=r"^scenario: foo: unknown table \(expected one of: fleet, station, "):
        parse_scenario({"foo": {}})


@pytest.mark.timeout(60)
def test_two_worker_processes_split_the_fleet(csms_url):
    scenario = parse_scenario(FAST)
    result = run_fleet(
        FleetOptions(csms_url=csms_url, count=20, scenario=scenario, seed=3, duration=4.0, workers=2,
                     drain_timeout=10.0, err=io.StringIO())
    )
    assert result["workers"] == 2
    assert sorted(result["per_station"]) == [f"CI{n:04d}" for n in range(1, 21)]
    assert result["accepted"] == 20 and result["errors"] == 0
    assert result["queued_tx_at_end"] == 0 and result["open_transactions_at_end"] == 0
    assert all(v for v in result["rss_kib"].values())


def test_cli_fleet_help_and_bad_scenario(tmp_path, capsys):
    from ocpp_station.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["fleet", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--csms", "--count", "--scenario", "--seed", "--duration", "--workers", "--ramp",
                "--identity-pattern", "--drain-timeout", "--metrics", "--no-progress", "--log-level", "builtin",
                "--control", "--trace", "--plot"):
        assert opt in text
    bad = tmp_path / "bad.toml"
    bad.write_text("[driver]\nsessions_per_hour = 'many'\n")
    assert main(["fleet", "--csms", "builtin", "--count", "1", "--scenario", str(bad)]) == 2
    assert "driver.sessions_per_hour" in capsys.readouterr().err


def test_example_scenario_loads():
    from pathlib import Path

    from ocpp_station.fleet import load_scenario

    sc = load_scenario(Path(__file__).parents[2] / "examples" / "fleet-basic.toml")
    assert sc.identity(7) == "SIM00007" and sc.drop_probability > 0


@pytest.mark.timeout(60)
def test_virtual_time_with_the_builtin_csms_runs_half_an_hour_in_seconds():
    doc = json.loads(json.dumps(FAST))
    doc["ocpp"]["MeterValueSampleInterval"] = 60
    doc["driver"].update(sessions_per_hour=6.0, session_duration={"distribution": "uniform", "min": 300, "max": 900})
    doc["faults"] = {"network_drop_probability": 0.3, "network_outage": {"min": 30, "max": 120}}
    doc["csms"] = {"boot_interval": 60}
    result = run_fleet(
        FleetOptions(csms_url="builtin", count=20, scenario=parse_scenario(doc), seed=5, duration=1800.0,
                     drain_timeout=300.0, virtual_time=True, err=io.StringIO())
    )
    assert result["wall_s"] < 30
    assert result["virtual_s"] >= 1800 and result["virtual_jumps"] > 0
    assert result["accepted"] == 20 and result["errors"] == 0
    assert result["answered"]["Heartbeat"] >= 20 * 20  # ~30 per station in 30 virtual minutes
    assert result["answered"]["StartTransaction"] == result["answered"]["StopTransaction"] > 0
    assert result["queued_tx_at_end"] == 0 and result["open_transactions_at_end"] == 0


@pytest.mark.timeout(60)
def test_uvloop_event_loop_runs_stations_and_their_drops(csms_url):
    pytest.importorskip("uvloop")
    doc = json.loads(json.dumps(FAST))
    doc["fleet"]["event_loop"] = "uvloop"
    result = run_fleet(
        FleetOptions(csms_url=csms_url, count=20, scenario=parse_scenario(doc), seed=3, duration=5.0, workers=2,
                     drain_timeout=10.0, err=io.StringIO())
    )
    assert result["scenario"]["event_loop"] == "uvloop"
    assert result["accepted"] == 20 and result["errors"] == 0 and result["exceptions"] == 0
    assert result["answered"]["StartTransaction"] == result["answered"]["StopTransaction"] > 0
    assert result["queued_tx_at_end"] == 0 and result["open_transactions_at_end"] == 0

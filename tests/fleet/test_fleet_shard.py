"""`ocpp-station fleet --shard I/N`: N shards together are the single run, station by station."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections import defaultdict

import pytest

from ocpp_station.cli import main
from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet.runner import parse_shard, shard_indices

DOC = {
    "fleet": {"identity_pattern": "SH{n:03d}", "ramp_rate": 50.0},
    "station": {"connectors": 2},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 8.0, "session_duration": {"distribution": "uniform", "min": 300, "max": 900}},
    "faults": {"network_drop_probability": 0.3, "network_outage": {"min": 30, "max": 120},
               "power_cut_rate": 1.0, "backup_power": 0.5},
    "csms": {"boot_interval": 60, "error_rate": 0.03, "silence_rate": 0.03},
}
COUNT = 14


def _run(shard=None, workers=1):
    return run_fleet(FleetOptions(csms_url="builtin", count=COUNT, scenario=parse_scenario(DOC), seed=7,
                                  duration=1800.0, drain_timeout=300.0, virtual_time=True, trace=True,
                                  progress=False, err=io.StringIO(), shard=shard, workers=workers))


def _per_station(lines):
    out = defaultdict(list)
    for line in lines:
        out[line.split(" ", 2)[1]].append(line)
    return dict(out)


def test_shard_slices_are_disjoint_and_cover_the_run():
    for n in (1, 2, 3, 7, 20):
        parts = [shard_indices(13, (i, n)) for i in range(n)]
        flat = [x for p in parts for x in p]
        assert sorted(flat) == list(range(1, 14)) and len(flat) == len(set(flat))
    assert shard_indices(10, (1, 4)) == [2, 6, 10]
    assert parse_shard("0/1") == (0, 1) and parse_shard("3/4") == (3, 4)
    for bad in ("3/2", "0/0", "x", "1/", "-1/2", "2/2", "1/2/3"):
        with pytest.raises(ValueError, match="expected I/N"):
            parse_shard(bad)


@pytest.mark.parametrize("value", ["3/2", "0/0", "x"])
def test_bad_shard_exits_2_naming_the_option(value, capsys):
    assert main(["fleet", "--csms", "builtin", "--count", "3", "--shard", value]) == 2
    assert capsys.readouterr().err == (
        f"ocpp-station: --shard: expected I/N with 0 <= I < N (e.g. 0/4), got {value!r}\n")


def test_a_shard_without_stations_exits_2(capsys):
    assert main(["fleet", "--csms", "builtin", "--count", "3", "--shard", "3/4"]) == 2
    assert capsys.readouterr().err.startswith("ocpp-station: --shard: shard 3/4 of 3 stations has no station")


@pytest.mark.timeout(180)
def test_three_shards_are_the_single_run_trace_by_trace():
    """Virtual time, builtin CSMS (with injected errors, silences, drops and power cuts): the shards' identities
    are disjoint and together the run's; each station's CALL trace is the single run's, line for line."""
    whole = _run()
    shards = [_run((i, 3), workers=2 if i == 1 else 1) for i in range(3)]
    assert whole["accepted"] == COUNT and whole["errors"] == 0 and whole["shard"] is None
    ids = [set(r["per_station"]) for r in shards]
    assert sum(len(s) for s in ids) == COUNT and set().union(*ids) == set(whole["per_station"])
    assert [r["stations"] for r in shards] == [5, 5, 4] and [r["shard"] for r in shards] == ["0/3", "1/3", "2/3"]
    assert all(r["count"] == COUNT for r in shards)
    one = _per_station(whole["trace"])
    parts: dict[str, list[str]] = {}
    for r in shards:
        parts.update(_per_station(r["trace"]))
    assert sorted(one) == sorted(parts)
    for identity, lines in one.items():
        assert parts[identity] == lines, identity
    assert len(whole["trace"]) > 500
    # every CALL sent was answered or failed before the close (none left to the race between the close and
    # its answer), and the per-station counters are the same too
    for r in (whole, *shards):
        for identity, st in r["per_station"].items():
            for action, n in st["sent"].items():
                assert n == st["answered"].get(action, 0) + st["failed"].get(action, 0), (identity, action)
    for r in shards:
        for identity, st in r["per_station"].items():
            mine = dict(st, accepted_at=None)
            theirs = dict(whole["per_station"][identity], accepted_at=None)
            assert mine == theirs, identity
    # a shard rerun alone is the same shard
    again = _run((1, 3))
    assert again["trace"] == shards[1]["trace"]


@pytest.mark.timeout(180)
def test_shards_as_processes_write_the_single_runs_traces(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('[fleet]\nidentity_pattern = "PX{n:02d}"\n[driver]\nsessions_per_hour = 6.0\n'
                        '[ocpp]\nWebSocketPingInterval = 0\n')

    def cli(*extra):
        return subprocess.Popen([sys.executable, "-m", "ocpp_station", "fleet", "--csms", "builtin", "--count", "6",
                                 "--scenario", str(scenario), "--seed", "3", "--duration", "900", "--virtual-time",
                                 "--drain-timeout", "120", "--no-progress", *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    procs = [cli("--trace", str(tmp_path / "all.txt"), "--metrics", str(tmp_path / "all.json"))]
    procs += [cli("--shard", f"{i}/2", "--trace", str(tmp_path / f"s{i}.txt"), "--metrics", str(tmp_path / f"s{i}.json"))
              for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=150)
        assert p.returncode == 0, err
    whole = (tmp_path / "all.txt").read_text().splitlines()
    shard_lines = [ln for i in range(2) for ln in (tmp_path / f"s{i}.txt").read_text().splitlines()]
    assert _per_station(whole) == _per_station(shard_lines)
    assert sorted(whole) == sorted(shard_lines)
    s0 = json.loads((tmp_path / "s0.json").read_text())
    assert sorted(s0["per_station"]) == ["PX01", "PX03", "PX05"] and s0["shard"] == "0/2" and s0["count"] == 6


@pytest.mark.parametrize("value, message", [
    ("2026-12-02T10:00:00", "expected an ISO 8601 time with its UTC offset"),  # no offset: whose 10:00?
    ("tomorrow", "expected an ISO 8601 time with its UTC offset"),
])
def test_bad_start_at_exits_2_naming_the_option(value, message, capsys):
    assert main(["fleet", "--csms", "builtin", "--count", "2", "--start-at", value]) == 2
    assert f"ocpp-station: --start-at: {message}" in capsys.readouterr().err
    assert main(["fleet", "--csms", "builtin", "--count", "2", "--virtual-time",
                 "--start-at", "2026-12-02T10:00:00Z"]) == 2
    assert "--start-at: for real time only" in capsys.readouterr().err


def test_start_at_is_every_shards_t_zero():
    import time

    doc = {"fleet": {"identity_pattern": "SA{n:02d}", "ramp_rate": 20.0},
           "ocpp": {"WebSocketPingInterval": 0}, "driver": {"sessions_per_hour": 0.0}}
    start = time.time() + 1.5
    err = io.StringIO()
    r = run_fleet(FleetOptions(csms_url="builtin", count=4, scenario=parse_scenario(doc), duration=0.5,
                               drain_timeout=5.0, progress=False, err=err, shard=(1, 2), start_at=start))
    assert "fleet: waiting" in err.getvalue() and "for --start-at" in err.getvalue()
    # shard 1/2 runs stations 2 and 4: each boots at its place in the ramp from the given instant
    accepted = {i: st["accepted_at"] for i, st in r["per_station"].items()}
    assert set(accepted) == {"SA02", "SA04"}
    assert start + 1 / 20 <= accepted["SA02"] < start + 1.0
    assert start + 3 / 20 <= accepted["SA04"] < start + 1.1
    # a time already past: a warning, and the run starts at once
    err = io.StringIO()
    t0 = time.time()
    run_fleet(FleetOptions(csms_url="builtin", count=1, scenario=parse_scenario(doc), duration=0.2,
                           drain_timeout=5.0, progress=False, err=err, start_at=t0 - 30))
    assert re.search(r"--start-at \S+Z passed 3\d\.\d s ago: this run starts now", err.getvalue())

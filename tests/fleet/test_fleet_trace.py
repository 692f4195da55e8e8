"""Virtual time with the builtin CSMS: the same seed gives the identical CALL trace, byte for byte."""

from __future__ import annotations

import io

import pytest

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet

DOC = {
    "fleet": {"identity_pattern": "TR{n:03d}", "ramp_rate": 50.0},
    "station": {"connectors": 2},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 8.0, "session_duration": {"distribution": "uniform", "min": 300, "max": 900}},
    "faults": {"network_drop_probability": 0.3, "network_outage": {"min": 30, "max": 120}},
    "csms": {"boot_interval": 60},
}


def _trace(seed, tmp_path, name):
    path = tmp_path / name
    result = run_fleet(
        FleetOptions(csms_url="builtin", count=15, scenario=parse_scenario(DOC), seed=seed, duration=1800.0,
                     drain_timeout=300.0, virtual_time=True, trace_path=path, progress=False, err=io.StringIO())
    )
    assert result["accepted"] == 15 and result["errors"] == 0
    return path.read_bytes(), result


@pytest.mark.timeout(120)
def test_same_seed_same_trace_different_seed_different_trace(tmp_path):
    a, ra = _trace(11, tmp_path, "a.txt")
    b, _ = _trace(11, tmp_path, "b.txt")
    c, _ = _trace(12, tmp_path, "c.txt")
    assert a == b  # byte-identical: virtual timestamps, message ids, payloads
    assert a != c
    lines = a.decode().splitlines()
    assert len(lines) == len(ra["trace"]) > 500
    # timestamps are virtual (from 2025-01-01T00:00:00Z), never the wall clock
    assert lines[0].startswith("1735689600.000 TR001 ") and "BootNotification" in lines[0]
    assert any('"timestamp":"2025-01-01T00:' in ln for ln in lines)
    actions = {ln.split(" ", 4)[3] for ln in lines}
    assert {"BootNotification", "StatusNotification", "Heartbeat", "StartTransaction", "StopTransaction",
            "MeterValues"} <= actions
    assert ra["network_drops"] > 0

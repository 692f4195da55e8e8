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
    # every kind of fault: they come from the seed too
    "faults": {"network_drop_probability": 0.3, "network_outage": {"min": 30, "max": 120},
               "power_cut_rate": 1.0, "backup_power": 0.5},
    "csms": {"boot_interval": 60, "error_rate": 0.03, "silence_rate": 0.03},
}


def _trace(seed, tmp_path, name, workers=1):
    path = tmp_path / name
    result = run_fleet(
        FleetOptions(csms_url="builtin", count=15, scenario=parse_scenario(DOC), seed=seed, duration=1800.0,
                     drain_timeout=300.0, virtual_time=True, trace_path=path, progress=False, err=io.StringIO(),
                     workers=workers)
    )
    assert result["accepted"] == 15 and result["errors"] == 0
    assert sorted(result["per_station"]) == [f"TR{n:03d}" for n in range(1, 16)]
    assert result["queued_tx_at_end"] == 0 and result["open_transactions_at_end"] == 0
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
    assert ra["network_drops"] > 0 and ra["power_cuts"] > 0
    assert ra["csms_faults"]["errors"] > 0 and ra["csms_faults"]["silences"] > 0


@pytest.mark.timeout(120)
def test_two_workers_in_virtual_time_same_seed_same_trace(tmp_path):
    """Each worker has its own virtual clock; the merged trace is the same for the same seed and --workers."""
    a, ra = _trace(11, tmp_path, "a.txt", workers=2)
    b, _ = _trace(11, tmp_path, "b.txt", workers=2)
    assert ra["workers"] == 2
    assert a == b
    lines = a.decode().splitlines()
    assert len(lines) > 500 and lines[0].startswith("1735689600.000 TR001 ")
    assert ra["answered"]["StartTransaction"] == ra["answered"]["StopTransaction"] > 0

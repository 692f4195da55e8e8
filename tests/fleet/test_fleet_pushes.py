"""The builtin CSMS pushes a local list and a reservation to a seeded fraction of the stations after their first
Accepted boot ([csms] local_list_fraction / reservation_fraction), so the optional profiles show at scale."""

from __future__ import annotations

import io

import pytest

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet.csms_main import Pushes
from ocpp_station.fleet.scenario import ScenarioError

DOC = {
    "fleet": {"identity_pattern": "PU{n:03d}", "ramp_rate": 50.0},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 6.0, "id_tags": ["FLEET001", "FLEET002"],
               "session_duration": {"distribution": "uniform", "min": 120, "max": 300}},
    "csms": {"local_list_fraction": 0.5, "local_list_size": 20, "reservation_fraction": 0.5,
             "reservation_duration": 120},
}


@pytest.mark.timeout(120)
def test_a_seeded_fraction_of_the_stations_gets_a_local_list_and_a_reservation(tmp_path):
    trace = tmp_path / "trace.txt"
    err = io.StringIO()
    count, seed = 12, 5
    result = run_fleet(FleetOptions(csms_url="builtin", count=count, scenario=parse_scenario(DOC), seed=seed,
                                    duration=1800.0, virtual_time=True, trace_path=trace, progress=False, err=err))
    out = err.getvalue()
    assert result["accepted"] == count, out
    assert result["errors"] == 0 and result["exceptions"] == 0, out
    pushes = Pushes(seed, 0.5, 20, 0.5, 120.0, ["FLEET001", "FLEET002"])
    identities = [f"PU{n:03d}" for n in range(1, count + 1)]
    with_list = [i for i in identities if pushes.chosen(i, "local-list", 0.5)]
    with_reservation = [i for i in identities if pushes.chosen(i, "reservation", 0.5)]
    assert 0 < len(with_list) < count and 0 < len(with_reservation) < count  # a fraction, not all or none
    assert result["received"].get("SendLocalList", 0) == len(with_list)
    assert result["received"].get("ReserveNow", 0) == len(with_reservation)
    lines = trace.read_text().splitlines()
    reserved = {line.split()[1] for line in lines if " StatusNotification " in line and '"Reserved"' in line}
    assert reserved == set(with_reservation)
    # every session that started also stopped: a reservation refuses other idTags, it loses no transaction
    assert result["answered"].get("StartTransaction", 0) == result["answered"].get("StopTransaction", 0), out


def test_push_keys_are_checked():
    for key, value, message in [
        ("local_list_fraction", 1.5, "csms.local_list_fraction"),
        ("local_list_size", -1, "csms.local_list_size: expected an integer from 0 to 10000"),
        ("reservation_duration", 0, "csms.reservation_duration"),
    ]:
        with pytest.raises(ScenarioError, match=message):
            parse_scenario({"csms": {key: value}})


def test_the_local_list_starts_with_the_drivers_id_tags():
    p = Pushes(1, 1.0, 4, 0.0, 60.0, ["A1", "B2"])
    assert [e["idTag"] for e in p.local_list()["localAuthorizationList"]] == ["A1", "B2", "LIST00001", "LIST00002"]
    r = p.reservation("X")
    assert r["idTag"] == "A1" and r["connectorId"] == 1 and r["expiryDate"].endswith("Z")

"""Smart charging at fleet scale: the builtin CSMS sends a daily charging profile to a seeded fraction of the
stations ([csms] smart_charging_*), the stations' answers are counted per action and status, and the metrics'
time series (and the plot) carry the power of all stations beside the sum of their Smart Charging limits.

The limits come from the stations' Smart Charging feature, which caps the simulated EV's power to them; a
station without the SmartCharging profile answers NotSupported.
"""

from __future__ import annotations

import io

import pytest
from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet
from ocpp_station.fleet.csms_main import Pushes
from ocpp_station.fleet.metrics import plot_html
from ocpp_station.fleet.scenario import ScenarioError

PERIODS = [{"start": "00:00", "limit": 11000}, {"start": "06:00", "limit": 4000}]
DOC = {
    "fleet": {"identity_pattern": "SC{n:03d}", "ramp_rate": 50.0},
    "ocpp": {"MeterValueSampleInterval": 900, "WebSocketPingInterval": 0},
    "driver": {"sessions_per_hour": 1.0, "ev_power_w": 7000,
               "session_duration": {"distribution": "uniform", "min": 1800, "max": 3600}},
    "csms": {"boot_interval": 3600, "smart_charging_fraction": 0.5, "smart_charging_periods": PERIODS,
             "smart_charging_stagger": 600},
}


def _run(count: int, seed: int, duration: float, doc=DOC) -> dict:
    err = io.StringIO()
    result = run_fleet(FleetOptions(csms_url="builtin", count=count, scenario=parse_scenario(doc), seed=seed,
                                    duration=duration, virtual_time=True, progress=False, err=err))
    result["_err"] = err.getvalue()
    return result


def _chosen(count: int, seed: int) -> list[str]:
    pushes = Pushes(seed, smart_charging_fraction=0.5)
    return [f"SC{n:03d}" for n in range(1, count + 1) if pushes.chosen(f"SC{n:03d}", "smart-charging", 0.5)]


@pytest.mark.timeout(180)
def test_the_csms_sets_profiles_on_the_seeded_fraction_and_the_series_show_power_and_limits():
    count, seed = 12, 5
    result = _run(count, seed, 8 * 3600.0)
    out = result["_err"]
    assert result["accepted"] == count and result["errors"] == 0, out
    chosen = _chosen(count, seed)
    assert 0 < len(chosen) < count  # a fraction, not all or none
    # exactly the seeded stations got a profile, and each answered Accepted
    assert result["received"].get("SetChargingProfile", 0) == len(chosen)
    assert result["csms_call_answers"] == {"SetChargingProfile": {"Accepted": len(chosen)}}
    for ident, st in result["per_station"].items():
        assert st["answers"] == ({"SetChargingProfile Accepted": 1} if ident in chosen else {}), ident
    assert f"SetChargingProfile Accepted {len(chosen)}" in out, out  # the summary's row

    series = result["time_series"]
    assert result["bucket_s"] == 30.0
    by_t = {p["t"]: p for p in series}
    # every limited station is one the CSMS chose; after the stagger (<= 600 s) all are in the 00:00 period,
    # after 06:10 all are in the 06:00 one (single-connector stations: the station's limit is its connector's)
    for t, limit in ((1800.0, 11000.0), (3 * 3600.0, 11000.0), (6 * 3600.0 + 900, 4000.0), (7 * 3600.0, 4000.0)):
        p = by_t[t]
        assert p["limited_stations"] == len(chosen), p
        assert p["limit_w"] == limit * len(chosen), p
    assert any(p["power_w"] > 0 for p in series)  # sessions charge at 7 kW
    assert max(p["power_w"] for p in series) <= 7000.0 * count
    for p in series:
        assert p["power_w"] >= (p["limited_power_w"] or 0.0)
        if p["limited_stations"]:  # the limit is physical: the limited stations never draw more
            assert p["limited_power_w"] <= p["limit_w"], p
        if p["limited_stations"] == 0:
            assert p["limit_w"] is None and p["limited_power_w"] is None, p
    # the stagger spreads the 06:00 step over 10 minutes: some buckets in between hold a mix
    mixed = [p["limit_w"] for t, p in by_t.items() if 6 * 3600 <= t < 6 * 3600 + 600]
    assert any(4000.0 * len(chosen) < v < 11000.0 * len(chosen) for v in mixed), mixed

    page = plot_html(result)
    assert "sum of the limits" in page and "power, all stations" in page and 'stroke-dasharray="6 4"' in page
    assert "counts as unlimited" in page


@pytest.mark.timeout(120)
def test_without_the_smart_charging_profile_the_answers_are_not_supported_and_nothing_is_limited():
    count, seed = 6, 3
    doc = {**DOC, "station": {"profiles": ["Core", "LocalAuthListManagement", "Reservation", "RemoteTrigger"]}}
    result = _run(count, seed, 1800.0, doc)
    chosen = _chosen(count, seed)
    assert chosen, "seed 3 chooses some of 6 stations"
    assert result["received"].get("SetChargingProfile", 0) == len(chosen)
    assert result["csms_call_answers"] == {"SetChargingProfile": {"NotSupported": len(chosen)}}
    assert all(p["limited_stations"] == 0 and p["limit_w"] is None for p in result["time_series"])
    assert result["errors"] == 0, result["_err"]


def test_the_profile_is_a_daily_step_list_shifted_by_the_seeded_stagger():
    p = Pushes(7, smart_charging_fraction=1.0, smart_charging_purpose="ChargePointMaxProfile",
               smart_charging_unit="A", smart_charging_periods=[(0, 32.0), (25200, 16.0)], smart_charging_stagger=900)
    req = p.charging_profile("X1")
    prof = req["csChargingProfiles"]
    assert req["connectorId"] == 0
    assert (prof["chargingProfilePurpose"], prof["chargingProfileKind"], prof["recurrencyKind"]) == \
        ("ChargePointMaxProfile", "Recurring", "Daily")
    sched = prof["chargingSchedule"]
    assert sched["chargingRateUnit"] == "A" and sched["duration"] == 86400
    assert sched["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 32.0}, {"startPeriod": 25200, "limit": 16.0}]
    shifts = {p.stagger_s(f"X{i}") for i in range(200)}
    assert min(shifts) >= 0 and max(shifts) <= 900 and len(shifts) > 100  # spread over the stagger
    off = p.stagger_s("X1")
    assert sched["startSchedule"] == f"2025-01-01T00:{off // 60:02d}:{off % 60:02d}.000Z"
    assert Pushes(7, smart_charging_stagger=900).stagger_s("X1") == off  # the same seed, the same shift


def test_the_profile_passes_the_schema():
    from ocpp_station.ocpp import validation

    p = Pushes(1, smart_charging_fraction=1.0, smart_charging_periods=[(0, 11000.0), (3600, 3700.0)])
    validation.validate_request("SetChargingProfile", p.charging_profile("CP1"), sent=True)


@pytest.mark.parametrize("key, value, message", [
    ("smart_charging_fraction", 2, "csms.smart_charging_fraction: expected 0..1"),
    ("smart_charging_purpose", "TxProfile", "csms.smart_charging_purpose: expected one of ChargePointMaxProfile"),
    ("smart_charging_unit", "kW", 'csms.smart_charging_unit: expected "W" or "A"'),
    ("smart_charging_stagger", 90000, "csms.smart_charging_stagger: expected 0..86400"),
    ("smart_charging_periods", [], "csms.smart_charging_periods: expected a non-empty list"),
    ("smart_charging_periods", [{"start": "01:00", "limit": 1}], r'smart_charging_periods\[1\].start: the first period'),
    ("smart_charging_periods", [{"start": "00:00", "limit": 1}, {"start": "00:00", "limit": 2}],
     r"smart_charging_periods\[2\].start: expected a time after"),
    ("smart_charging_periods", [{"start": "25:00", "limit": 1}], r"smart_charging_periods\[1\].start: expected a time"),
    ("smart_charging_periods", [{"start": "00:00", "limit": -1}], r"smart_charging_periods\[1\].limit: expected a number"),
    ("smart_charging_periods", [{"start": "00:00", "limt": 1}], r"smart_charging_periods\[1\].limt: unknown key"),
    ("smart_charging_fractoin", 0.5, r"unknown key \(did you mean smart_charging_fraction\?\)"),
])
def test_smart_charging_keys_are_checked(key, value, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"csms": {key: value}})


def test_periods_read_times_of_day_and_seconds():
    sc = parse_scenario({"csms": {"smart_charging_periods": [{"start": "00:00", "limit": 5}, {"start": "07:30:15",
                                                             "limit": 6.5}, {"start": 72000, "limit": 7}]}})
    assert sc.csms_smart_charging_periods == [(0, 5.0), (27015, 6.5), (72000, 7.0)]


@pytest.mark.timeout(120)
def test_virtual_grain_lands_every_jump_on_its_multiples_and_keeps_the_trace_seeded(tmp_path):
    """[fleet] virtual_grain: the clock jumps to multiples of it, so the timers due within one fire together (every
    CALL goes out at such a multiple); the same seed still gives the same trace."""
    doc = {**DOC, "fleet": {**DOC["fleet"], "virtual_grain": 10.0}}
    traces = []
    for run in range(2):
        path = tmp_path / f"trace{run}.txt"
        err = io.StringIO()
        result = run_fleet(FleetOptions(csms_url="builtin", count=5, scenario=parse_scenario(doc), seed=9,
                                        duration=3 * 3600.0, virtual_time=True, trace_path=path, progress=False,
                                        err=err))
        assert result["errors"] == 0 and result["answered"].get("StartTransaction", 0) > 0, err.getvalue()
        traces.append(path.read_text().splitlines())
    assert traces[0] == traces[1]
    times = {float(line.split()[0]) for line in traces[0]}
    assert len(times) > 10 and all(t % 10 == 0 for t in times), sorted(times)[:20]
    with pytest.raises(ScenarioError, match="fleet.virtual_grain: expected 0..60 s"):
        parse_scenario({"fleet": {"virtual_grain": 61}})


def test_the_smart_charging_example_loads():
    from pathlib import Path

    from ocpp_station.fleet.scenario import load_scenario

    sc = load_scenario(Path(__file__).parents[2] / "examples" / "fleet-smart-charging.toml")
    assert (sc.csms_smart_charging_fraction, sc.csms_smart_charging_purpose, sc.csms_smart_charging_stagger) == \
        (0.8, "TxDefaultProfile", 900.0)
    assert sc.csms_smart_charging_periods == [(0, 22000.0), (25200, 11000.0), (61200, 3700.0), (75600, 22000.0)]
    assert (sc.virtual_grain, sc.station["meter_save_interval"]) == (10.0, 900)


@pytest.mark.timeout(120)
def test_in_real_time_each_second_samples_the_power_and_the_limits(monkeypatch):
    """Real time: the per-second snapshots carry the power and the limits (the wall-clock series)."""
    doc = {"fleet": {"identity_pattern": "RT{n:02d}", "ramp_rate": 20.0},
           "ocpp": {"WebSocketPingInterval": 0},
           "driver": {"arrival": {"distribution": "fixed", "value": 0.5}, "ev_power_w": 6000,
                      "session_duration": 60, "plug_to_card": 0.2},
           "csms": {"smart_charging_fraction": 1.0, "smart_charging_periods": [{"start": "00:00", "limit": 5000}]}}
    err = io.StringIO()
    result = run_fleet(FleetOptions(csms_url="builtin", count=3, scenario=parse_scenario(doc), seed=2, duration=5.0,
                                    progress=False, err=err))
    assert result["csms_call_answers"] == {"SetChargingProfile": {"Accepted": 3}}, err.getvalue()
    assert result["time_base"] == "wall"
    full = [p for p in result["time_series"] if p["limited_stations"] == 3]
    assert full and all(p["limit_w"] == 15000.0 for p in full), result["time_series"]
    # the EVs would take 6 kW each; the 5 kW limit caps them
    assert any(p["power_w"] == 15000.0 and p["limited_power_w"] == 15000.0 for p in full), result["time_series"]
    assert all(p["power_w"] <= 15000.0 for p in result["time_series"]), result["time_series"]


@pytest.mark.timeout(120)
def test_stations_of_a_core_only_template_answer_not_supported_and_count_as_unlimited():
    """[[template]] profiles = ["Core"]: those stations have no SmartCharging feature; the CSMS's profile gets
    NotSupported from them and they add power but no limit."""
    doc = {**DOC, "template": [{"name": "smart", "weight": 1.0},
                               {"name": "core", "weight": 1.0, "profiles": ["Core"]}],
           "csms": {**DOC["csms"], "smart_charging_fraction": 1.0}}
    sc = parse_scenario(doc)
    err = io.StringIO()
    result = run_fleet(FleetOptions(csms_url="builtin", count=10, scenario=sc, seed=4, duration=2 * 3600.0,
                                    virtual_time=True, progress=False, err=err))
    assert result["errors"] == 0, err.getvalue()
    from ocpp_station.fleet.scenario import Driver

    driver = Driver(sc, 4)
    core = {sc.identity(n) for n in range(1, 11) if driver.template(n).name == "core"}
    assert 0 < len(core) < 10
    assert result["csms_call_answers"] == {"SetChargingProfile": {"Accepted": 10 - len(core),
                                                                  "NotSupported": len(core)}}
    late = [p for p in result["time_series"] if p["t"] >= 1800]
    assert late and all(p["limited_stations"] == 10 - len(core) for p in late)
    assert all(p["limit_w"] == 11000.0 * (10 - len(core)) for p in late if p["t"] < 6 * 3600)


@pytest.mark.parametrize("profiles, message", [
    (["Reservation"], 'expected a list of profile names with "Core"'),
    (["Core", "Firmware"], "'Firmware': unknown"),
])
def test_template_profiles_are_checked(profiles, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"template": [{"name": "x", "profiles": profiles}]})

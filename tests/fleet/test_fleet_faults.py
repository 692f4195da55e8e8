"""Injected faults in virtual time: power cuts (with and without backup power), network drops, and a
builtin CSMS that answers some CALLs with CALLERROR or not at all. The station's transaction-message
rules ([SPEC] §3.7.1: TransactionMessageAttempts, TransactionMessageRetryInterval; §4.10: PowerLoss)
still deliver every transaction."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from ocpp_station.fleet import FleetOptions, parse_scenario, run_fleet

DOC = {
    "fleet": {"identity_pattern": "PF{n:03d}", "ramp_rate": 50.0},
    "ocpp": {"MeterValueSampleInterval": 60, "WebSocketPingInterval": 0, "TransactionMessageRetryInterval": 10},
    "template": [{"name": "one", "connectors": 1}, {"name": "two", "connectors": 2, "model": "fleet-sim-2"}],
    "driver": {"sessions_per_hour": 6.0, "session_duration": {"distribution": "uniform", "min": 300, "max": 900}},
    "faults": {"network_drop_probability": 0.3, "network_outage": {"min": 30, "max": 120},
               "power_cut_rate": 1.0, "backup_power": 0.5},
    "csms": {"boot_interval": 120, "error_rate": 0.05, "silence_rate": 0.05},
}


@pytest.mark.timeout(120)
def test_every_transaction_is_reported_despite_power_cuts_and_csms_errors(tmp_path):
    trace = tmp_path / "trace.txt"
    err = io.StringIO()
    result = run_fleet(
        FleetOptions(csms_url="builtin", count=20, scenario=parse_scenario(DOC), seed=21, duration=4 * 3600.0,
                     drain_timeout=900.0, virtual_time=True, trace_path=trace, progress=False, err=err)
    )
    out = err.getvalue()
    assert result["accepted"] == 20, out
    assert result["errors"] == 0 and result["exceptions"] == 0, out  # injected faults are not errors
    assert result["wall_s"] < 60  # silenced CALLs cost no real time: virtual time does not wait for them
    faults = result["csms_faults"]
    assert faults["errors"] > 20 and faults["silences"] > 20, faults
    assert result["power_cuts"] > 20 and result["network_drops"] > 5
    assert (f"  injected faults: network drops {result['network_drops']}, power cuts {result['power_cuts']}, "
            f"CSMS CALLERROR {faults['errors']}, CSMS silence {faults['silences']} "
            "(expected: not counted as errors)") in out.splitlines()
    assert sorted(result["templates"]) == ["one", "two"] and sum(result["templates"].values()) == 20
    # every started transaction was stopped, and the stop reported (answered by the CSMS)
    starts = 0
    for ident, s in result["per_station"].items():
        assert s["answered"].get("StartTransaction", 0) == s["answered"].get("StopTransaction", 0), (ident, s)
        assert s["queued"] == 0 and s["open_transactions"] == 0, (ident, s)
        starts += s["answered"].get("StartTransaction", 0)
    assert starts > 50
    lines = trace.read_text().splitlines()
    calls = [ln.split(" ", 4) for ln in lines]
    # transaction messages the CSMS failed went again with their message id
    sent = Counter((c[1], c[2]) for c in calls if c[3] in ("StartTransaction", "MeterValues", "StopTransaction"))
    assert sum(1 for n in sent.values() if n > 1) > 10
    assert max(sent.values()) <= 3  # a message id is faulted once: one retry at most, plus one resend after a drop
    stops = [json.loads(c[4]) for c in calls if c[3] == "StopTransaction"]
    reasons = Counter(p.get("reason") for p in stops)
    assert reasons["PowerLoss"] > 5, reasons  # with and without backup power
    # the stations' models follow their templates
    models = {c[1]: json.loads(c[4])["chargePointModel"] for c in calls if c[3] == "BootNotification"}
    assert set(models.values()) == {"fleet-sim", "fleet-sim-2"}
    assert all(result["per_station"][i]["boots"] >= 1 for i in models)


@pytest.mark.timeout(60)
def test_csms_keys_against_another_csms_are_not_applied_and_say_so():
    from ocpp_station.fleet.runner import BuiltinCsms

    csms = BuiltinCsms(boot_interval=10)  # the plain development CSMS: no faults of its own
    url = csms.start()
    try:
        err = io.StringIO()
        doc = {"driver": {"sessions_per_hour": 0}, "csms": {"error_rate": 0.5, "silence_rate": 0.2}}
        result = run_fleet(FleetOptions(csms_url=url, count=2, scenario=parse_scenario(doc), duration=1.0,
                                        drain_timeout=2.0, progress=False, err=err))
    finally:
        csms.stop()
    assert err.getvalue().splitlines()[0] == (
        "fleet: warning: the scenario's [csms] keys (error_rate, silence_rate) apply to --csms builtin only: "
        f"ignored for {url}, which answers as it does (no injected CSMS errors or silence)")
    assert result["accepted"] == 2 and result["csms_faults"] == {"errors": 0, "silences": 0}


@pytest.mark.timeout(120)
def test_a_power_cut_loses_at_most_meter_save_interval_of_each_open_transaction(monkeypatch):
    """The fleet saves the registers on its own scheduler (Metering.save_registers), not as station timers:
    at every power cut each open transaction's stored record holds the register value and its time at most
    meter_save_interval seconds old (the bound of docs/persistence.md; [SPEC] §4.10: the StopTransaction
    (PowerLoss) of the next boot carries them), and the stored value is the meter's register at that time."""
    from ocpp_station.fleet import sim

    doc = {**DOC, "faults": {"power_cut_rate": 2.0}, "csms": {"boot_interval": 120},
           "station": {"meter_save_interval": 5}, "ocpp": {**DOC["ocpp"], "MeterValueSampleInterval": 900}}
    checked: list[float] = []
    cut = sim.FleetStation._cut

    def checking_cut(fs: sim.FleetStation) -> None:
        wall = fs.station.clock.wall(fs.worker.clock())
        for rec in fs.store.items("transactions").values():
            if rec["last_meter_at"] is not None:
                age = wall - rec["last_meter_at"]
                assert 0 <= age <= 5.0 + 1e-6, rec
                assert rec["last_meter"] >= rec["meter_start"]
                checked.append(age)
        cut(fs)

    monkeypatch.setattr(sim.FleetStation, "_cut", checking_cut)
    err = io.StringIO()
    result = run_fleet(FleetOptions(csms_url="builtin", count=10, scenario=parse_scenario(doc), seed=5,
                                    duration=2 * 3600.0, drain_timeout=900.0, virtual_time=True, progress=False,
                                    err=err))
    assert result["errors"] == 0 and result["exceptions"] == 0, err.getvalue()
    assert result["power_cuts"] > 10 and len(checked) > 5, (result["power_cuts"], checked)
    assert max(checked) > 2.5  # the cuts fall anywhere between two saves

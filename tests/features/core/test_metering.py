"""Meter values at core level: sampled and clock-aligned MeterValues, StopTransaction.transactionData
([SPEC] §3.16, §4.7; [ERRATA] 3.9, 3.13-3.16, 3.91, 4.25; spec §2.3 MeterValues/StopTransaction, §2.4).
OCTT cases TC_070, TC_071."""

from datetime import datetime, timezone

import pytest
from charging import booted, card, configure, run, start_charging, stop_confs

from harness import T0, CoreHarness

from ocpp_station.core.settings import StationSettings



def _t(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _energy(mv_entry: dict) -> int:
    [e] = [v for v in mv_entry["sampledValue"] if v.get("measurand", "Energy.Active.Import.Register")
           == "Energy.Active.Import.Register"]
    return int(e["value"])


def test_tc_070_cs_sampled_meter_values():
    """TC_070_CS Sampled Meter Values: MeterValueSampleInterval=<cfg>, ClockAlignedDataInterval=0; MeterValues
    every interval from the transaction start, timestamps spaced by the interval, context Sample.Periodic, one
    sampledValue per MeterValuesSampledData measurand, format Raw, location not EV (except SoC), transactionId
    set ([SPEC] §4.7; [ERRATA] 3.15, 3.16)."""
    h = booted()
    configure(h, MeterValueSampleInterval=15, ClockAlignedDataInterval=0,
              MeterValuesSampledData="Energy.Active.Import.Register,Power.Active.Import")
    measurands = h.csms_conf("GetConfiguration", {"key": ["MeterValuesSampledData"]})["configurationKey"][0]["value"]
    items = measurands.split(",")
    got = start_charging(h, tx_id=70)
    t_start = got["StartTransaction"].at
    mvs = run(h, 45)
    h.no_call()
    assert [c.action for c in mvs] == ["MeterValues"] * 3
    assert [c.at - t_start for c in mvs] == [15, 30, 45]
    prev = 1000
    for i, c in enumerate(mvs):
        assert c.payload["connectorId"] == 1 and c.payload["transactionId"] == 70
        [entry] = c.payload["meterValue"]
        assert _t(entry["timestamp"]) == T0 + 15 * (i + 1)
        assert [v["measurand"] for v in entry["sampledValue"]] == items
        for v in entry["sampledValue"]:
            assert v.get("context", "Sample.Periodic") == "Sample.Periodic"
            assert v.get("format", "Raw") == "Raw"
            assert v.get("location") != "EV"
        assert entry["sampledValue"][0]["unit"] == "Wh"
        assert _energy(entry) > prev  # the register, not rebased to 0 ([ERRATA] 3.9)
        prev = _energy(entry)


def test_empty_meter_values_sampled_data_sends_energy_register():
    """TC_070_CS family: MeterValueSampleInterval > 0 with an empty MeterValuesSampledData still sends MeterValues,
    with the default measurand Energy.Active.Import.Register ([ERRATA] 3.15; spec §2.3 MeterValues defaults)."""
    h = booted()
    configure(h, MeterValueSampleInterval=15, MeterValuesSampledData="")
    start_charging(h, tx_id=72)
    mvs = run(h, 45)
    assert len(mvs) == 3
    for c in mvs:
        [entry] = c.payload["meterValue"]
        [sv] = entry["sampledValue"]
        assert sv.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"
        assert sv.get("context", "Sample.Periodic") == "Sample.Periodic"


def test_tc_071_cs_clock_aligned_meter_values():
    """TC_071_CS Clock-aligned Meter Values: MeterValueSampleInterval=0, ClockAlignedDataInterval=20; MeterValues at
    wall-clock aligned instants (:20, :40, :00), context Sample.Clock, one value per MeterValuesAlignedData
    measurand, transactionId of the running transaction ([SPEC] §4.7; [ERRATA] 3.76)."""
    h = booted()
    h.advance(7)
    configure(h, MeterValueSampleInterval=0, MeterValuesAlignedData="Energy.Active.Import.Register,Voltage")
    start_charging(h, tx_id=71)
    configure(h, ClockAlignedDataInterval=20)
    mvs = run(h, 60)
    h.no_call()
    assert [c.action for c in mvs] == ["MeterValues"] * 3
    assert [c.at - T0 for c in mvs] == [20, 40, 60]
    for i, c in enumerate(mvs):
        assert c.payload["transactionId"] == 71
        [entry] = c.payload["meterValue"]
        assert _t(entry["timestamp"]) == T0 + 20 * (i + 1)
        assert [v["measurand"] for v in entry["sampledValue"]] == ["Energy.Active.Import.Register", "Voltage"]
        assert all(v["context"] == "Sample.Clock" for v in entry["sampledValue"])


def test_stop_txn_sampled_data_begin_periodic_end():
    """StopTxnSampledData: StopTransaction.transactionData holds the Transaction.Begin value, one Sample.Periodic
    value per sample and the Transaction.End value, in order; Begin = meterStart, End = meterStop ([ERRATA] 3.14,
    4.25; spec §2.3 StopTransaction)."""
    h = booted()
    configure(h, MeterValueSampleInterval=10, StopTxnSampledData="Energy.Active.Import.Register")
    got = start_charging(h, tx_id=80)
    run(h, 35)
    card(h, "TAG1")
    stop = stop_confs(h, 1, "Local")
    data = stop.payload["transactionData"]
    ctx = [e["sampledValue"][0]["context"] for e in data]
    assert ctx == ["Transaction.Begin", "Sample.Periodic", "Sample.Periodic", "Sample.Periodic", "Transaction.End"]
    assert [_t(e["timestamp"]) - T0 for e in data] == [0, 10, 20, 30, 35]
    assert _energy(data[0]) == got["StartTransaction"].payload["meterStart"]
    assert _energy(data[-1]) == stop.payload["meterStop"]
    energies = [_energy(e) for e in data]
    assert energies == sorted(energies)


def test_stop_txn_sampled_data_empty_means_no_transaction_data():
    """Empty StopTxnSampledData / StopTxnAlignedData: no transactionData ([ERRATA] 3.13)."""
    h = booted()
    configure(h, MeterValueSampleInterval=10, StopTxnSampledData="", StopTxnAlignedData="")
    start_charging(h)
    run(h, 30)
    card(h, "TAG1")
    stop = stop_confs(h, 1, "Local")
    assert "transactionData" not in stop.payload


def test_stop_transaction_max_meter_values_cap_keeps_begin_and_end():
    """StopTransactionMaxMeterValues caps transactionData; intermediate values are dropped, Transaction.Begin and
    Transaction.End are kept ([ERRATA] 3.91)."""
    h = booted(StopTransactionMaxMeterValues=5)
    configure(h, MeterValueSampleInterval=10, StopTxnSampledData="Energy.Active.Import.Register")
    start_charging(h)
    run(h, 200)
    card(h, "TAG1")
    stop = stop_confs(h, 1, "Local")
    data = stop.payload["transactionData"]
    assert 2 <= len(data) <= 5
    assert data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert data[-1]["sampledValue"][0]["context"] == "Transaction.End"
    assert all(e["sampledValue"][0]["context"] == "Sample.Periodic" for e in data[1:-1])
    stamps = [_t(e["timestamp"]) for e in data]
    assert stamps == sorted(stamps) and stamps[0] == T0 and stamps[-1] == T0 + 200


def test_unsupported_measurand_rejects_the_whole_list():
    """A *Data list with an unsupported measurand is Rejected as a whole; the old value stays ([SPEC] §3.16.4;
    [ERRATA] 3.13)."""
    h = booted()
    for key in ("MeterValuesSampledData", "MeterValuesAlignedData", "StopTxnSampledData", "StopTxnAlignedData"):
        old = h.station.config.text(key)
        ans = h.csms_conf("ChangeConfiguration", {"key": key, "value": "Energy.Active.Import.Register,Temperature"})
        assert ans == {"status": "Rejected"}, key
        assert h.station.config.text(key) == old
    assert h.csms_conf("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": "Voltage.L9"}) == {
        "status": "Rejected"
    }


def test_24_hour_session_sampled_every_10_s():
    """A 24 h session with MeterValueSampleInterval=10: exactly 8640 MeterValues, timestamps exactly 10 s apart,
    energy register monotonic in every one ([ERRATA] 3.9, 3.15), by stepping `now` (its speed is a benchmark:
    benchmarks/core_day.py)."""
    h = booted()
    configure(h, MeterValueSampleInterval=10)
    got = start_charging(h, tx_id=24)
    t_start = _t(got["StartTransaction"].payload["timestamp"])
    done = run(h, 86400, answer=("MeterValues", "Heartbeat"))  # the daily Heartbeat comes too ([OCPPJ] §5.3)
    h.no_call()
    assert [c.action for c in done].count("Heartbeat") == 1
    mvs = [c for c in done if c.action == "MeterValues"]
    assert len(mvs) == 8640
    assert all(c.action == "MeterValues" and c.payload["transactionId"] == 24 for c in mvs)
    stamps = [_t(c.payload["meterValue"][0]["timestamp"]) for c in mvs]
    assert stamps[0] == t_start + 10
    assert all(b - a == 10 for a, b in zip(stamps, stamps[1:]))
    energies = [_energy(c.payload["meterValue"][0]) for c in mvs]
    assert energies[0] >= got["StartTransaction"].payload["meterStart"]
    assert all(b >= a for a, b in zip(energies, energies[1:]))
    assert energies[-1] > energies[0]


def test_clock_aligned_interval_set_after_an_idle_spell_starts_at_the_next_aligned_instant():
    """ClockAlignedDataInterval set after a long spell with nothing sent: the first MeterValues falls on the next
    aligned instant after the change, never one stamped with a long-past instant ([SPEC] §4.7; spec §2.4; TC_071)."""
    h = booted()
    configure(h, MeterValueSampleInterval=0)
    start_charging(h, tx_id=9)
    h.advance(507)  # nothing sent for 507 s
    h.no_call()
    configure(h, ClockAlignedDataInterval=20)
    mvs = run(h, 40)
    h.no_call()
    assert [c.at - T0 for c in mvs] == [520, 540]
    assert [_t(c.payload["meterValue"][0]["timestamp"]) - T0 for c in mvs] == [520, 540]
    assert all(c.payload["transactionId"] == 9 for c in mvs)


def test_clock_aligned_values_only_for_connectors_with_a_transaction():
    """Clock-aligned MeterValues are standalone messages "during a transaction" (the metering chapter of
    [ERRATA] 3.13, §3.14): an idle connector sends none (no unsolicited request in the CSMS's sequences,
    spec §2.10); with two connectors only the charging one reports, and it stops when its transaction ends."""
    h = booted(StationSettings(connectors=2))
    configure(h, MeterValueSampleInterval=0, ClockAlignedDataInterval=20)
    assert run(h, 100) == []
    h.no_call()
    start_charging(h, cid=2, tx_id=12)
    mvs = run(h, 45)
    assert [(c.at - T0, c.payload["connectorId"], c.payload["transactionId"]) for c in mvs] == [
        (120, 2, 12), (140, 2, 12),
    ]
    card(h, "TAG1", 2)
    stop_confs(h, 2, "Local")
    assert run(h, 100) == []
    h.no_call()


def test_sample_interval_change_during_a_transaction_is_effective_now():
    """ChangeConfiguration(MeterValueSampleInterval) Accepted = applied now (spec §2.3): 0 -> 10 during a
    transaction starts sampling every 10 s from the change; -> 0 stops it at once ([ERRATA] 3.13, 3.15)."""
    h = booted()
    configure(h, MeterValueSampleInterval=0)
    start_charging(h)
    assert run(h, 5) == []
    configure(h, MeterValueSampleInterval=10)
    mvs = run(h, 30)
    assert [c.at - T0 for c in mvs] == [15, 25, 35]
    configure(h, MeterValueSampleInterval=10)  # the same value again: the rhythm is kept
    mvs = run(h, 10)
    assert [c.at - T0 for c in mvs] == [45]
    h.advance(3)
    configure(h, MeterValueSampleInterval=0)
    assert run(h, 60) == []
    h.no_call()


def test_power_cut_stops_with_the_register_saved_every_meter_save_interval_not_the_last_sample():
    """A power cut between two MeterValues samples (here 900 s apart): the StopTransaction(PowerLoss) sent after
    the boot carries the register value and time of the last register save, at most meter_save_interval seconds
    old, not the last sampled value ([SPEC] §4.10, [ERRATA] 3.14/4.25; docs/persistence.md)."""
    from harness import CoreHarness

    from ocpp_station.core.clock import iso
    from ocpp_station.store import MemoryStore

    store = MemoryStore()
    settings = StationSettings(meter_save_interval=5.0)
    h = booted(settings, store=store, MeterValueSampleInterval=900, ClockAlignedDataInterval=0)
    got = start_charging(h, tx_id=32)
    t_start, meter_start = got["StartTransaction"].at, got["StartTransaction"].payload["meterStart"]
    h.advance(63)  # 11 kW for 63 s; the last save was at +60 s
    h.no_call()
    true_wh = h.hardware.connectors[1].energy_wh
    # the power goes: a new station boots on the same store
    h2 = CoreHarness(StationSettings(meter_save_interval=5.0), store=store, now=h.now + 30)
    h2.start()
    h2.respond("BootNotification", h2.boot_conf())
    calls = [h2.respond(h2.calls[0].action, {}) for _ in range(3)]
    [stop] = [c for c in calls if c.action == "StopTransaction"]
    assert stop.payload["reason"] == "PowerLoss" and stop.payload["transactionId"] == 32
    assert stop.payload["meterStop"] == meter_start + int(11000 * 60 / 3600) == 1183
    assert stop.payload["timestamp"] == iso(t_start + 60)
    assert true_wh - stop.payload["meterStop"] <= 11000 * 5 / 3600 + 1  # the documented bound
    assert stop.payload["transactionData"][-1]["timestamp"] == iso(t_start + 60)


@pytest.mark.parametrize("shift, stamp", [(+300, T0 + 900), (-300, T0)])
def test_clock_change_from_heartbeat_re_arms_the_clock_aligned_timer(shift, stamp):
    """ClockAlignedDataInterval is aligned to the wall clock ([SPEC] §4.7, [ERRATA] 3.13): when a Heartbeat.conf
    moves the clock by 5 minutes, the next values fall on the next aligned instant of the new clock and carry it
    as their timestamp, not on the instant computed from the old clock."""
    h = booted()
    configure(h, MeterValueSampleInterval=0, ClockAlignedDataInterval=900)
    start_charging(h, tx_id=5)
    h.advance(60)
    configure(h, HeartbeatInterval=1)
    h.advance(1)
    hb = h.take("Heartbeat")
    configure(h, HeartbeatInterval=3600)
    wall = h.station.clock.wall(h.now) + shift  # the CSMS's clock is 5 min off ours
    h.reply(hb, {"currentTime": datetime.fromtimestamp(wall, tz=timezone.utc).isoformat()})
    h.no_call()
    mv = h.advance_to_next_call()
    assert mv.action == "MeterValues"
    assert _t(mv.payload["meterValue"][0]["timestamp"]) == stamp
    assert h.station.clock.wall(mv.at) == stamp  # sent at the aligned instant of the new clock


def test_clock_aligned_values_follow_the_clock_set_by_boot_notification():
    """BootNotification.conf Accepted sets the clock and re-arms the clock-aligned timer from it."""
    h = CoreHarness(MeterValueSampleInterval=0, ClockAlignedDataInterval=900, HeartbeatInterval=3600)
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 3600, "currentTime": "2030-05-01T12:07:00Z"})
    h.answer_all("StatusNotification")
    start_charging(h, tx_id=5)
    mv = h.advance_to_next_call()
    assert mv.payload["meterValue"][0]["timestamp"] == "2030-05-01T12:15:00.000Z"
    assert h.station.timestamp(mv.at) == "2030-05-01T12:15:00.000Z"


@pytest.mark.parametrize("key", ["MeterValuesSampledData", "MeterValuesAlignedData"])
def test_soc_only_with_the_ev_unplugged_still_sends_meter_values(key):
    """[ERRATA] 3.15: with an interval > 0 MeterValues SHALL be sent. SoC is the only measurand configured and the
    EV is unplugged (the transaction goes on, StopTransactionOnEVSideDisconnect=false): the EV reports no SoC,
    so the message carries the default measurand, the energy register ([SPEC] §7.31), instead of being skipped.
    While the EV is plugged in, the SoC alone is sent."""
    h = booted(StationSettings(fixed_cable=False, connector_lock=True))
    aligned = key == "MeterValuesAlignedData"
    configure(h, MinimumStatusDuration=0, StopTransactionOnEVSideDisconnect=False, **{key: "SoC"},
              MeterValueSampleInterval=0 if aligned else 60, ClockAlignedDataInterval=60 if aligned else 0)
    start_charging(h, tx_id=3)
    mvs = run(h, 60)
    assert [[v["measurand"] for v in c.payload["meterValue"][0]["sampledValue"]] for c in mvs] == [["SoC"]]
    h.advance(1)
    h.feed(h.hardware.plug_out(1, "ev", h.now))
    assert h.respond("StatusNotification", {}).payload["status"] == "SuspendedEV"
    mvs = run(h, 120)
    assert len(mvs) == 2
    for c in mvs:
        assert c.payload["transactionId"] == 3
        (sv,) = c.payload["meterValue"][0]["sampledValue"]
        assert (sv["measurand"], sv["unit"], sv["context"]) == (
            "Energy.Active.Import.Register", "Wh", "Sample.Clock" if aligned else "Sample.Periodic")
    h.no_call()


def test_phase_values_of_the_simulated_meter():
    """Voltage per phase: 230 V phase to neutral, 230·√3 ≈ 398.4 V phase to phase; Current.Import on N of a
    balanced three-phase load is 0 A, on L1 the phase current ([SPEC] §7.31 phase)."""
    h = booted()
    items = "Voltage.L1-N,Voltage.L1-L2,Voltage.L3-L1,Current.Import.L1,Current.Import.N"
    configure(h, MeterValueSampleInterval=60, MeterValuesSampledData=items)
    start_charging(h, tx_id=2)
    (mv,) = run(h, 60)
    values = {(v["measurand"], v["phase"]): (v["value"], v["unit"]) for v in mv.payload["meterValue"][0]["sampledValue"]}
    amps = f"{h.station.hardware.read(1, h.now).current_a:.2f}"
    assert amps != "0.00"
    assert values == {
        ("Voltage", "L1-N"): ("230.0", "V"),
        ("Voltage", "L1-L2"): ("398.4", "V"),
        ("Voltage", "L3-L1"): ("398.4", "V"),
        ("Current.Import", "L1"): (amps, "A"),
        ("Current.Import", "N"): ("0.00", "A"),
    }

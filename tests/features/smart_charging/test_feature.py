"""Smart Charging at core level, stepping `now` ([SPEC] §3.13, §5.5, §5.7, §5.16; spec digest §6): every bad-input
rule (Rejected or CALLERROR, nothing stored changes), replacement, purge, TxProfiles ending with their transaction,
[ERRATA] 3.8, and the power following the limit at a period boundary."""

from __future__ import annotations

import copy

import pytest
from charging import ACCEPTED, booted, card, expect_status, plug, start_confs
from harness import CoreHarness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_station.core.clock import iso
from ocpp_station.core.settings import StationSettings
from ocpp_station.features.smart_charging.feature import NS
from ocpp_station.store import MemoryStore

V = 230.0
KW = {"MeterValueSampleInterval": 0}  # no sampled MeterValues between the CALLs these tests expect


def schedule(*periods, unit="A", **kw):
    s = {"chargingRateUnit": unit, "chargingSchedulePeriod": [
        {"startPeriod": p[0], "limit": float(p[1]), **({"numberPhases": p[2]} if len(p) > 2 else {})} for p in periods]}
    s.update(kw)
    return s


def profile(pid=1, purpose="TxDefaultProfile", stack=0, kind="Relative", sched=None, **kw):
    p = {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sched or schedule((0, 16))}
    p.update(kw)
    return p


def set_profile(h, cid, p):
    return h.csms_call("SetChargingProfile", {"connectorId": cid, "csChargingProfiles": p})


def status_of(h, cid, p):
    ans = set_profile(h, cid, p)
    assert ans[0] == 3, ans
    return ans[2]["status"]


def composite(h, cid=1, duration=300, unit="A"):
    conf = h.csms_conf("GetCompositeSchedule", {"connectorId": cid, "duration": duration, "chargingRateUnit": unit})
    assert conf["status"] == "Accepted" and conf["connectorId"] == cid
    assert conf["scheduleStart"] == iso(int(h.station.clock.wall(h.now))) and "startSchedule" not in conf["chargingSchedule"]
    return [(q["startPeriod"], q["limit"]) for q in conf["chargingSchedule"]["chargingSchedulePeriod"]]


def charging(h, tx_id=7, tag="AAA"):
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, tag)
    h.respond("Authorize", ACCEPTED)
    start_confs(h, 1, tx_id)


def power(h, cid=1):
    return h.hardware.read(cid, h.now).power_w


def stored(h):
    return copy.deepcopy(h.store.items(NS))


# -- bad input: Rejected, nothing stored changes ----------------------------------------------------------------


def _many_periods(p):
    p["chargingSchedule"]["chargingSchedulePeriod"] = [{"startPeriod": 60 * i, "limit": 10.0} for i in range(49)]


REJECTED = {
    # [SPEC] §9.4.8 ChargingScheduleMaxPeriods (48)
    "more_periods_than_allowed": (1, _many_periods),
    # [SPEC] §9.4.1 ChargeProfileMaxStackLevel (10)
    "stack_level_above_max": (1, lambda p: p.update(stackLevel=11)),
    "negative_stack_level": (1, lambda p: p.update(stackLevel=-1)),
    # [SPEC] §5.16.4, TC_058_1: no transaction on the connector
    "tx_profile_without_transaction": (1, lambda p: p.update(chargingProfilePurpose="TxProfile")),
    "tx_profile_on_connector_0": (0, lambda p: p.update(chargingProfilePurpose="TxProfile")),
    # [SPEC] §7.14: periods strictly increasing
    "periods_out_of_order": (1, lambda p: p.update(chargingSchedule=schedule((0, 6), (120, 8), (60, 10)))),
    "periods_overlapping": (1, lambda p: p.update(chargingSchedule=schedule((0, 6), (60, 8), (60, 10)))),
    # [ERRATA] 3.45/3.70, 4.13/4.17: the first startPeriod is 0
    "first_start_period_not_0": (1, lambda p: p.update(chargingSchedule=schedule((10, 6)))),
    "negative_limit": (1, lambda p: p.update(chargingSchedule=schedule((0, -6)))),
    "number_phases_4": (1, lambda p: p.update(chargingSchedule=schedule((0, 6, 4)))),
    "negative_min_charging_rate": (1, lambda p: p.update(chargingSchedule=schedule((0, 6), minChargingRate=-1.0))),
    # spec digest §6.3 rule 1: validTo before validFrom
    "valid_to_before_valid_from": (1, lambda p: p.update(validFrom="2026-01-02T00:00:00Z", validTo="2026-01-01T12:00:00Z")),
    # [SPEC] §3.13.1: ChargePointMaxProfile only on connector 0, and never Relative (no transaction to start from)
    "cp_max_on_connector_1": (1, lambda p: p.update(chargingProfilePurpose="ChargePointMaxProfile", chargingProfileKind="Absolute")),
    "cp_max_relative": (0, lambda p: p.update(chargingProfilePurpose="ChargePointMaxProfile")),
    # [ERRATA] 3.56: recurrencyKind only with Recurring; Recurring needs it (and a startSchedule to recur at)
    "recurrency_kind_without_recurring": (1, lambda p: p.update(recurrencyKind="Daily")),
    "recurring_without_recurrency_kind": (1, lambda p: p.update(
        chargingProfileKind="Recurring", chargingSchedule=schedule((0, 6), startSchedule="2026-01-01T00:00:00Z"))),
    "recurring_without_start_schedule": (1, lambda p: p.update(chargingProfileKind="Recurring", recurrencyKind="Daily")),
    # [SPEC] §7.8: transactionId only on a TxProfile
    "transaction_id_on_tx_default": (1, lambda p: p.update(transactionId=7)),
}


@pytest.mark.parametrize("name", list(REJECTED))
def test_bad_profile_is_rejected_and_nothing_changes(name):
    h = booted(**KW)
    assert status_of(h, 1, profile(pid=9, stack=0, sched=schedule((0, 20)))) == "Accepted"
    before = stored(h)
    cid, change = REJECTED[name]
    p = profile(pid=10)
    change(p)
    assert status_of(h, cid, p) == "Rejected"
    assert stored(h) == before
    assert composite(h) == [(0, 20)]


def test_unit_not_allowed_is_rejected():
    """ChargingScheduleAllowedChargingRateUnit = Current: a schedule in W is Rejected ([SPEC] §9.4.3)."""
    h = booted(ChargingScheduleAllowedChargingRateUnit="Current", **KW)
    assert status_of(h, 1, profile(sched=schedule((0, 7000), unit="W"))) == "Rejected"
    assert stored(h) == {}
    # GetCompositeSchedule without a unit answers in the station's unit
    conf = h.csms_conf("GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert conf["chargingSchedule"]["chargingRateUnit"] == "A"


def test_tx_profile_with_a_wrong_transaction_id_is_rejected():
    """TC_058_2: a TxProfile for another transactionId: Rejected, nothing stored."""
    h = booted(**KW)
    charging(h, tx_id=7)
    assert status_of(h, 1, profile(purpose="TxProfile", transactionId=8)) == "Rejected"
    assert stored(h) == {}
    assert status_of(h, 1, profile(purpose="TxProfile", transactionId=7)) == "Accepted"


def test_store_full_is_rejected_but_a_replacement_fits():
    h = booted(MaxChargingProfilesInstalled=2, **KW)
    assert status_of(h, 1, profile(pid=1, stack=0)) == "Accepted"
    assert status_of(h, 1, profile(pid=2, stack=1)) == "Accepted"
    before = stored(h)
    assert status_of(h, 1, profile(pid=3, stack=2)) == "Rejected"
    assert stored(h) == before
    assert status_of(h, 1, profile(pid=3, stack=1, sched=schedule((0, 8)))) == "Accepted"  # replaces pid 2
    assert sorted(stored(h)) == ["1", "3"]


@pytest.mark.parametrize("payload, code", [
    # [ERRATA] 3.39: a connector the station does not have
    ({"connectorId": 5, "csChargingProfiles": profile()}, "PropertyConstraintViolation"),
    # [ERRATA] 3.38: an enum value outside its list
    ({"connectorId": 1, "csChargingProfiles": profile(purpose="TxProfileX")}, "PropertyConstraintViolation"),
    ({"connectorId": 1, "csChargingProfiles": profile(kind="Sometimes")}, "PropertyConstraintViolation"),
    ({"connectorId": 1, "csChargingProfiles": profile(sched=schedule((0, 6), unit="kW"))}, "PropertyConstraintViolation"),
])
def test_set_charging_profile_callerrors(payload, code):
    h = booted(**KW)
    ans = h.csms_call("SetChargingProfile", payload)
    assert ans[0] == 4 and ans[2] == code, ans
    assert stored(h) == {}


def test_get_composite_schedule_bad_input():
    h = booted(**KW)
    # [ERRATA] 3.24: a chargingRateUnit other than A or W
    ans = h.csms_call("GetCompositeSchedule", {"connectorId": 1, "duration": 60, "chargingRateUnit": "kW"})
    assert ans[0] == 4 and ans[2] == "PropertyConstraintViolation"
    # [SPEC] §5.7: an unknown connector is Rejected (no schedule, [ERRATA] 3.51)
    assert h.csms_conf("GetCompositeSchedule", {"connectorId": 3, "duration": 60}) == {"status": "Rejected"}
    assert h.csms_conf("GetCompositeSchedule", {"connectorId": 1, "duration": -1}) == {"status": "Rejected"}


# -- storage -----------------------------------------------------------------------------------------------------


def test_same_id_or_same_purpose_and_stack_level_replaces_also_in_the_store():
    """[SPEC] §3.13.2: the same chargingProfileId, or the same stackLevel + purpose (on that connector), replaces."""
    h = booted(StationSettings(connectors=2), **KW)
    assert status_of(h, 1, profile(pid=1, stack=0, sched=schedule((0, 6)))) == "Accepted"
    assert status_of(h, 2, profile(pid=2, stack=0, sched=schedule((0, 7)))) == "Accepted"  # another connector
    assert status_of(h, 1, profile(pid=3, stack=0, sched=schedule((0, 8)))) == "Accepted"  # replaces 1
    assert sorted(stored(h)) == ["2", "3"]
    assert composite(h, 1) == [(0, 8)] and composite(h, 2) == [(0, 7)]
    assert status_of(h, 1, profile(pid=2, stack=4, sched=schedule((0, 9)))) == "Accepted"  # id 2 moves to 1
    assert sorted(stored(h)) == ["2", "3"]
    assert composite(h, 1) == [(0, 9)] and composite(h, 2) == [(0, 32)]


def test_profiles_survive_a_restart_and_a_replaced_one_does_not_come_back():
    store = MemoryStore()
    h = booted(store=store, **KW)
    assert status_of(h, 0, profile(pid=1, purpose="ChargePointMaxProfile", kind="Absolute",
                                   sched=schedule((0, 10), startSchedule="2026-01-01T00:00:00Z"))) == "Accepted"
    assert status_of(h, 1, profile(pid=2, sched=schedule((0, 6)))) == "Accepted"
    assert status_of(h, 1, profile(pid=3, sched=schedule((0, 8)))) == "Accepted"
    h2 = CoreHarness(store=store, now=h.now + 5, **KW)
    h2.boot()
    assert sorted(h2.store.items(NS)) == ["1", "3"]
    assert composite(h2) == [(0, 8)]


def test_expired_profiles_are_purged():
    h = booted(**KW)
    assert status_of(h, 1, profile(pid=1, stack=1, sched=schedule((0, 6)), validTo=iso(h.now + 100))) == "Accepted"
    assert status_of(h, 1, profile(pid=2, kind="Absolute",
                                   sched=schedule((0, 8), startSchedule=iso(h.now), duration=50))) == "Accepted"
    assert composite(h, duration=200) == [(0, 6), (100, 32)]
    h.advance(50)
    assert sorted(stored(h)) == ["1"]  # the Absolute schedule is over
    h.advance(50)
    assert stored(h) == {}  # past validTo


@pytest.mark.parametrize("clear, left", [
    ({}, []),
    ({"id": 2}, [1, 3, 4]),
    ({"id": 2, "connectorId": 0}, [1, 3, 4]),  # [ERRATA] 3.25: id wins, the other fields are ignored
    ({"connectorId": 0}, [1, 3]),
    ({"chargingProfilePurpose": "TxDefaultProfile"}, [4]),
    ({"stackLevel": 0}, [3]),  # 0 is a filter, not "any" (go-eCharger-API-v2 #187)
    ({"connectorId": 1, "stackLevel": 0}, [2, 3, 4]),  # [ERRATA] 3.26: the AND of the fields
])
def test_clear_charging_profile(clear, left):
    h = booted(**KW)
    assert status_of(h, 1, profile(pid=1, stack=0)) == "Accepted"
    assert status_of(h, 0, profile(pid=2, stack=0)) == "Accepted"
    assert status_of(h, 1, profile(pid=3, stack=1)) == "Accepted"
    assert status_of(h, 0, profile(pid=4, stack=0, purpose="ChargePointMaxProfile", kind="Absolute")) == "Accepted"
    assert h.csms_conf("ClearChargingProfile", clear) == {"status": "Accepted"}
    assert sorted(int(k) for k in stored(h)) == left
    # [SPEC] §7.21: nothing matches: Unknown, nothing changes
    assert h.csms_conf("ClearChargingProfile", {"id": 99}) == {"status": "Unknown"}
    assert sorted(int(k) for k in stored(h)) == left


# -- the limit is physical ---------------------------------------------------------------------------------------


def test_power_follows_the_limit_at_each_boundary():
    """A TxProfile [0: 16 A, 60: 6 A, 120: 0 A, 180: 10 A]: the EV (11 kW) gets 11000, 4140, 0 (SuspendedEVSE),
    6900 W, each from the exact second of the boundary (a timer, no polling)."""
    h = booted(**KW)
    charging(h)
    t = h.now
    p = profile(purpose="TxProfile", kind="Relative", sched=schedule((0, 16), (60, 6), (120, 0), (180, 10)))
    assert status_of(h, 1, p) == "Accepted"
    assert power(h) == 11000.0
    assert h.station.timers.deadline("smart-charging") == t + 60  # the next boundary (the transaction started at t)
    h.advance(59.999)
    assert power(h) == 11000.0
    h.advance(0.001)
    assert power(h) == 6 * V * 3
    assert h.station.feature["SmartCharging"].limit_w(1, h.now) == 6 * V * 3
    h.advance(60)
    assert power(h) == 0.0
    expect_status(h, 1, "SuspendedEVSE")  # [SPEC] §4.9: the EVSE offers no energy
    h.advance(60)
    assert power(h) == 10 * V * 3
    expect_status(h, 1, "Charging")
    assert h.station.state(h.now)["connectors"][1]["limitW"] == 6900.0


def test_limit_w_between_boundaries_is_the_schedule_s_value_and_changes_at_the_boundary():
    """limit_w answers from the limits of the last change while they hold (the fleet samples it for every station
    each tick): at every step it equals the schedules evaluated afresh, also right at a boundary before its timer
    ran, and after a transaction starts or ends."""
    h = booted(**KW)
    sc = h.station.feature["SmartCharging"]
    assert status_of(h, 0, profile(pid=1, sched=schedule((0, 16), (90, 8), (200, 12)))) == "Accepted"

    def same():
        fresh = sc._limits_at(h.now)
        assert [sc.limit_w(c, h.now) for c in (0, 1)] == [fresh.get(0), fresh.get(1)], h.now

    same()
    charging(h)  # the Relative schedule starts with the transaction
    same()
    for step in (30, 59.5, 0.5, 0.25, 100, 10, 5):
        h.advance(step)
        same()
    boundary = h.station.timers.deadline("smart-charging")
    h.now = boundary  # the instant of a change, the timer not run yet
    same()


def test_tx_default_set_during_a_transaction_applies_to_it():
    """[ERRATA] 3.8 (TC_082): a TxDefaultProfile set while a transaction runs without TxProfile limits it at once;
    a TxProfile in force wins over it ([ERRATA] 3.67)."""
    h = booted(**KW)
    charging(h)
    assert power(h) == 11000.0
    assert status_of(h, 1, profile(pid=1, sched=schedule((0, 6)))) == "Accepted"
    assert power(h) == 6 * V * 3
    assert status_of(h, 1, profile(pid=2, purpose="TxProfile", sched=schedule((0, 10)))) == "Accepted"
    assert power(h) == 10 * V * 3
    assert h.csms_conf("ClearChargingProfile", {"id": 2}) == {"status": "Accepted"}
    assert power(h) == 6 * V * 3
    assert h.csms_conf("ClearChargingProfile", {}) == {"status": "Accepted"}
    assert power(h) == 11000.0  # removed: the transaction runs on without it


def test_tx_profile_ends_with_its_transaction():
    h = booted(**KW)
    charging(h)
    assert status_of(h, 1, profile(pid=5, purpose="TxProfile", sched=schedule((0, 6)))) == "Accepted"
    assert sorted(stored(h)) == ["5"]
    card(h, "AAA")  # the same card stops
    h.respond_unordered({"StopTransaction": ACCEPTED, "StatusNotification": {}})
    assert stored(h) == {}
    # and a TxProfile is refused again: no transaction (libocpp PR #821)
    assert status_of(h, 1, profile(pid=6, purpose="TxProfile")) == "Rejected"


def test_charge_point_max_is_shared_between_charging_connectors():
    """[SPEC] §3.13.3: ChargePointMaxProfile limits the sum; the composite for 0 is min(CPMax, Σ connectors)."""
    h = booted(StationSettings(connectors=2), **KW)
    cp = profile(pid=1, purpose="ChargePointMaxProfile", kind="Absolute",
                 sched=schedule((0, 12000), unit="W", startSchedule="2026-01-01T00:00:00Z"))
    assert status_of(h, 0, cp) == "Accepted"
    plug(h, 1), expect_status(h, 1, "Preparing"), card(h, "AAA", 1), h.respond("Authorize", ACCEPTED)
    start_confs(h, 1, 1)
    assert power(h, 1) == 11000.0
    plug(h, 2), expect_status(h, 2, "Preparing"), card(h, "BBB", 2), h.respond("Authorize", ACCEPTED)
    start_confs(h, 2, 2)
    assert (power(h, 1), power(h, 2)) == (6000.0, 6000.0)
    assert composite(h, 0, 60, "W") == [(0, 12000.0)]
    assert composite(h, 1, 60, "W") == [(0, 12000.0)]  # min(CPMax, 32 A × 230 V × 3 = 22080 W)


def test_remote_start_with_a_tx_profile_governs_its_transaction():
    """TC_059 / [ERRATA] 3.41: the TxProfile that comes with RemoteStartTransaction is the transaction's."""
    h = booted(AuthorizeRemoteTxRequests=False, **KW)
    p = profile(pid=11, purpose="TxProfile", sched=schedule((0, 6), (60, 10)))
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "AAA", "chargingProfile": p}) == {
        "status": "Accepted"}
    expect_status(h, 1, "Preparing")
    assert stored(h) == {}  # not yet: its transaction does not exist
    plug(h)
    start_confs(h, 1, 3)
    assert stored(h)["11"]["profile"] == p
    assert power(h) == 6 * V * 3
    h.advance(60)
    assert power(h) == 10 * V * 3
    # [ERRATA] 3.42: a later TxProfile with the same stackLevel replaces it
    assert status_of(h, 1, profile(pid=12, purpose="TxProfile", transactionId=3, sched=schedule((0, 8)))) == "Accepted"
    assert sorted(stored(h)) == ["12"]


@pytest.mark.parametrize("change", [
    {"chargingProfilePurpose": "TxDefaultProfile"},  # TC_060
    {"transactionId": 5},  # [ERRATA] 3.41
    {"stackLevel": 11},
])
def test_remote_start_with_a_bad_profile_is_rejected(change):
    h = booted(AuthorizeRemoteTxRequests=False, **KW)
    p = profile(pid=11, purpose="TxProfile")
    p.update(change)
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "AAA", "chargingProfile": p}) == {
        "status": "Rejected"}
    h.no_call()
    assert stored(h) == {}


def test_a_local_start_after_a_timed_out_remote_start_does_not_take_its_profile():
    h = booted(AuthorizeRemoteTxRequests=False, ConnectionTimeOut=30, **KW)
    p = profile(pid=11, purpose="TxProfile", sched=schedule((0, 6)))
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "AAA", "chargingProfile": p})["status"] == "Accepted"
    expect_status(h, 1, "Preparing")
    h.advance(30)
    expect_status(h, 1, "Available")
    charging(h)
    assert stored(h) == {}
    assert power(h) == 11000.0


def test_a_day_of_recurring_limits_at_core_level():
    """A Daily TxDefault (22:00-06:00 16 A, else 6 A from a ChargePointMax) over 24 h: the energy is exact."""
    h = booted(**KW)
    assert status_of(h, 0, profile(pid=1, purpose="ChargePointMaxProfile", kind="Absolute",
                                   sched=schedule((0, 6), startSchedule="2026-01-01T00:00:00Z"))) == "Accepted"
    assert status_of(h, 0, profile(pid=2, kind="Recurring", recurrencyKind="Daily", stack=1,
                                   sched=schedule((0, 16), startSchedule="2025-12-31T22:00:00Z", duration=8 * 3600))) == "Accepted"
    charging(h)
    e0 = h.hardware.read(1, h.now).energy_wh
    h.advance(86400)
    # CPMax 6 A caps everything: 6 A × 230 V × 3 for 24 h
    assert h.hardware.read(1, h.now).energy_wh - e0 == pytest.approx(6 * V * 3 * 24, rel=1e-9)


# -- property: store invariants after random Set/Clear sequences (spec digest §9.2) ---------------------------------

_set_op = st.tuples(
    st.just("set"), st.integers(0, 2), st.integers(1, 6), st.integers(0, 3),
    st.sampled_from(["TxDefaultProfile", "ChargePointMaxProfile", "TxProfile"]), st.integers(0, 40),
)
_clear_op = st.tuples(
    st.just("clear"), st.one_of(st.none(), st.integers(0, 2)), st.one_of(st.none(), st.integers(0, 6)),
    st.one_of(st.none(), st.integers(0, 3)),
    st.one_of(st.none(), st.sampled_from(["TxDefaultProfile", "ChargePointMaxProfile", "TxProfile"])), st.none(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_set_op, _clear_op), max_size=25))
def test_store_invariants_after_random_set_and_clear(ops):
    """Against a dict model: ids unique, (connector, purpose, stackLevel) unique, at most MaxChargingProfilesInstalled,
    Clear per [ERRATA] 3.25/3.26 (Accepted iff something went), and a restart brings back exactly the same set."""
    store = MemoryStore()
    h = booted(StationSettings(connectors=2), store=store, MaxChargingProfilesInstalled=5, **KW)
    model: dict[int, tuple[int, str, int]] = {}  # id -> (connector, purpose, stack)
    for op, cid, pid, stack, purpose, limit in ops:
        if op == "set":
            p = profile(pid=pid, purpose=purpose, stack=stack,
                        kind="Absolute" if purpose == "ChargePointMaxProfile" else "Relative",
                        sched=schedule((0, limit)))
            valid = purpose == "TxDefaultProfile" or (purpose == "ChargePointMaxProfile" and cid == 0)
            replaced = {i for i, k in model.items() if i == pid or k == (cid, purpose, stack)}
            fits = len(model) - len(replaced) + 1 <= 5
            got = status_of(h, cid, p)
            assert got == ("Accepted" if valid and fits else "Rejected"), (op, cid, pid, stack, purpose)
            if got == "Accepted":
                for i in replaced:
                    del model[i]
                model[pid] = (cid, purpose, stack)
        else:
            fields = {k: v for k, v in (("connectorId", cid), ("id", pid), ("stackLevel", stack),
                                        ("chargingProfilePurpose", purpose)) if v is not None}
            if pid is not None:
                gone = {pid} & set(model)
            else:
                gone = {i for i, (c, pu, s) in model.items()
                        if (cid is None or c == cid) and (stack is None or s == stack) and (purpose is None or pu == purpose)}
            assert h.csms_conf("ClearChargingProfile", fields) == {"status": "Accepted" if gone else "Unknown"}
            for i in gone:
                del model[i]
        keys = {(r["connectorId"], r["profile"]["chargingProfilePurpose"], r["profile"]["stackLevel"])
                for r in store.items(NS).values()}
        assert {int(k) for k in store.items(NS)} == set(model)
        assert len(keys) == len(model) <= 5
    h2 = CoreHarness(StationSettings(connectors=2), store=store, now=h.now + 1, **KW)
    h2.boot()
    assert {p.profile_id: (p.connector_id, p.purpose, p.stack_level)
            for p in h2.station.feature["SmartCharging"].profiles.values()} == model

"""Composite-schedule arithmetic (features/smart_charging/schedule.py): the worked OCTT numbers, recurrence across
midnight and week boundaries in UTC, units, and a property test against a second-by-second brute force."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_station.features.smart_charging.schedule import (
    DAY,
    WEEK,
    Hardware,
    Period,
    Profile,
    ProfileSet,
    allocate,
    from_watts,
    to_watts,
)

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc).timestamp()  # the night the EU clocks jump: UTC does not


def prof(pid, purpose, periods, cid=1, stack=0, kind="Absolute", start=T0, duration=None, unit="A", **kw):
    return Profile(
        profile_id=pid, connector_id=cid, stack_level=stack, purpose=purpose, kind=kind, unit=unit,
        periods=tuple(Period(s, float(lim), ph) for s, lim, *rest in periods for ph in [rest[0] if rest else None]),
        start_schedule=start, duration=duration, **kw,
    )


def pairs(periods):
    return [(q.start, q.limit) for q in periods]


def test_tc_066_three_purposes():
    """§6.8 TC_066: ChargePointMax 10 A + TxDefault + TxProfile on a transaction ⇒ [0:8, 50:10, 200:6, 240:10,
    260:8, 300:10] for 400 s."""
    ps = ProfileSet([
        prof(1, "ChargePointMaxProfile", [(0, 10)], cid=0, duration=86400),
        prof(2, "TxDefaultProfile", [(0, 6), (60, 10), (120, 8), (180, 25), (260, 8)], duration=300),
        prof(3, "TxProfile", [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)], duration=260),
    ], [1])
    got = ps.composite(1, T0, 400, "A", {1: T0 - 100})
    assert pairs(got) == [(0, 8), (50, 10), (200, 6), (240, 10), (260, 8), (300, 10)]


def test_tc_072_stacking():
    ps = ProfileSet([
        prof(1, "TxDefaultProfile", [(0, 6), (100, 8), (200, 10)], duration=400),
        prof(2, "TxDefaultProfile", [(0, 7), (100, 9)], stack=1, duration=150),
    ], [1])
    assert pairs(ps.composite(1, T0, 350, "A", {1: None})) == [(0, 7), (100, 9), (150, 8), (200, 10)]


def test_nothing_installed_is_the_hardware_maximum_and_duration_0_still_answers():
    ps = ProfileSet([], [1, 2], Hardware(voltage=230, max_current=32))
    assert pairs(ps.composite(1, T0, 0, "A", {})) == [(0, 32)]
    assert pairs(ps.composite(0, T0, 60, "W", {})) == [(0, 2 * 32 * 230 * 3)]
    ps = ProfileSet([prof(1, "TxDefaultProfile", [(0, 6)])], [1])
    assert pairs(ps.composite(1, T0, 0, "A", {})) == [(0, 6)]  # libocpp #1169: not the defaults


def test_connector_0_sums_connectors_then_caps():
    """[ERRATA] 3.30 / libocpp #943: CPMax 32 A + TxDefault 10 A on connector 0 with 2 connectors ⇒ 20 A."""
    ps = ProfileSet([
        prof(1, "ChargePointMaxProfile", [(0, 32)], cid=0),
        prof(2, "TxDefaultProfile", [(0, 10)], cid=0),
    ], [1, 2])
    assert pairs(ps.composite(0, T0, 60, "A", {})) == [(0, 20)]
    assert pairs(ps.composite(1, T0, 60, "A", {})) == [(0, 10)]  # the connector-0 default is per connector
    ps = ProfileSet([prof(1, "ChargePointMaxProfile", [(0, 15)], cid=0), prof(2, "TxDefaultProfile", [(0, 10)], cid=0)],
                    [1, 2])
    assert pairs(ps.composite(0, T0, 60, "A", {})) == [(0, 15)]


def test_connector_tx_default_hides_connector_0_of_the_same_stack_level_only():
    ps = ProfileSet([
        prof(1, "TxDefaultProfile", [(0, 10)], cid=0, stack=1),
        prof(2, "TxDefaultProfile", [(0, 12)], cid=1, stack=1),
        prof(3, "TxDefaultProfile", [(0, 14)], cid=0, stack=2, duration=60),
    ], [1, 2])
    assert pairs(ps.composite(1, T0, 120, "A", {})) == [(0, 14), (60, 12)]
    assert pairs(ps.composite(2, T0, 120, "A", {})) == [(0, 14), (60, 10)]


def test_tx_profile_only_with_a_transaction_and_falls_back_when_it_runs_out():
    ps = ProfileSet([
        prof(1, "TxDefaultProfile", [(0, 16)]),
        prof(2, "TxProfile", [(0, 6)], kind="Relative", start=None, duration=100),
    ], [1])
    assert pairs(ps.composite(1, T0, 200, "A", {1: None})) == [(0, 16)]
    assert pairs(ps.composite(1, T0, 200, "A", {1: T0 - 40})) == [(0, 6), (60, 16)]


def test_daily_recurrence_across_midnight_restarts_at_the_start_clock_time():
    """[ERRATA] 3.79: a Daily schedule starting 22:00 (UTC) runs 22:00-02:00 each day, across midnight."""
    start = datetime(2026, 3, 20, 22, 0, tzinfo=timezone.utc).timestamp()
    ps = ProfileSet([prof(1, "TxDefaultProfile", [(0, 6), (7200, 8)], kind="Recurring", recurrency="Daily",
                          start=start, duration=4 * 3600)], [1])
    t0 = datetime(2026, 3, 28, 21, 0, tzinfo=timezone.utc).timestamp()
    got = ps.composite(1, t0, 8 * 3600, "A", {})
    # 21:00 nothing (32), 22:00 6 A, 00:00 8 A (after midnight), 02:00 nothing again
    assert pairs(got) == [(0, 32), (3600, 6), (3 * 3600, 8), (5 * 3600, 32)]
    # on the night the EU clocks jump forward nothing moves: UTC has no DST
    t1 = datetime(2026, 3, 29, 1, 59, tzinfo=timezone.utc).timestamp()
    assert pairs(ps.composite(1, t1, 120, "A", {})) == [(0, 8), (60, 32)]


def test_weekly_recurrence_across_the_week_boundary():
    """A Weekly schedule from Sunday 23:00 for 2 h covers Monday 00:00-01:00 each week, and nothing else."""
    sunday = datetime(2026, 1, 4, 23, 0, tzinfo=timezone.utc).timestamp()  # a Sunday
    ps = ProfileSet([prof(1, "TxDefaultProfile", [(0, 10), (3600, 11)], kind="Recurring", recurrency="Weekly",
                          start=sunday, duration=7200)], [1])
    t0 = sunday + 3 * WEEK - 1800  # three weeks on, Sunday 22:30
    assert pairs(ps.composite(1, t0, 3 * 3600, "A", {})) == [(0, 32), (1800, 10), (5400, 11), (9000, 32)]
    assert pairs(ps.composite(1, sunday + 3 * WEEK + DAY, 3600, "A", {})) == [(0, 32)]  # Monday 23:00: off


def test_recurrence_never_runs_beyond_its_cycle():
    """[ERRATA] 3.44: a Daily profile with a 30 h duration still restarts after 24 h."""
    ps = ProfileSet([prof(1, "TxDefaultProfile", [(0, 6), (20 * 3600, 7), (25 * 3600, 9)], kind="Recurring",
                          recurrency="Daily", start=T0, duration=30 * 3600)], [1])
    got = ps.composite(1, T0 + DAY - 60, 120, "A", {})
    assert pairs(got) == [(0, 7), (60, 6)]


def test_validity_window_and_top_level_without_duration_hides_lower_ones():
    ps = ProfileSet([
        prof(1, "TxDefaultProfile", [(0, 6)]),
        prof(2, "TxDefaultProfile", [(0, 9)], stack=1, valid_from=T0 + 10, valid_to=T0 + 20),
    ], [1])
    assert pairs(ps.composite(1, T0, 30, "A", {})) == [(0, 6), (10, 9), (20, 6)]
    ps = ProfileSet([prof(1, "TxDefaultProfile", [(0, 6)]), prof(2, "TxDefaultProfile", [(0, 9)], stack=1)], [1])
    assert pairs(ps.composite(1, T0, 10 * DAY, "A", {})) == [(0, 9)]  # [ERRATA] 3.7


def test_units_and_phases():
    """[ERRATA] 3.69: W = total power, A = per phase, numberPhases default 3, U = the station's voltage."""
    assert to_watts(16, "A", None, 230) == 16 * 230 * 3
    assert to_watts(16, "A", 1, 230) == 16 * 230
    assert to_watts(7000, "W", 1, 230) == 7000
    assert from_watts(11040, "A", None, 230) == 16.0
    assert from_watts(7000, "A", 3, 230) == 10.1  # 10.14 rounded down: never above the limit
    ps = ProfileSet([
        prof(1, "ChargePointMaxProfile", [(0, 11000)], cid=0, unit="W"),
        prof(2, "TxDefaultProfile", [(0, 16, 1)]),  # 16 A on one phase = 3680 W
    ], [1], Hardware(voltage=230))
    got = ps.composite(1, T0, 60, "W", {})
    assert [(q.start, q.limit, q.phases) for q in got] == [(0, 3680.0, 1)]
    assert [(q.start, q.limit, q.phases) for q in ps.composite(1, T0, 60, "A", {})] == [(0, 16.0, 1)]
    ps110 = ProfileSet([prof(1, "TxDefaultProfile", [(0, 3300)], unit="W")], [1], Hardware(voltage=110))
    assert pairs(ps110.composite(1, T0, 60, "A", {})) == [(0, 10.0)]


def test_min_charging_rate_pauses_below_it():
    ps = ProfileSet([
        prof(1, "ChargePointMaxProfile", [(0, 10), (60, 4)], cid=0),
        prof(2, "TxDefaultProfile", [(0, 16)], min_rate=6.0),
    ], [1])
    assert pairs(ps.composite(1, T0, 120, "A", {})) == [(0, 10), (60, 0)]


def test_allocate_shares_a_cap():
    assert allocate(None, {1: 5.0, 2: 7.0}) == {1: 5.0, 2: 7.0}
    assert allocate(10.0, {1: 8.0, 2: 8.0}) == {1: 5.0, 2: 5.0}
    assert allocate(10.0, {1: 2.0, 2: 8.0, 3: 8.0}) == {1: 2.0, 2: 4.0, 3: 4.0}


# -- property: the composite equals a naive evaluation, second by second (spec digest §9.2) ---------------------


def naive_period(p: Profile, t: float, anchor: float):
    if p.valid_from is not None and t < p.valid_from:
        return None
    if p.valid_to is not None and t >= p.valid_to:
        return None
    if p.kind == "Relative":
        s = anchor
    elif p.kind == "Absolute":
        s = p.start_schedule
    else:
        cycle = DAY if p.recurrency == "Daily" else WEEK
        s, k = None, 0
        while p.start_schedule + k * cycle <= t:
            s = p.start_schedule + k * cycle
            k += 1
        if s is None:
            return None
    length = p.duration if p.duration is not None else math.inf
    if p.kind == "Recurring":
        length = min(length, DAY if p.recurrency == "Daily" else WEEK)
    if not (s <= t < s + length):
        return None
    found = None
    for q in p.periods:
        if q.start <= t - s:
            found = q
    return found


def naive_limit(profiles, connectors, c, t, tx_starts, anchor, hw):
    """§6.5/§6.6 written out directly: (watts, phases)."""
    def best(cands, a):
        top = None
        for p in cands:
            q = naive_period(p, t, a)
            if q is not None and (top is None or p.stack_level > top[0].stack_level):
                top = (p, q)
        return top

    def watts(pq):
        p, q = pq
        return (q.limit if p.unit == "W" else q.limit * hw.voltage * (q.phases or 3)), q.phases

    def one(cc):
        ts = tx_starts.get(cc)
        a = ts if ts is not None else anchor
        cands = [watts(best([p for p in profiles if p.purpose == "ChargePointMaxProfile"], anchor) or (None, None))] \
            if best([p for p in profiles if p.purpose == "ChargePointMaxProfile"], anchor) else []
        txw = best([p for p in profiles if p.purpose == "TxProfile" and p.connector_id == cc], a) if ts is not None else None
        if txw is None:
            own = {p.stack_level for p in profiles if p.purpose == "TxDefaultProfile" and p.connector_id == cc}
            defaults = [p for p in profiles if p.purpose == "TxDefaultProfile"
                        and (p.connector_id == cc or (p.connector_id == 0 and p.stack_level not in own))]
            txw = best(defaults, a)
        floor = 0.0
        if txw is not None:
            cands.append(watts(txw))
            p, q = txw
            if p.min_rate is not None:
                floor = p.min_rate if p.unit == "W" else p.min_rate * hw.voltage * (q.phases or 3)
        w, ph = hw.max_watts, None
        for cw, cph in cands:
            if cw < w:
                w, ph = cw, cph
        return (0.0, ph) if w < floor else (w, ph)

    if c != 0:
        return one(c)
    total = sum(one(cc)[0] for cc in connectors)
    cp = best([p for p in profiles if p.purpose == "ChargePointMaxProfile"], anchor)
    if cp is not None and watts(cp)[0] < total:
        return watts(cp)
    return total, None


@st.composite
def profile_sets(draw):
    t0 = T0 + draw(st.integers(0, 3 * DAY))
    n = draw(st.integers(0, 6))
    profiles, seen_ids, seen_keys = [], set(), set()
    for i in range(n):
        purpose = draw(st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]))
        cid = 0 if purpose == "ChargePointMaxProfile" else draw(st.integers(0 if purpose == "TxDefaultProfile" else 1, 2))
        stack = draw(st.integers(0, 3))
        if (cid, purpose, stack) in seen_keys:
            continue
        seen_keys.add((cid, purpose, stack))
        kind = draw(st.sampled_from(["Absolute", "Recurring", "Relative"] if purpose != "ChargePointMaxProfile"
                                    else ["Absolute", "Recurring"]))
        recurrency = draw(st.sampled_from(["Daily", "Weekly"])) if kind == "Recurring" else None
        cycle = {"Daily": DAY, "Weekly": WEEK}.get(recurrency, 0)
        start = t0 + draw(st.integers(-2500, 2500)) - draw(st.integers(0, 2)) * cycle
        unit = draw(st.sampled_from(["A", "W"]))
        starts = sorted(set(draw(st.lists(st.integers(1, 2500), max_size=4))))
        lim = (lambda: draw(st.integers(0, 640)) / 10) if unit == "A" else (lambda: float(draw(st.integers(0, 50000))))
        periods = [(s, lim(), draw(st.sampled_from([None, 1, 2, 3]))) for s in [0, *starts]]
        vf = draw(st.one_of(st.none(), st.integers(-3000, 3000)))
        vt = draw(st.one_of(st.none(), st.integers(-3000, 3000)))
        min_rate = draw(st.one_of(st.none(), st.integers(0, 100).map(lambda x: x / 10 if unit == "A" else x * 50.0)))
        profiles.append(Profile(
            profile_id=i, connector_id=cid, stack_level=stack, purpose=purpose, kind=kind, unit=unit,
            periods=tuple(Period(s, lm, ph) for s, lm, ph in periods), recurrency=recurrency,
            valid_from=None if vf is None else t0 + vf, valid_to=None if vt is None else t0 + vt,
            start_schedule=None if kind == "Relative" else start,
            duration=draw(st.one_of(st.none(), st.integers(1, 4000), st.integers(DAY - 1000, DAY + 5000))),
            min_rate=min_rate,
        ))
    tx_starts = {c: draw(st.one_of(st.none(), st.integers(0, 3000).map(lambda x: t0 - x))) for c in (1, 2)}
    return t0, profiles, tx_starts


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile_sets(), st.sampled_from([0, 1, 2]), st.sampled_from(["A", "W"]), st.integers(0, 3000),
       st.sampled_from([230.0, 110.0]))
def test_composite_equals_second_by_second_brute_force(case, connector, unit, duration, voltage):
    t0, profiles, tx_starts = case
    hw = Hardware(voltage=voltage, max_current=32)
    ps = ProfileSet(profiles, [1, 2], hw)
    got = ps.composite(connector, t0, duration, unit, tx_starts)
    assert got and got[0].start == 0
    assert all(a.start < b.start for a, b in zip(got, got[1:]))
    assert all((a.limit, a.phases) != (b.limit, b.phases) for a, b in zip(got, got[1:]))
    assert all(q.start < max(duration, 1) and q.limit >= 0 and round(q.limit * 10) == q.limit * 10 for q in got)
    i = 0
    for s in range(max(duration, 1)):
        while i + 1 < len(got) and got[i + 1].start <= s:
            i += 1
        w, ph = naive_limit(profiles, [1, 2], connector, t0 + s, tx_starts, t0, hw)
        assert (got[i].limit, got[i].phases) == (from_watts(w, unit, ph, voltage), ph), (s, got)

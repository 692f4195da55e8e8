"""The fleet's shared Scheduler: one heap of deadlines, one loop timer for the earliest."""

from __future__ import annotations

import asyncio
import time

from ocpp_station.fleet.sim import Scheduler


async def test_deadlines_within_one_grain_fire_in_one_wake_up_never_early():
    grain = 0.05
    sched = Scheduler(time.time, grain=grain)
    fired: list[tuple[str, float, float]] = []  # (name, deadline, now passed in)
    done = asyncio.get_running_loop().create_future()
    t0 = time.time()
    base = t0 - (t0 % grain) + 2 * grain  # a grain boundary ahead
    for name, when in (("a", base + 0.001), ("b", base + 0.02), ("c", base + 0.049)):
        sched.at(when, lambda now, name=name, when=when: fired.append((name, when, now)))
    sched.at(base + grain + 0.01, lambda now: done.set_result(now))
    await asyncio.wait_for(done, 2.0)
    assert [f[0] for f in fired] == ["a", "b", "c"]
    assert all(now >= when for _, when, now in fired)  # never before its deadline
    assert len({now for _, _, now in fired}) == 1  # one wake-up served all three


async def test_without_a_grain_each_deadline_has_its_own_wake_up():
    sched = Scheduler(time.time)
    nows: list[float] = []
    done = asyncio.get_running_loop().create_future()
    t0 = time.time()
    for dt in (0.01, 0.04, 0.07):
        sched.at(t0 + dt, nows.append)
    sched.at(t0 + 0.1, lambda now: done.set_result(now))
    await asyncio.wait_for(done, 2.0)
    assert len(nows) == 3 and len(set(nows)) == 3
    assert all(n >= t0 + dt for n, dt in zip(nows, (0.01, 0.04, 0.07)))  # never before its deadline


class _Now:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_timer_wheel_runs_buckets_in_deadline_order_never_early_and_rearms_to_the_next_round():
    now = _Now(100.0)
    sched = Scheduler(now, grain=0.25)
    assert sched._wheel_on
    fired: list[tuple[str, float]] = []

    def rec(name: str):
        return lambda t: fired.append((name, t))

    sched.at(100.6, rec("c"))
    sched.at(100.1, rec("a2"))  # same tick as a1, earlier deadline
    sched.at(100.2, rec("a1"))
    sched.at(100.2, rec("a1-tie"))  # same deadline: insertion order
    sched.at(100.3, rec("b"))  # past a tick: the next one
    assert sched._handle_at == 100.25  # the earliest bucket's tick
    assert len(sched) == 5

    def rearm_in_the_past(t: float) -> None:
        fired.append(("r", t))
        sched.at(t - 1.0, rec("late"))  # already due: runs in the next round, not this one

    sched.at(100.22, rearm_in_the_past)
    now.t = 100.24  # woken a little early: nothing runs before its tick
    sched._run()
    assert fired == []
    now.t = 100.25
    sched._run()
    assert fired == [("a2", 100.25), ("a1", 100.25), ("a1-tie", 100.25), ("r", 100.25)]
    assert sched._handle_at is not None and sched._handle_at <= 100.25  # the late one, at once
    sched._run()
    assert fired[-1] == ("late", 100.25)
    assert sched._handle_at == 100.5
    now.t = 100.8
    sched._run()  # two ticks due in one round, still in deadline order
    assert [f[0] for f in fired[5:]] == ["b", "c"]
    assert len(sched) == 0 and sched._handle is None
    sched.close()

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

"""The CSMS's (and the fleet workers') garbage-collector pauses and event-loop stalls, with their wall times."""

from __future__ import annotations

import asyncio
import gc
import time

from ocpp_station.csms import stats
from ocpp_station.csms.stats import GcPauses, LoopStalls


def test_a_long_collection_is_listed_with_its_wall_time_and_generation(monkeypatch) -> None:
    monkeypatch.setattr(stats, "LONG_PAUSE", 0.0)  # every collection counts as long here
    pauses = GcPauses()
    pauses.install()
    try:
        before = time.time()
        gc.collect(1)
    finally:
        pauses.uninstall()
    doc = pauses.document()
    assert doc["collections"][1] == 1
    [(wall, generation, ms)] = doc["longPauses"]
    assert generation == 1 and before - 0.01 <= wall <= time.time() + 0.001 and ms >= 0  # rounded to 1 ms


def test_a_short_collection_is_counted_not_listed() -> None:
    pauses = GcPauses()
    pauses.install()
    try:
        gc.collect(0)  # a young collection of a test process: far below 50 ms
    finally:
        pauses.uninstall()
    doc = pauses.document()
    assert doc["collections"][0] == 1 and doc["longPauses"] == []


def test_frozen_objects_are_counted_only_when_asked() -> None:
    pauses = GcPauses()
    assert pauses.document()["frozen"] == 0  # not walked at every document (the stats file's, each second)
    held = [[i] for i in range(1000)]
    gc.freeze()
    try:
        assert pauses.document(count_frozen=True)["frozen"] >= len(held)
        assert pauses.document()["frozen"] >= len(held)  # the last count
    finally:
        gc.unfreeze()


async def test_a_blocked_loop_is_listed_as_a_stall() -> None:
    probe = LoopStalls(every=0.01, late=0.05)
    task = asyncio.ensure_future(probe.run())
    try:
        await asyncio.sleep(0.03)  # the probe sleeps
        t0 = time.time()
        time.sleep(0.12)  # a callback that holds the loop
        while not probe.stalls:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    [(wall, ms)] = probe.stalls
    assert ms >= 50 and t0 - 0.05 <= wall <= t0 + 0.12

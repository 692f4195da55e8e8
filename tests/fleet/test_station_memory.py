"""What a fleet station shares or keeps small so that thousands fit in a worker, without changing what it does."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from ocpp_station.fleet import load_scenario
from ocpp_station.fleet.sim import FleetStation, SeededDraws, Worker

SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "fleet-peer-load.toml"


def test_seeded_draws_follow_the_sequence_of_random_random() -> None:
    # the seeded traces depend on it: the same message-id prefixes and back-off jitters as random.Random(seed)
    for seed in ("1/CP000001/station", "3/x/station"):
        ref, draws = random.Random(seed), SeededDraws(seed)
        for op in ("g32", "r", "r", "g32", "g7", "r", "g64", "g0", "r", "g33", "r"):
            if op == "r":
                assert draws.random() == ref.random()
            else:
                assert draws.getrandbits(int(op[1:])) == ref.getrandbits(int(op[1:])), op


def test_stations_built_alike_share_their_configuration_specs() -> None:
    async def build() -> list[FleetStation]:
        sc = load_scenario(SCENARIO)
        w = Worker(0, [1, 2], sc, 1, "ws://127.0.0.1:1", time.time(), 60)
        try:
            return [FleetStation(w, n, sc.identity(n), sc.settings(sc.identity(n)), 1) for n in (1, 2)]
        finally:
            w.scheduler.close()

    a, b = asyncio.run(build())
    assert a.station.config.specs is b.station.config.specs
    assert "MeterValuesSampledData" in a.station.config.specs  # the measurand-checked keys are shared too
    # the values stay each station's own
    assert a.station.config.change("HeartbeatInterval", "123") == "Accepted"
    assert a.station.config["HeartbeatInterval"] == 123 and b.station.config["HeartbeatInterval"] != 123

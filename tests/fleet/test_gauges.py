"""The fleet's gauges in real time: running sums updated from the stations that had an input, equal to a walk
over every station."""

from __future__ import annotations

import time

from ocpp_station.core.station import Registration
from ocpp_station.fleet.scenario import parse_scenario
from ocpp_station.fleet.sim import FleetStation, Worker


def _walk(w: Worker) -> dict:
    w.virtual = True  # the virtual-time path: a walk over every station
    try:
        return w.gauges(power=True)
    finally:
        w.virtual = False


async def test_running_gauges_follow_each_input_and_equal_a_full_walk():
    sc = parse_scenario({})
    w = Worker(0, [1, 2, 3], sc, 1, "ws://127.0.0.1:1", time.time(), 60)
    for n in (1, 2, 3):
        fs = FleetStation(w, n, sc.identity(n), sc.settings(sc.identity(n)), 1)
        w.stations.append(fs)
    now = w.clock()
    assert w.gauges() == _walk(w)  # nothing flushed yet: every gauge 0
    a, b, _ = w.stations
    a.station.connected = True
    a.station.registration = Registration.ACCEPTED
    c = a.hardware.connectors[1]
    c.ev_plugged = c.relay_closed = c.ev_charging = True
    c.ev_power_w = 7400.25
    a.flush(now)
    b.flush(now)
    g = w.gauges()
    assert g == _walk(w)
    assert (g["connected"], g["accepted"], g["power_w"]) == (1, 1, 7400.25)
    c.relay_closed = False  # a change seen at the station's next input only
    assert w.gauges()["power_w"] == 7400.25
    a.flush(now)
    g = w.gauges()
    assert g == _walk(w) and g["power_w"] == 0.0 and g["connected"] == 1
    a.station.connected = False
    a.flush(now)
    assert w.gauges() == _walk(w) and w.gauges()["connected"] == 0
    w.scheduler.close()

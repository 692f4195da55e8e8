"""Cost of one register save: the write that bounds what a power cut loses (docs/persistence.md).

While a transaction is open the station saves its record (register value and time) with the simulated
meter's state every ``meter_save_interval`` seconds, in one SQLite commit (WAL, synchronous=FULL: one
fsync). This times that save through a real Station charging on a SqliteStore in DIR (default: a temporary
directory; give the data_dir's file system to measure its disk), and beside it on the MemoryStore.

    .venv/bin/python benchmarks/register_save.py [DIR]
"""

import os
import random
import statistics
import sys
import tempfile
import time

from ocpp_station.core.events import CardPresented
from ocpp_station.core.settings import StationSettings
from ocpp_station.core.station import Station
from ocpp_station.features import default_features
from ocpp_station.hardware.simulated import SimulatedHardware
from ocpp_station.store import MemoryStore
from ocpp_station.store.sqlite import SqliteStore

N = 2_000
T0 = 1_767_225_600.0
ANSWERS = {
    "BootNotification": '{"status":"Accepted","interval":0,"currentTime":"2026-01-01T00:00:00Z"}',
    "Authorize": '{"idTagInfo":{"status":"Accepted"}}',
    "StartTransaction": '{"transactionId":1,"idTagInfo":{"status":"Accepted"}}',
}


def _answer_all(st: Station, now: float) -> None:
    while (c := st.session.in_flight) is not None:
        st.receive(f'[3,"{c.unique_id}",{ANSWERS.get(c.action, "{}")}]', now)
    st.data_to_send()


def charging_station(store) -> Station:
    hw = SimulatedHardware(store=store)
    st = Station(StationSettings(), store, hardware=hw, features=default_features(), rng=random.Random(1))
    st.start(T0)
    st.connection_made(T0)
    _answer_all(st, T0)
    st.handle_event(hw.plug_in(1, T0)[0], T0)
    st.handle_event(CardPresented("TAG1", 1), T0)
    _answer_all(st, T0)
    assert st.feature["Transactions"].cond[1].tx is not None
    return st


def save_times(store) -> list[float]:
    st = charging_station(store)
    metering = st.feature["Metering"]
    out = []
    now = T0
    for _ in range(N):
        now += 5.0
        t = time.perf_counter()
        metering._save_register(1, now, now)
        out.append(time.perf_counter() - t)
    return out


def wal_bytes_per_save(d: str) -> float:
    """Bytes one save appends to the write-ahead log (automatic checkpoints off while counting)."""
    store = SqliteStore(d)
    try:
        st = charging_station(store)
        store._db.execute("PRAGMA wal_autocheckpoint=0")
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        metering = st.feature["Metering"]
        n, now = 200, T0
        for _ in range(n):
            now += 5.0
            metering._save_register(1, now, now)
        return os.path.getsize(os.path.join(d, "station.sqlite-wal")) / n
    finally:
        store.close()


def show(name: str, times: list[float]) -> None:
    times = sorted(times)
    print(f"{name}: mean {statistics.fmean(times) * 1e6:.0f} µs, p50 {times[len(times) // 2] * 1e6:.0f} µs, "
          f"p99 {times[int(len(times) * 0.99)] * 1e6:.0f} µs ({N} saves)")


def main() -> None:
    with tempfile.TemporaryDirectory(dir=sys.argv[1] if len(sys.argv) > 1 else None) as d:
        store = SqliteStore(d)
        try:
            show(f"SqliteStore ({d})", save_times(store))
        finally:
            store.close()
    with tempfile.TemporaryDirectory(dir=sys.argv[1] if len(sys.argv) > 1 else None) as d:
        print(f"write-ahead log: {wal_bytes_per_save(d):.0f} bytes per save")
    show("MemoryStore", save_times(MemoryStore()))


if __name__ == "__main__":
    main()

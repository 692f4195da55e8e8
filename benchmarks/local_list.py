"""A 10,000-entry local authorization list: storing it, loading it at start, and one lookup.

The list goes in as two SendLocalList updates (Full 5,000 + Differential 5,000, as a CSMS would send it
under SendLocalListMaxLength) into a real SQLite file; a new station is then built on that file, as after
a restart, and looks idTags up the way authorization does (list first, then cache).
    .venv/bin/python benchmarks/local_list.py
"""

import random
import tempfile
import time
from pathlib import Path

import orjson

from ocpp_station.assembly import build_station
from ocpp_station.core.settings import StationSettings
from ocpp_station.store.sqlite import SqliteStore

N = 10_000
LOOKUPS = 100_000


def send(st, version: int, kind: str, tags: list[str], now: float) -> None:
    entries = [{"idTag": t, "idTagInfo": {"status": "Accepted"}} for t in tags]
    call = [2, f"c{version}", "SendLocalList", {"listVersion": version, "updateType": kind, "localAuthorizationList": entries}]
    st.receive(orjson.dumps(call).decode(), now)
    (answer,) = [orjson.loads(f) for f in st.data_to_send()]
    assert answer[2] == {"status": "Accepted"}, answer


def main() -> None:
    settings = StationSettings(ocpp={"SendLocalListMaxLength": "5000"})
    now = 1_767_225_600.0
    tags = [f"TAG{i:05d}" for i in range(N)]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "station.sqlite"
        st = build_station(settings, SqliteStore(path), rng=random.Random(1))
        st.start(now)
        t0 = time.perf_counter()
        send(st, 1, "Full", tags[: N // 2], now)
        send(st, 2, "Differential", tags[N // 2 :], now)
        store_s = time.perf_counter() - t0
        st.store.close()

        t0 = time.perf_counter()
        st = build_station(settings, SqliteStore(path), rng=random.Random(2))
        st.start(now)
        load_s = time.perf_counter() - t0
        auth = st.feature["Authorization"]
        rng = random.Random(3)
        probe = [rng.choice(tags).lower() for _ in range(LOOKUPS)]
        t0 = time.perf_counter()
        for tag in probe:
            info = auth.local_info(tag, now)
        lookup_s = (time.perf_counter() - t0) / LOOKUPS
        assert info == {"status": "Accepted"}
    print(f"{N} entries: stored in {store_s * 1e3:.0f} ms (2 updates), station start with the list "
          f"{load_s * 1e3:.0f} ms, lookup {lookup_s * 1e6:.2f} µs")


if __name__ == "__main__":
    main()

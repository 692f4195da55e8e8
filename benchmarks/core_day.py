"""A 24-hour charging session with 10 s sampling at core level, stepping `now` (the sans-I/O payoff).

Every CALL the station sends is answered at once, as a CSMS would; the station persists into a
MemoryStore. Prints the wall time of the simulated day.
    .venv/bin/python benchmarks/core_day.py
"""

import random
import time

import orjson

from ocpp_station.core.events import CardPresented
from ocpp_station.core.settings import StationSettings
from ocpp_station.assembly import build_station
from ocpp_station.store import MemoryStore

ANSWERS = {
    "BootNotification": {"status": "Accepted", "interval": 0, "currentTime": "2026-01-01T00:00:00Z"},
    "Authorize": {"idTagInfo": {"status": "Accepted"}},
    "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
    "Heartbeat": {"currentTime": "2026-01-02T00:00:00Z"},  # the daily one ([OCPPJ] §5.3)
}


def main() -> None:
    st = build_station(StationSettings(ocpp={"MeterValueSampleInterval": "10", "HeartbeatInterval": "0"}),
                 MemoryStore(), rng=random.Random(1))
    now = 1_767_225_600.0
    sent = 0

    def answer() -> None:
        nonlocal sent
        while True:
            frames = st.data_to_send()
            if not frames:
                return
            for f in frames:
                msg = orjson.loads(f)
                if msg[0] == 2:
                    sent += 1
                    st.receive(orjson.dumps([3, msg[1], ANSWERS.get(msg[2], {})]).decode(), now)

    st.start(now)
    st.connection_made(now)
    answer()
    for ev in st.hardware.plug_in(1, now) + [CardPresented("TAG", 1)]:
        st.handle_event(ev, now)
    answer()
    t0 = time.perf_counter()
    end = now + 86400
    while (t := st.get_timer()) is not None and t <= end:
        now = t
        st.handle_timer(now)
        answer()
    elapsed = time.perf_counter() - t0
    print(f"24 h of charging, 10 s sampling: {sent} CALLs sent and answered in {elapsed:.3f} s wall time")


if __name__ == "__main__":
    main()

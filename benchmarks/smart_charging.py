"""Smart Charging costs at core level, stepping `now`.

1. GetCompositeSchedule with 20 installed profiles of 48 periods each (5 ChargePointMax, 10 TxDefault on
   connectors 0 and 1 (Absolute, Daily, Weekly), 5 TxProfiles of the running transaction), for 24 h:
   the arithmetic alone (``ProfileSet.composite``) and the whole CALL (decode, schema check, handler,
   encode) through ``Station.receive``; median of many runs, in µs.
2. A 24-hour charging session with 10 s sampling (benchmarks/core_day.py) under those 20 profiles, whose
   limits change every 30 minutes (the power follows at each boundary), beside benchmarks/core_day.py itself
   in the same run.

    .venv/bin/python benchmarks/smart_charging.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import orjson

from ocpp_station.assembly import build_station
from ocpp_station.core.clock import iso
from ocpp_station.core.events import CardPresented
from ocpp_station.core.settings import StationSettings
from ocpp_station.store import MemoryStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import core_day  # noqa: E402

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ANSWERS = core_day.ANSWERS


def periods(seed: int) -> list[dict]:
    r = random.Random(seed)
    return [{"startPeriod": i * 1800, "limit": float(r.randint(60, 320)) / 10} for i in range(48)]


def profiles(tx_id: int) -> list[tuple[int, dict]]:
    out = []
    pid = 0
    for stack in range(5):
        for cid, purpose, kind, extra in [
            (0, "ChargePointMaxProfile", "Absolute", {}),
            (0, "TxDefaultProfile", "Recurring", {"recurrencyKind": "Daily"}),
            (1, "TxDefaultProfile", "Recurring" if stack % 2 else "Absolute", {"recurrencyKind": "Weekly"} if stack % 2 else {}),
            (1, "TxProfile", "Absolute", {"transactionId": tx_id}),
        ]:
            pid += 1
            out.append((cid, {
                "chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
                "chargingProfileKind": kind, **extra,
                "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": iso(T0 - 600 * stack),
                                     "duration": 86400 - 3600 * stack, "chargingSchedulePeriod": periods(pid)},
            }))
    return out


class Bench:
    def __init__(self, with_profiles: bool) -> None:
        self.st = build_station(
            StationSettings(ocpp={"MeterValueSampleInterval": "10", "HeartbeatInterval": "0"}),
            MemoryStore(), rng=random.Random(1),
        )
        self.now = T0
        self.sent = 0
        self.answers: dict[str, list] = {}
        st = self.st
        st.start(self.now)
        st.connection_made(self.now)
        self.pump()
        for ev in st.hardware.plug_in(1, self.now) + [CardPresented("TAG", 1)]:
            st.handle_event(ev, self.now)
        self.pump()
        if with_profiles:
            for cid, p in profiles(tx_id=1):
                ans = self.csms("SetChargingProfile", {"connectorId": cid, "csChargingProfiles": p})
                assert ans == [3, ans[1], {"status": "Accepted"}], ans

    def pump(self) -> None:
        while True:
            frames = self.st.data_to_send()
            if not frames:
                return
            for f in frames:
                msg = orjson.loads(f)
                if msg[0] == 2:
                    self.sent += 1
                    self.st.receive(orjson.dumps([3, msg[1], ANSWERS.get(msg[2], {})]).decode(), self.now)
                else:
                    self.answers[msg[1]] = msg

    def csms(self, action: str, payload: dict, uid: str = "b-1") -> list:
        self.st.receive(orjson.dumps([2, uid, action, payload]).decode(), self.now)
        self.pump()
        return self.answers.pop(uid)

    def day(self) -> tuple[float, float]:
        """(wall, CPU) seconds of the simulated day."""
        st = self.st
        c0 = time.process_time()
        t0 = time.perf_counter()
        end = self.now + 86400
        while (t := st.get_timer()) is not None and t <= end:
            self.now = t
            st.handle_timer(self.now)
            self.pump()
        return time.perf_counter() - t0, time.process_time() - c0


def composite_cost() -> None:
    b = Bench(with_profiles=True)
    sc = b.st.feature["SmartCharging"]
    assert len(sc.profiles) == 20
    starts = sc._tx_starts()
    ps = sc.profile_set
    got = ps.composite(1, T0, 86400, "A", starts)
    n = 200
    arith, call = [], []
    for _ in range(n):
        t = time.perf_counter()
        ps.composite(1, T0, 86400, "A", starts)
        arith.append(time.perf_counter() - t)
    payload = {"connectorId": 1, "duration": 86400, "chargingRateUnit": "A"}
    for i in range(n):
        t = time.perf_counter()
        ans = b.csms("GetCompositeSchedule", payload, uid=f"c-{i}")
        call.append(time.perf_counter() - t)
    assert ans[2]["status"] == "Accepted"
    grid = []
    for _ in range(n):
        t = time.perf_counter()
        ps.composite(0, T0, 86400, "W", starts)
        grid.append(time.perf_counter() - t)
    print(f"GetCompositeSchedule, 20 profiles × 48 periods, 24 h window ({len(got)} periods in the answer): "
          f"arithmetic {statistics.median(arith) * 1e6:.0f} µs, whole CALL {statistics.median(call) * 1e6:.0f} µs, "
          f"connector 0 (sum of connectors, W) {statistics.median(grid) * 1e6:.0f} µs (medians of {n})")


def main() -> None:
    composite_cost()
    plain = Bench(with_profiles=False)
    t_plain = plain.day()
    smart = Bench(with_profiles=True)
    hw = smart.st.hardware
    e0 = hw.read(1, smart.now).energy_wh
    t_smart = smart.day()
    kwh = (hw.read(1, smart.now).energy_wh - e0) / 1000
    print(f"24 h of charging, 10 s sampling, no profile: {plain.sent} CALLs in {t_plain[0]:.3f} s wall time "
          f"({t_plain[1]:.3f} s CPU)")
    print(f"24 h of charging, 10 s sampling, 20 profiles (limits change every 30 min): {smart.sent} CALLs in "
          f"{t_smart[0]:.3f} s wall time ({t_smart[1]:.3f} s CPU), {kwh:.1f} kWh delivered (11 kW unlimited would be "
          f"264 kWh)")
    print("benchmarks/core_day.py in the same run:")
    core_day.main()


if __name__ == "__main__":
    main()

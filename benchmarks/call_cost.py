"""Station-side cost of one simple CALL from the CSMS (decode, validate, dispatch, encode), beside the
`ocpp` package's ChargePoint doing the same work in the same run.

    .venv/bin/python benchmarks/call_cost.py
"""

import asyncio
import random
import time

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, ConfigurationStatus, DataTransferStatus

from ocpp_station.core.settings import StationSettings
from ocpp_station.assembly import build_station
from ocpp_station.store import MemoryStore

FRAMES = {
    "ChangeConfiguration": '[2,"{id}","ChangeConfiguration",{{"key":"BlinkRepeat","value":"5"}}]',
    "DataTransfer": '[2,"{id}","DataTransfer",{{"vendorId":"Other","messageId":"x","data":"y"}}]',
}
N = 20_000


def ours(action: str) -> float:
    st = build_station(StationSettings(), MemoryStore(), rng=random.Random(1))
    now = 1_767_225_600.0
    st.start(now)
    st.connection_made(now)
    st.receive('[3,"' + st.session.in_flight.unique_id + '",{"status":"Accepted","interval":0,'
               '"currentTime":"2026-01-01T00:00:00Z"}]', now)
    while st.session.in_flight is not None:  # answer the boot-time StatusNotifications
        st.receive(f'[3,"{st.session.in_flight.unique_id}",{{}}]', now)
    st.data_to_send()
    frames = [FRAMES[action].format(id=i) for i in range(N)]
    t0 = time.perf_counter()
    for f in frames:
        st.receive(f, now)
        st.data_to_send()
    return (time.perf_counter() - t0) / N


class _Conn:
    async def send(self, _text: str) -> None:
        pass

    async def recv(self) -> str:
        await asyncio.sleep(3600)


class _CP(ChargePoint):
    @on(Action.change_configuration)
    async def change_configuration(self, key, value, **kw):
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.data_transfer)
    async def data_transfer(self, vendor_id, **kw):
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)


def theirs(action: str) -> float:
    cp = _CP("CP001", _Conn())
    frames = [FRAMES[action].format(id=i) for i in range(N // 10)]

    async def run() -> float:
        t0 = time.perf_counter()
        for f in frames:
            await cp.route_message(f)
        return (time.perf_counter() - t0) / len(frames)

    return asyncio.run(run())


if __name__ == "__main__":
    for action in FRAMES:
        a, b = ours(action), theirs(action)
        print(f"{action:20s} ocpp-station {a * 1e6:7.1f} µs/CALL   ocpp ChargePoint {b * 1e6:7.1f} µs/CALL"
              f"   ratio {b / a:5.1f}x")

"""The fleet's builtin CSMS: the development CSMS, made deterministic, with seeded CSMS faults.

``python -m ocpp_station.fleet.csms_main --port 0 --boot-interval N [--seed S --error-rate E
--silence-rate Q]`` prints the same ``CSMS listening on ws://.../<identity>`` line as
``ocpp-station csms``. The differences:

* a StartTransaction's transactionId is derived from the CALL's message id (itself drawn from the
  station's seeded random generator) instead of one counter shared by every station, so a station's
  transaction ids do not depend on the order in which the CSMS happened to read the stations' sockets.
  (The stations ignore currentTime in virtual time, see :class:`~.sim.VirtualClock`.)
* the scenario's ``[csms] error_rate`` / ``silence_rate`` (:class:`CsmsFaults`): a seeded fraction of
  the CALLs is answered CALLERROR InternalError, or not at all (see :mod:`.faults`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import zlib
from typing import Any

from ..csms.server import DevCsms, StationLink
from ..ocpp.codec import encode
from ..ocpp.rpc import Call, CallError, ErrorCode
from .faults import FAULT_DESCRIPTION, CsmsFaults


def transaction_id(unique_id: str) -> int:
    """A positive int32 from the StartTransaction's message id (retries keep the id: same answer)."""
    return zlib.crc32(unique_id.encode()) % 2_000_000_000 + 1


class FleetCsms(DevCsms):
    """The development CSMS with :class:`CsmsFaults` in front of its answers."""

    def __init__(self, *args: Any, faults: CsmsFaults | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults if faults else None

    def _answer(self, link: StationLink, ws: Any, call: Call) -> str | None:
        if self.faults is not None:
            fault = self.faults.decide(link.identity, call.unique_id)
            if fault == "error":
                return encode(CallError(call.unique_id, ErrorCode.INTERNAL_ERROR, FAULT_DESCRIPTION))
            if fault == "silence":
                return None
        return super()._answer(link, ws, call)


async def serve(host: str, port: int, boot_interval: int, faults: CsmsFaults | None = None) -> None:
    csms = FleetCsms(host, port, boot_interval=boot_interval, log_frames=False, keep_history=False, faults=faults)

    def on_start(call: Any) -> dict[str, Any]:
        return {"transactionId": transaction_id(call.unique_id), "idTagInfo": csms.id_tag_info(call.payload["idTag"])}

    csms.on_call(None, "StartTransaction", on_start)
    async with csms:
        print(f"CSMS listening on {csms.url}/<identity>", flush=True)
        await asyncio.Future()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m ocpp_station.fleet.csms_main")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--boot-interval", type=int, default=60)
    p.add_argument("--seed", default="1", help="seed of the CSMS faults")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of CALLs answered CALLERROR InternalError")
    p.add_argument("--silence-rate", type=float, default=0.0, help="fraction of CALLs left unanswered")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args()
    logging.basicConfig(level=getattr(logging, args.log_level, logging.WARNING))
    try:
        asyncio.run(serve(args.host, args.port, args.boot_interval,
                          CsmsFaults(args.seed, args.error_rate, args.silence_rate)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

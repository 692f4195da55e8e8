"""The fleet's builtin CSMS for ``--virtual-time``: the development CSMS, made deterministic.

``python -m ocpp_station.fleet.csms_main --port 0 --boot-interval N`` prints the same
``CSMS listening on ws://.../<identity>`` line as ``ocpp-station csms``. The only difference: a
StartTransaction's transactionId is derived from the CALL's message id (itself drawn from the
station's seeded random generator) instead of one counter shared by every station, so a station's
transaction ids do not depend on the order in which the CSMS happened to read the stations' sockets.
(The stations ignore currentTime in virtual time, see :class:`~.sim.VirtualClock`.)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import zlib
from typing import Any

from ..csms.server import DevCsms


def transaction_id(unique_id: str) -> int:
    """A positive int32 from the StartTransaction's message id (retries keep the id: same answer)."""
    return zlib.crc32(unique_id.encode()) % 2_000_000_000 + 1


async def serve(host: str, port: int, boot_interval: int) -> None:
    csms = DevCsms(host, port, boot_interval=boot_interval, log_frames=False, keep_history=False)

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
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args()
    logging.basicConfig(level=getattr(logging, args.log_level, logging.WARNING))
    try:
        asyncio.run(serve(args.host, args.port, args.boot_interval))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

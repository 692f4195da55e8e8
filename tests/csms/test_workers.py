"""``ocpp-station csms --workers 2``: two processes on one port, one operator API in front of them."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import connect

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading is Linux's")

STATIONS = 16  # spread by the kernel's hash of the source ports: all on one worker has odds 2**-15


async def _station(url: str, identity: str, started: asyncio.Queue) -> None:
    """A bare station: boots, starts a transaction, then answers every CSMS CALL with {"status": "Accepted"}."""
    async with connect(f"{url}/{identity}", subprotocols=["ocpp1.6"], open_timeout=5) as ws:
        await ws.send(orjson.dumps([2, "b1", "BootNotification", {"chargePointVendor": "V",
                                                                  "chargePointModel": "M"}]).decode())
        assert orjson.loads(await ws.recv())[2]["status"] == "Accepted"
        await ws.send(orjson.dumps([2, "s1", "StartTransaction", {
            "connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": "2025-01-01T00:00:00Z"}]).decode())
        await started.put((identity, orjson.loads(await ws.recv())[2]["transactionId"]))
        async for message in ws:
            frame = orjson.loads(message)
            if frame[0] == 2:
                await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted", "identity": identity}]).decode())


async def test_two_workers_share_the_port_and_the_operator_api() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--operator-listen", "127.0.0.1:0",
        "--quiet", "--workers", "2", stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    tasks: list[asyncio.Task[Any]] = []
    try:
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(2)]
        url = re.search(r"CSMS listening on (ws://\S+)/<identity>", lines[0]).group(1)  # type: ignore[union-attr]
        api = re.search(r"Operator API on (http://\S+)", lines[1]).group(1)  # type: ignore[union-attr]
        started: asyncio.Queue = asyncio.Queue()
        tasks = [asyncio.create_task(_station(url, f"CP{i:02d}", started)) for i in range(STATIONS)]
        tx_ids = dict([await asyncio.wait_for(started.get(), 10) for _ in range(STATIONS)])
        assert len(set(tx_ids.values())) == STATIONS  # unique across the workers (worker I hands out I+1+2k)

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api}/stations") as r:
                stations = (await r.json())["stations"]
            assert sorted(s["identity"] for s in stations) == sorted(tx_ids)
            by_worker: dict[int, list[str]] = {}
            for s in stations:
                assert s["connected"] and [t["transactionId"] for t in s["openTransactions"]] == [tx_ids[s["identity"]]]
                by_worker.setdefault(s["worker"], []).append(s["identity"])
            assert sorted(by_worker) == [0, 1], by_worker  # both workers got stations
            for worker, ids in sorted(by_worker.items()):
                assert {tx_ids[i] % 2 for i in ids} == {(worker + 1) % 2}  # the worker's stripe of ids
                # a CALL to a station of each worker goes through the worker that holds it
                async with http.post(f"{api}/stations/{ids[0]}/call",
                                     json={"action": "ClearCache", "payload": {}, "validate": False}) as r:
                    assert r.status == 200, await r.text()
                    assert (await r.json())["payload"] == {"status": "Accepted", "identity": ids[0]}
            async with http.put(f"{api}/policy", json={"boot": {"interval": 77}}) as r:
                assert r.status == 200
            async with http.get(f"{api}/status") as r:
                status = await r.json()
            assert status["connected"] == STATIONS and status["callsReceived"] == 2 * STATIONS
            assert [w["worker"] for w in status["workers"]] == [0, 1]
            assert "maxPauseMs" in status["gc"]
        # the policy changed on both workers: a new station on either gets interval 77
        for i in range(4):
            async with connect(f"{url}/NEW{i}", subprotocols=["ocpp1.6"]) as ws:
                await ws.send('[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
                assert orjson.loads(await ws.recv())[2]["interval"] == 77
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0

"""The HMI's server side in process: the page and its static files, and ``GET /api/events`` (SSE).

An in-process StationRuntime (its loops not running) behind aiohttp's TestServer (``inprocess_api``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from inprocess_api import in_process_api

from ocpp_station.control import api as control_api


@pytest.fixture
async def served():
    async with in_process_api(connectors=2, fixed_cable=False) as served:
        yield served


class Stream:
    """Reads Server-Sent Events from a response."""

    def __init__(self, resp) -> None:
        self.resp = resp

    async def next(self, timeout: float = 5.0) -> tuple[str, Any, str | None]:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> tuple[str, Any, str | None]:
        event, data, eid = None, None, None
        while True:
            line = (await self.resp.content.readline()).decode()
            if line == "":
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if line == "":
                if event is not None:
                    return event, orjson.loads(data), eid
                continue
            if line.startswith(":") or line.startswith("retry:"):
                continue
            name, _, value = line.partition(": ")
            if name == "event":
                event = value
            elif name == "data":
                data = value
            elif name == "id":
                eid = value

    async def until(self, event: str, cond=lambda d: True, timeout: float = 5.0) -> Any:
        async def find():
            while True:
                ev, data, _ = await self._next()
                if ev == event and cond(data):
                    return data

        return await asyncio.wait_for(find(), timeout)


async def _eventually(cond, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_page_and_static_files(served) -> None:
    client, _rt = served
    resp = await client.get("/")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert "hmi/hmi.js" in html and "hmi/hmi.css" in html and 'role="alert"' in html
    for name, ctype in (("hmi.js", "text/javascript"), ("hmi.css", "text/css"), ("index.html", "text/html")):
        resp = await client.get(f"/hmi/{name}")
        assert resp.status == 200 and resp.content_type == ctype, name
    for bad in ("/hmi/nope.js", "/hmi/..%2Fapi.py", "/hmi/api.py", "/hmi/%2e%2e%2f__init__.py", "/hmi/"):
        assert (await client.get(bad)).status == 404, bad


async def test_events_stream_state_frames_and_cleanup(served) -> None:
    client, rt = served
    assert rt.frames.listeners == []  # nobody watches: nothing is listening
    backlog = len(rt.frames.records)
    resp = await client.get("/api/events")
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    s = Stream(resp)
    ev, doc, _ = await s.next()
    assert ev == "state" and [c["connectorId"] for c in doc["connectors"]] == [0, 1, 2]
    for _ in range(backlog):  # the recent frames follow the first state
        ev, rec, eid = await s.next()
        assert ev == "frame" and eid == str(rec["seq"])
    assert len(rt.frames.listeners) == 1

    # a logged frame is pushed, then a (coalesced) state
    rec = rt.frames.add("in", '[2,"abc","Heartbeat",{}]', rt.now())
    got = await s.until("frame")
    assert got["seq"] == rec.seq and got["action"] == "Heartbeat" and got["direction"] == "in"
    await s.until("state")

    # a control action pushes the new state (offline and never booted, the station sends no frame)
    assert (await client.post("/api/connectors/2/plug-in")).status == 200
    await s.until("state", lambda d: d["connectors"][2]["status"] == "Preparing")
    assert (await client.post("/api/network/disconnect")).status == 200
    await s.until("state", lambda d: d["network"] == "down")

    # a second page shares the one listener; the listener goes when the last page leaves
    resp2 = await client.get("/api/events")
    await Stream(resp2).until("state")
    assert len(rt.frames.listeners) == 1
    resp.close()
    resp2.close()
    await _eventually(lambda: rt.frames.listeners == [])
    hub = control_api.hub_of(rt)
    assert hub.clients == set() and hub._ticker is None


async def test_state_pushes_are_coalesced(served) -> None:
    client, rt = served
    resp = await client.get("/api/events")
    s = Stream(resp)
    await s.until("state")
    first = rt.frames.records[-1].seq if rt.frames.records else 0
    for i in range(50):
        rt.frames.add("in", f'[2,"m{i}","Heartbeat",{{}}]', rt.now())
    frames = states = 0
    while frames < 50:
        ev, data, _ = await s.next()
        if ev == "frame" and data["seq"] > first:
            frames += 1
        elif ev == "state":
            states += 1
    await s.until("state")  # the coalesced push after the burst
    assert states <= 1  # 50 frames in one loop step: at most one state in between
    resp.close()


async def test_last_event_id_resumes(served) -> None:
    client, rt = served
    recs = [rt.frames.add("in", f'[2,"r{i}","Heartbeat",{{}}]', rt.now()) for i in range(3)]
    resp = await client.get("/api/events", headers={"Last-Event-ID": str(recs[0].seq)})
    s = Stream(resp)
    ev, _doc, _ = await s.next()
    assert ev == "state"
    got = [(await s.next())[1]["seq"] for _ in range(2)]
    assert got == [recs[1].seq, recs[2].seq]
    resp.close()


async def test_shutdown_ends_open_streams(served) -> None:
    client, rt = served
    resp = await client.get("/api/events")
    await Stream(resp).until("state")
    # the server shuts down with a page open: the stream ends, the shutdown does not wait for it
    await asyncio.wait_for(client.close(), 5)
    assert rt.frames.listeners == []

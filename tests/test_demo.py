"""``ocpp-station demo`` in process: what happens when the page drives the station during the script."""

from __future__ import annotations

import asyncio
import io
import re
import sys

import aiohttp
import pytest

from ocpp_station.demo import run_demo

from e2e.conftest import free_port

pytestmark = pytest.mark.e2e


class Watched(io.StringIO):
    """sys.stdout that resolves a future when a line matching a pattern is written."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[tuple[re.Pattern, asyncio.Future]] = []

    def write(self, text: str) -> int:
        n = super().write(text)
        for pattern, fut in self.waits:
            if not fut.done() and pattern.search(self.getvalue()):
                fut.set_result(None)
        return n

    def expect(self, pattern: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waits.append((re.compile(pattern, re.M), fut))
        if re.search(pattern, self.getvalue(), re.M):
            fut.set_result(None)
        return fut


@pytest.mark.parametrize("keep_running", [True, False], ids=["keep-running", "once"])
async def test_demo_stall_with_keep_running_is_logged_and_the_station_stays_up(monkeypatch, capsys, keep_running):
    """The page takes the network down during the script: the step's frame never comes. With
    --keep-running the stall goes into the timeline and the station keeps serving; without, exit 1."""
    out = Watched()
    monkeypatch.setattr(sys, "stdout", out)
    port = free_port()
    page_up = out.expect(r"^HMI page: ")
    demo = asyncio.create_task(run_demo(("127.0.0.1", port), keep_running=keep_running, speed=10, stall_timeout=1.0))
    try:
        await asyncio.wait_for(page_up, 10)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/api/network/disconnect") as r:
                assert r.status == 200
            if not keep_running:
                assert await asyncio.wait_for(demo, 20) == 1
                assert capsys.readouterr().err == "demo: the scripted session stalled\n"
                return
            await asyncio.wait_for(out.expect(r"── the scripted session stalled \(no frame for 1 s"), 20)
            await asyncio.wait_for(out.expect(r"^Still running \(--keep-running\)"), 5)
            assert not demo.done()
            async with http.get(f"http://127.0.0.1:{port}/api/state") as r:  # the page still drives it
                assert r.status == 200
                assert (await r.json())["network"] == "down"
            assert not demo.done()
    finally:
        if not demo.done():
            demo.cancel()
        await asyncio.gather(demo, return_exceptions=True)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("profile", [2, 3])
async def test_demo_at_security_profile(profile, monkeypatch):
    """``demo --security-profile N``: the session runs over wss:// (TLS with a CA made for the demo; Basic auth on
    profile 2, the station's own certificate on profile 3) and the station reports StartupOfTheDevice."""
    out = Watched()
    monkeypatch.setattr(sys, "stdout", out)
    code = await asyncio.wait_for(run_demo(("127.0.0.1", 0), speed=20, security_profile=profile), 60)
    text = out.getvalue()
    assert code == 0, text
    assert "Development CSMS on wss://127.0.0.1:" in text
    assert re.search(r"station → CSMS  SecurityEventNotification +\{\"type\":\"StartupOfTheDevice\"", text), text
    assert "Session done: transaction 1" in text

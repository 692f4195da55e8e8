"""Fixtures for the dev CSMS tests: a running DevCsms and a minimal raw station client."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from ocpp_station.csms import DevCsms


class RawStation:
    """A bare OCPP-J client acting as a station: sends frames, reads frames, nothing else."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def send(self, frame: list[Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())

    async def recv(self, timeout: float = 2) -> list[Any]:
        async with asyncio.timeout(timeout):
            return orjson.loads(await self.ws.recv())

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 2) -> list[Any]:
        """Send a CALL and return the answer frame (CALLRESULT or CALLERROR) as a list."""
        uid = f"st-{next(self._ids)}"
        await self.send([2, uid, action, payload])
        frame = await self.recv(timeout)
        assert frame[1] == uid, frame
        return frame


@pytest.fixture
async def csms() -> AsyncIterator[DevCsms]:
    async with DevCsms(boot_interval=300) as server:
        yield server


@pytest.fixture
def station_factory(csms: DevCsms):
    """``async with station_factory("CP1") as st:`` opens a raw station connection to the CSMS."""

    def factory(identity: str = "CP1", subprotocols: list[str] | None = None, path: str | None = None):
        url = f"ws://127.0.0.1:{csms.port}{path}" if path is not None else f"{csms.url}/{identity}"
        return _Connected(url, ["ocpp1.6"] if subprotocols is None else subprotocols)

    return factory


class _Connected:
    def __init__(self, url: str, subprotocols: list[str]) -> None:
        self._cm = connect(url, subprotocols=subprotocols or None, open_timeout=2, max_size=4 * 1024 * 1024)

    async def __aenter__(self) -> RawStation:
        return RawStation(await self._cm.__aenter__())

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)

"""sd_notify against a Unix datagram socket the test listens on: READY, the watchdog while healthy, STOPPING,
from the notifier alone and from a real ``ocpp-station run`` process started as systemd would start it."""

from __future__ import annotations

import asyncio
import socket

import pytest

from ocpp_station.runtime.systemd import Notifier


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.setblocking(False)
    yield s, path
    s.close()


async def receive(sock: socket.socket, timeout: float = 10.0) -> str:
    loop = asyncio.get_running_loop()
    return (await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)).decode()


def test_outside_systemd_nothing_is_sent():
    n = Notifier({})
    assert not n.enabled and n.watchdog is None and n.notify("READY=1") is False


def test_the_watchdog_belongs_to_the_pid_systemd_names():
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "3000000"}).watchdog == 3.0
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}).watchdog is None
    assert Notifier({"NOTIFY_SOCKET": "@abstract"}).address == "\0abstract"


async def test_notify_and_pet_only_while_healthy(listener):
    sock, path = listener
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})  # 0.1 s: pets every 0.05 s
    assert n.notify("READY=1", "STATUS=up")
    assert await receive(sock) == "READY=1\nSTATUS=up"
    healthy = True
    task = asyncio.create_task(n.pet(lambda: healthy))
    try:
        assert await receive(sock) == "WATCHDOG=1"
        assert await receive(sock) == "WATCHDOG=1"
        healthy = False  # the store fails: no more pets
        await asyncio.sleep(0)  # a pet already sent may still be queued
        while True:
            try:
                sock.recv(4096)
            except BlockingIOError:
                break
        with pytest.raises(TimeoutError):
            await receive(sock, timeout=0.3)
        healthy = True
        assert await receive(sock) == "WATCHDOG=1"
    finally:
        task.cancel()

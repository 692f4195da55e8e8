"""A station deployed on a controller: ``ocpp-station run`` started as systemd starts a ``Type=notify`` unit
with a watchdog (the test listens on the notify socket), and the control API's health endpoint reporting a
Modbus meter that stops answering."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import pytest
from modbus_meter import MeterSim


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


async def test_ocpp_station_run_under_systemd_notify_e2e(listener, tmp_path, csms):
    sock, path = listener
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nidentity = "CP001"\ncsms_url = "{csms.url}"\ndata_dir = "{tmp_path / "data"}"\n')
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ocpp_station", "run", "--config", str(cfg),
                                                env=env, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    try:
        assert await receive(sock) == "READY=1\nSTATUS=station CP001 running"
        assert await receive(sock) == "WATCHDOG=1"
        assert await receive(sock) == "WATCHDOG=1"
        proc.send_signal(signal.SIGTERM)
        while (msg := await receive(sock)) == "WATCHDOG=1":
            pass
        assert msg == "STOPPING=1"
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_health_endpoint_reports_the_store_the_link_and_a_failing_meter_e2e(csms, booted):
    sim = MeterSim()
    port = await sim.start_tcp()
    try:
        st, link = await booted(hardware={"meter": "modbus-tcp", "meter_host": "127.0.0.1", "meter_port": port,
                                          "meter_poll_interval": 0.1, "meter_timeout": 0.3})
        code, doc = await st.api("GET", "/api/health")
        assert (code, doc) == (200, {"ok": True, "store": True, "csms": True,
                                     "hardware": {"meter": {"kind": "modbus-tcp", "failing": []}}})
        sim.fail = "exception"
        assert (await link.expect("StatusNotification")).payload["errorCode"] == "PowerMeterFailure"
        code, doc = await st.api("GET", "/api/health")
        assert code == 503 and doc["ok"] is False and doc["hardware"]["meter"]["failing"] == [1]
        sim.fail = None
        assert (await link.expect("StatusNotification")).payload["errorCode"] == "NoError"
        assert (await st.api("GET", "/api/health"))[0] == 200
        assert await st.stop() == 0
    finally:
        await sim.stop()

"""``ocpp-station fleet --control``: one station of a fleet driven through /api/stations/{identity}/."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp
import pytest

from ocpp_station.csms.server import DevCsms

SCENARIO = """
[fleet]
identity_pattern = "CT{n:03d}"
ramp_rate = 200.0
[station]
connectors = 2
[ocpp]
WebSocketPingInterval = 0
[driver]
sessions_per_hour = 0.0
"""


@pytest.mark.timeout(60)
async def test_one_station_of_twenty_driven_through_the_control_api(tmp_path):
    (tmp_path / "sc.toml").write_text(SCENARIO)
    async with DevCsms("127.0.0.1", 0, log_frames=False, boot_interval=300) as csms:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpp_station", "fleet", "--csms", csms.url, "--count", "20",
            "--scenario", str(tmp_path / "sc.toml"), "--duration", "120", "--no-progress",
            "--control", "127.0.0.1:0", "--drain-timeout", "10",
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            base = None
            while base is None:
                line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
                assert line, "fleet ended before serving the control API"
                m = re.search(r"control API on (http://\S+/api/stations)", line)
                if m:
                    base = m.group(1)
            async with aiohttp.ClientSession() as http:
                for _ in range(100):  # every station booted
                    async with http.get(base) as r:
                        doc = await r.json()
                    if doc["accepted"] == 20:
                        break
                    await asyncio.sleep(0.1)
                assert doc["count"] == 20 and doc["accepted"] == 20 and doc["connected"] == 20
                assert [s["identity"] for s in doc["stations"]] == [f"CT{n:03d}" for n in range(1, 21)]
                assert doc["stations"][6]["status"] == ["Available", "Available", "Available"]

                async with http.get(f"{base}/NOPE/state") as r:
                    assert r.status == 404
                    assert "NOPE" in (await r.json())["error"]
                async with http.post(f"{base}/CT007/connectors/3/plug-in") as r:
                    assert r.status == 404  # unknown connector of a known station

                async with http.post(f"{base}/CT007/connectors/2/plug-in") as r:
                    assert r.status == 200
                async with http.post(f"{base}/CT007/id-tag", json={"idTag": "CTRL01", "connectorId": 2}) as r:
                    assert r.status == 200
                start = await csms.link("CT007").expect("StartTransaction", timeout=10,
                                                       ignore=("BootNotification", "StatusNotification", "Authorize",
                                                               "Heartbeat"))
                assert start.payload["idTag"] == "CTRL01" and start.payload["connectorId"] == 2
                async with http.get(f"{base}/CT007/state") as r:
                    state = await r.json()
                assert state["identity"] == "CT007" and state["network"] == "up"
                assert state["connectors"][2]["status"] == "Charging"
                async with http.get(f"{base}/CT007/frames") as r:
                    frames = (await r.json())["frames"]
                assert any(f["action"] == "StartTransaction" and f["direction"] == "out" for f in frames)
                # exactly that identity started a transaction
                starters = [i for i, link in csms.links.items()
                            if any(c.action == "StartTransaction" for c in link.calls)]
                assert starters == ["CT007"]

                # the network: "drop" (the default) loses the link without a close frame, "close" closes it
                for identity, body, code in (("CT003", None, 1006), ("CT004", {"mode": "close"}, 1000)):
                    link = csms.link(identity)
                    ws = link.ws
                    async with http.post(f"{base}/{identity}/network/disconnect", json=body) as r:
                        assert r.status == 200 and (await r.json())["network"] == "down"
                    await link.wait_disconnected()
                    assert ws.close_code == code, identity
                async with http.post(f"{base}/CT003/network/disconnect", json={"mode": "cut"}) as r:
                    assert (r.status, (await r.json())["field"]) == (422, "mode")

                # power cut: the station restarts on its store, the process lives on
                async with http.post(f"{base}/CT007/power-cut") as r:
                    assert r.status == 200
                stop = await csms.link("CT007").expect("StopTransaction", timeout=15,
                                                      ignore=("StatusNotification", "BootNotification", "Heartbeat",
                                                              "MeterValues"))
                assert stop.payload["reason"] == "PowerLoss"
                assert proc.returncode is None
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode in (0, 1)


def test_control_refused_with_several_workers(capsys):
    from ocpp_station.cli import main

    assert main(["fleet", "--csms", "builtin", "--count", "4", "--workers", "2", "--control", "127.0.0.1:0"]) == 2
    assert "--control needs --workers 1" in capsys.readouterr().err

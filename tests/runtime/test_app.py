"""runtime/app.py: the reconnect rules (capped exponential back-off with jitter, no hammering of a CSMS that
takes the connection and drops it at once, a redirect it cannot follow; real websockets servers on
127.0.0.1) and the station's clock."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import serve

from ocpp_station.config import RunSettings
from ocpp_station.core.settings import StationSettings
from ocpp_station.runtime.app import StationRuntime
from ocpp_station.store import MemoryStore


async def test_a_csms_that_drops_every_connection_at_once_gets_a_growing_back_off():
    """Accepted handshakes that the CSMS closes before answering anything count as failures: the back-off
    grows instead of restarting at its minimum after every handshake."""

    async def drop(ws):
        await ws.close()

    async with serve(drop, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        seen = await _failure_counts(f"ws://127.0.0.1:{port}/ocpp", 4)
    assert seen == [1, 2, 3, 4]


async def test_a_redirect_to_a_non_websocket_url_is_a_failed_attempt_not_a_crash():
    """A CSMS answering the handshake with a redirect websockets cannot follow (http://) is one more failed
    connection attempt: the loop backs off and tries again, the station keeps running."""

    def redirect(connection, request):
        response = connection.respond(302, "moved\n")
        response.headers["Location"] = "http://127.0.0.1:1/elsewhere"
        return response

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=redirect) as server:
        port = server.sockets[0].getsockname()[1]
        seen = await _failure_counts(f"ws://127.0.0.1:{port}/ocpp", 2)
    assert seen == [1, 2]


async def _failure_counts(url: str, attempts: int) -> list[int]:
    """Run a station's connection loop against ``url`` for ``attempts`` back-offs; the failure count of each."""
    rt = _runtime(url)
    seen: list[int] = []

    async def backoff(failures: int) -> None:
        seen.append(failures)
        if len(seen) == attempts:
            rt.stop()

    rt._backoff = backoff
    await asyncio.wait_for(rt._connection_loop(), 10)
    return seen


def _runtime(url: str, store_factory=MemoryStore, **run: object) -> StationRuntime:
    settings = RunSettings(station=StationSettings(), csms_url=url, data_dir=None, control_listen=None,
                           config_path=None, **run)
    rt = StationRuntime(settings, store_factory)
    rt.station.start(rt.now())
    return rt


def test_runtime_now_does_not_follow_wall_clock_steps(monkeypatch):
    """An NTP step or a manual clock change must not freeze the station's deadlines (a step back) or fire
    them all at once (a step forward): ``now`` starts at wall time and then moves with the monotonic clock."""
    import time as time_mod

    rt = _runtime("ws://127.0.0.1:1/ocpp")
    start_wall, t0 = time_mod.time(), rt.now()
    assert abs(t0 - start_wall) < 1.0  # wall time at start-up
    real = time_mod.time
    monkeypatch.setattr(time_mod, "time", lambda: real() - 600)  # the wall clock steps 10 min back
    t1 = rt.now()
    assert 0 <= t1 - t0 < 1.0


async def test_websocket_ping_interval_change_applies_to_the_live_link():
    """ChangeConfiguration(WebSocketPingInterval) Accepted is in effect at once (spec §2.3): the open link's
    keepalive restarts at the new interval, and 0 stops it."""
    from ocpp_station.csms.server import DevCsms

    async with DevCsms() as csms:
        rt = _runtime(csms.url)
        loop_task = asyncio.create_task(rt._connection_loop())
        try:
            link = await csms.wait_connected("CP001")
            await link.expect("BootNotification")
            ws = rt._ws
            assert ws.ping_interval == 10  # the seed's default
            conf = await link.call("ChangeConfiguration", {"key": "WebSocketPingInterval", "value": "3"})
            assert conf == {"status": "Accepted"}
            assert rt._ws is ws and ws.ping_interval == 3 and ws.ping_timeout == 3
            assert ws.keepalive_task is not None and not ws.keepalive_task.done()
            conf = await link.call("ChangeConfiguration", {"key": "WebSocketPingInterval", "value": "0"})
            assert conf == {"status": "Accepted"}
            assert ws.ping_interval is None and ws.keepalive_task is None
        finally:
            rt.stop()
            loop_task.cancel()
            await asyncio.gather(loop_task, return_exceptions=True)


def test_meter_start_wh_sets_the_register_of_a_new_store_only():
    """[hardware] meter_start_wh is the simulated meter's register on a new data_dir; a register already saved
    continues from its value (a register never goes back, [ERRATA] 3.9)."""
    store = MemoryStore()
    rt = _runtime("ws://127.0.0.1:1/ocpp", lambda: store, meter_start_wh=987_654)
    assert rt.hardware.read(1, rt.now()).energy_wh == 987_654
    rt.hardware.set_relay(1, False, rt.now())  # the register is saved
    again = _runtime("ws://127.0.0.1:1/ocpp", lambda: store, meter_start_wh=5)
    assert again.hardware.read(1, again.now()).energy_wh == 987_654


async def test_a_second_stop_cuts_the_stop_grace_short():
    """A graceful stop waits up to stop_grace for its StopTransaction(Reboot) to be answered; a second signal
    (stop() again) ends the wait at once, the message staying queued in the store."""
    from ocpp_station.core.events import CardPresented
    from ocpp_station.csms.server import DevCsms

    store = MemoryStore()
    async with DevCsms() as csms:
        settings = RunSettings(station=StationSettings(), csms_url=csms.url, data_dir=None, control_listen=None,
                               config_path=None, stop_grace=30.0)
        rt = StationRuntime(settings, lambda: store)
        run = asyncio.create_task(rt.run())
        link = await csms.wait_connected("CP001")
        await link.expect("BootNotification")
        await link.expect_unordered(["StatusNotification"] * 2)
        rt.feed(rt.hardware.plug_in(1, rt.now()))
        rt.feed([CardPresented("VALID01", 1)])
        await link.expect("StartTransaction", ignore=("StatusNotification", "Authorize"))
        link.drop_next("StopTransaction")  # the CSMS never answers it
        rt.stop()
        stop = await link.expect("StopTransaction", ignore=("StatusNotification",))
        assert stop.payload["reason"] == "Reboot"
        assert not run.done()  # waiting for the answer
        rt.stop()
        assert await asyncio.wait_for(run, 3) == 0
    assert [rec["action"] for _, rec in store.queue_items("outbox")] == ["StopTransaction"]

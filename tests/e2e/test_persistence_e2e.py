"""What a power cut and a graceful stop leave for the CSMS, end to end (docs/persistence.md): a real
``ocpp-station run`` process, SIGKILL as the power cut, SIGTERM as ``systemctl stop``."""

import asyncio
import time
from datetime import datetime

TAG = "VALID01"
POWER_W = 22000.0  # the simulated station's maximum: the most energy a lost interval can hold


def _t(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


async def _charging(st, link, power_w: float = POWER_W):
    """Plug in, card: StartTransaction + Charging; returns the StartTransaction."""
    await st.ev("charging", power_w=power_w)
    await st.plug_in()
    assert (await link.expect("StatusNotification")).payload["status"] == "Preparing"
    await st.card(TAG)
    await link.expect("Authorize")
    got = {c.action: c for c in await link.expect_unordered(["StartTransaction", "StatusNotification"])}
    assert got["StatusNotification"].payload["status"] == "Charging"
    return got["StartTransaction"]


async def _session_wh(st, at_least: float, timeout: float = 20.0) -> tuple[float, float]:
    """Wait until the transaction in progress has taken ``at_least`` Wh; (energy register, wall time) then."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        t = time.time()
        c = (await st.state())["connectors"][1]
        if c["sessionEnergyWh"] is not None and c["sessionEnergyWh"] >= at_least:
            return c["energyWh"], t
        assert asyncio.get_running_loop().time() < deadline, c
        await asyncio.sleep(0.05)


async def test_power_cut_mid_session_stops_with_the_register_saved_within_meter_save_interval(booted, station_factory):
    """SIGKILL after 20 Wh of a session whose MeterValues are 900 s apart (none sampled yet): after the restart,
    StopTransaction(PowerLoss) carries a meterStop at most meter_save_interval × 22 kW (+1 Wh of rounding) below
    the register seen before the kill, and the time of that save ([SPEC] §4.10; docs/persistence.md). The
    register starts at [hardware] meter_start_wh."""
    cfg = dict(station={"meter_save_interval": 1}, hardware={"meter_start_wh": 5_000_000},
               ocpp={"MeterValueSampleInterval": 900})
    st, link = await booted(**cfg)
    start = await _charging(st, link)
    assert start.payload["meterStart"] == 5_000_000
    register, seen_at = await _session_wh(st, 20)
    await st.kill()
    killed_at = time.time()
    st2 = await station_factory(config_name="CP001-again.toml", **cfg)
    await link.expect("BootNotification", timeout=15)
    calls = []
    while not (any(c.action == "StopTransaction" for c in calls)
               and sum(c.action == "StatusNotification" for c in calls) == 2):
        calls.append(await link.next_call(timeout=10))
    assert [c.action for c in calls if c.action not in ("StatusNotification",)] == ["StopTransaction"]
    stop = next(c for c in calls if c.action == "StopTransaction")
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["transactionId"] == link.last_transaction_id
    # meter_save_interval = 1 s at 22 kW, plus the Wh the integer register drops; +0.5 s for the event loop's
    # latency in firing the save on a loaded machine
    bound = POWER_W * (1 + 0.5) / 3600 + 1
    assert int(register) - bound <= stop.payload["meterStop"] <= int(register) + bound
    assert stop.payload["meterStop"] - start.payload["meterStart"] >= 20 - bound
    assert seen_at - 1.5 <= _t(stop.payload["timestamp"]) <= killed_at + 0.5  # the time of the last save
    assert stop.payload["transactionData"][-1]["timestamp"] == stop.payload["timestamp"]
    assert await st2.stop() == 0


async def test_after_a_reconnect_the_stop_of_a_session_ended_offline_goes_before_available(booted):
    """A session stopped and unplugged while the link is down: after the reconnect its StopTransaction reaches the
    CSMS before StatusNotification(Available) (features.core.status; [SPEC] §3.7)."""
    st, link = await booted(ocpp={"MeterValueSampleInterval": 0})
    start = await _charging(st, link)
    await st.network(False)
    await link.wait_disconnected()
    await st.card(TAG)  # the driver stops offline
    await st.plug_out()
    assert (await st.state())["connectors"][1]["status"] == "Available"
    n = link.connections
    await st.network(True)
    await link.csms.wait_connected(link.identity, after=n)
    first, second = await link.next_call(), await link.next_call()
    assert (first.action, first.payload["reason"]) == ("StopTransaction", "Local")
    assert first.payload["transactionId"] == link.last_transaction_id
    assert first.payload["meterStop"] >= start.payload["meterStart"]
    assert (second.action, second.payload["connectorId"], second.payload["status"]) == (
        "StatusNotification", 1, "Available")
    await link.no_call(0.5, ignore=("Heartbeat",))
    assert await st.stop() == 0


async def _restart_and_boot(station_factory, link, **cfg):
    """Start the station again on its data_dir: BootNotification, then the two StatusNotifications; returns the
    CALLs after the BootNotification until both statuses came (and anything queued with them)."""
    n = link.connections
    st = await station_factory(config_name="CP001-again.toml", **cfg)
    await link.csms.wait_connected(link.identity, after=n)
    await link.expect("BootNotification", timeout=15)
    calls = []
    while sum(c.action == "StatusNotification" for c in calls) < 2:
        calls.append(await link.next_call(timeout=10))
    return st, calls


async def test_sigterm_mid_session_stops_the_transaction_as_reboot_before_exit_0(booted, station_factory):
    """SIGTERM while charging (systemctl stop/restart): StopTransaction reason Reboot with the meter's value and
    time at the signal reaches the CSMS, then the process exits 0; the next start reports nothing more (no
    PowerLoss stop) and the connector comes up Finishing, the cable being in ([SPEC] §7.36; docs/persistence.md)."""
    cfg = dict(ocpp={"MeterValueSampleInterval": 900})
    st, link = await booted(**cfg)
    start = await _charging(st, link)
    register, seen_at = await _session_wh(st, 5)
    st.proc.send_signal(__import__("signal").SIGTERM)
    got = {c.action: c for c in await link.expect_unordered(["StopTransaction", "StatusNotification"])}
    stop = got["StopTransaction"]
    assert stop.payload["reason"] == "Reboot"
    assert stop.payload["transactionId"] == link.last_transaction_id
    assert int(register) <= stop.payload["meterStop"] <= int(register) + 10  # the register at the signal
    assert stop.payload["meterStop"] - start.payload["meterStart"] >= 5
    assert seen_at - 0.5 <= _t(stop.payload["timestamp"]) <= time.time() + 0.5
    assert got["StatusNotification"].payload["status"] == "Finishing"
    assert await st.wait_exit() == 0
    await link.wait_disconnected()
    st2, calls = await _restart_and_boot(station_factory, link, **cfg)
    assert {c.payload["connectorId"]: c.payload["status"] for c in calls} == {0: "Available", 1: "Finishing"}
    assert [c.action for c in calls] == ["StatusNotification"] * 2
    await link.no_call(1.0, ignore=("Heartbeat",))  # no StopTransaction again, no PowerLoss
    assert await st2.stop() == 0


async def test_sigterm_with_the_csms_unreachable_keeps_the_reboot_stop_queued_for_the_next_start(
        booted, station_factory):
    """SIGTERM while charging with the link down: the transaction is stopped (Reboot) and the process exits 0 at
    once, without waiting stop_grace for a CSMS it cannot reach; the StopTransaction stays queued in the store
    and is delivered after the next start, still reason Reboot."""
    cfg = dict(station={"stop_grace": 30})
    st, link = await booted(**cfg)
    await _charging(st, link)
    tx_id = link.last_transaction_id
    await st.network(False)
    await link.wait_disconnected()
    t0 = asyncio.get_running_loop().time()
    assert await st.stop(timeout=10) == 0
    assert asyncio.get_running_loop().time() - t0 < 5  # far less than stop_grace
    st2, calls = await _restart_and_boot(station_factory, link, **cfg)
    while not any(c.action == "StopTransaction" for c in calls):
        calls.append(await link.next_call(timeout=10))
    [stop] = [c for c in calls if c.action == "StopTransaction"]
    assert stop.payload["reason"] == "Reboot" and stop.payload["transactionId"] == tx_id
    assert {c.payload["connectorId"]: c.payload["status"] for c in calls if c.action == "StatusNotification"} == {
        0: "Available", 1: "Finishing"}
    await link.no_call(1.0, ignore=("Heartbeat",))
    assert await st2.stop() == 0


async def test_sigterm_with_a_silent_csms_waits_stop_grace_then_exits_0_and_sends_the_stop_again(
        booted, station_factory):
    """The CSMS takes the StopTransaction(Reboot) but never answers: the station waits stop_grace (1 s), exits 0,
    and sends the same message (same message id) after the next start."""
    cfg = dict(station={"stop_grace": 1})
    st, link = await booted(**cfg)
    await _charging(st, link)
    link.drop_next("StopTransaction")
    st.proc.send_signal(__import__("signal").SIGTERM)
    t0 = asyncio.get_running_loop().time()
    first = await link.expect("StopTransaction", ignore=("StatusNotification",))
    assert await st.wait_exit() == 0
    assert 0.9 <= asyncio.get_running_loop().time() - t0 < 5
    st2, calls = await _restart_and_boot(station_factory, link, **cfg)
    while not any(c.action == "StopTransaction" for c in calls):
        calls.append(await link.next_call(timeout=10))
    [again] = [c for c in calls if c.action == "StopTransaction"]
    assert again.unique_id == first.unique_id and again.payload == first.payload
    assert await st2.stop() == 0

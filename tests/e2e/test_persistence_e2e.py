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
    bound = POWER_W * 1 / 3600 + 1  # meter_save_interval = 1 s at 22 kW, plus the Wh the integer register drops
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

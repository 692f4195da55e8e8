"""Smart Charging end to end (OCTT TC_056, TC_057, TC_058_1, TC_058_2, TC_059, TC_060, TC_066, TC_067, TC_072, TC_082)
with a real ``ocpp-station run`` process, websocket, SQLite file and control API.

Each case asserts the exact composite schedule (GetCompositeSchedule's window starts when the request arrives,
[ERRATA] 3.28; the profiles start at a whole second ``S`` just before, so the expected periods are the case's
numbers shifted by ``scheduleStart - S``) and the power the station reports in MeterValues: the simulated EV
asks 11 kW, the station lets it take no more than the limit (``Power.Offered``). MeterValueSampleInterval is 1 s;
a sample counts when it was taken after the change (its timestamp), never after a sleep."""

from __future__ import annotations

import math
import time

import pytest
from e2e_steps import SN, split, status

from ocpp_station.core.clock import iso, parse_iso
from ocpp_station.csms.server import CallErrorReceived

V = 230.0
EV_W = 11000.0  # what the simulated EV draws when nothing limits it
HW_A = 32.0  # [hardware] max_current: the composite where no profile sets a limit
OCPP = {
    "MeterValueSampleInterval": 1,
    "MeterValuesSampledData": "Power.Active.Import,Power.Offered",
    "AuthorizeRemoteTxRequests": False,
}
MV = ("MeterValues",)


def watts(amps: float, phases: int = 3) -> float:
    return amps * V * phases  # [ERRATA] 3.69


def sched(*periods, unit="A", start=None, duration=None):
    s = {"chargingRateUnit": unit,
         "chargingSchedulePeriod": [{"startPeriod": p, "limit": float(lim), **({"numberPhases": ph[0]} if ph else {})}
                                    for p, lim, *ph in periods]}
    if start is not None:
        s["startSchedule"] = iso(start)
    if duration is not None:
        s["duration"] = duration
    return s


def prof(pid, purpose, schedule, stack=0, kind="Absolute", **kw):
    return {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": schedule, **kw}


async def set_profile(link, cid, p) -> str:
    return (await link.call("SetChargingProfile", {"connectorId": cid, "csChargingProfiles": p}))["status"]


async def composite(link, cid: int, duration: int, unit: str = "A"):
    """GetCompositeSchedule: (scheduleStart as epoch seconds, [(startPeriod, limit[, numberPhases])])."""
    conf = await link.call("GetCompositeSchedule", {"connectorId": cid, "duration": duration, "chargingRateUnit": unit})
    assert set(conf) == {"status", "connectorId", "scheduleStart", "chargingSchedule"}, conf
    assert (conf["status"], conf["connectorId"]) == ("Accepted", cid)
    cs = conf["chargingSchedule"]
    assert set(cs) == {"duration", "chargingRateUnit", "chargingSchedulePeriod"}  # [ERRATA] 3.57: no startSchedule
    assert (cs["duration"], cs["chargingRateUnit"]) == (duration, unit)
    periods = [tuple(q[k] for k in ("startPeriod", "limit", "numberPhases") if k in q)
               for q in cs["chargingSchedulePeriod"]]
    return parse_iso(conf["scheduleStart"]), periods


def shifted(steps, start: float, t0: float, duration: int):
    """The composite from ``t0`` of limits ``steps`` [(seconds from ``start``, limit)]: what began before ``t0``
    is at 0, what begins at or after ``t0 + duration`` is not there, equal neighbours merged."""
    out: list[tuple] = []
    for p, *rest in steps:
        s = max(0, round(start + p - t0))
        if s >= max(duration, 1):
            break
        q = (s, *rest)
        if out and out[-1][0] == s:
            out[-1] = q
        elif not out or out[-1][1:] != q[1:]:
            out.append(q)
    return out


async def sample_after(link, since: float, timeout: float = 5) -> dict[str, float]:
    """The measurands of the first MeterValues sample taken at or after wall time ``since``."""
    deadline = time.monotonic() + timeout
    while True:
        mv = await link.expect("MeterValues", timeout=max(0.1, deadline - time.monotonic()))
        for v in mv.payload["meterValue"]:
            if parse_iso(v["timestamp"]) >= since:
                return {sv["measurand"]: float(sv["value"]) for sv in v["sampledValue"]}


async def power_now(link, limit_w: float | None) -> float:
    """Assert the power in the next sample: min(EV, limit), and the station offers the limit."""
    got = await sample_after(link, time.time())
    assert got["Power.Active.Import"] == (EV_W if limit_w is None else min(EV_W, limit_w)), got
    assert got["Power.Offered"] == (22000.0 if limit_w is None else min(22000.0, limit_w)), got
    return got["Power.Active.Import"]


async def charging(st, link, tag: str = "TAG1") -> int:
    """Reusable state Charging (plug first); returns the transactionId."""
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card(tag)
    assert (await link.expect("Authorize")).payload == {"idTag": tag}
    got = split(await link.expect_unordered(["StartTransaction", SN], ignore=MV))
    assert status(got[SN]) == (1, "Charging", "NoError")
    return link.last_transaction_id


def whole_second() -> float:
    return float(math.floor(time.time()))


async def limit_w(st, cid: int = 1):
    return next(c for c in (await st.state())["connectors"] if c["connectorId"] == cid)["limitW"]


# -- the cases ------------------------------------------------------------------------------------------------


async def test_tc_056_cs_central_smart_charging_tx_default_profile_e2e(booted):
    """TC_056_CS: a TxDefaultProfile (Absolute, 6 A on one phase, duration 304) is Accepted; the composite for 300 s
    shows it with no transaction running (MicroOcpp 3b1759e); a transaction then charges at 6 A × 230 V."""
    st, link = await booted(ocpp=OCPP)
    s = whole_second()
    p = prof(1, "TxDefaultProfile", sched((0, 6, 1), start=s, duration=304))
    assert await set_profile(link, 1, p) == "Accepted"
    t0, got = await composite(link, 1, 300)
    assert got == [(0, 6.0, 1)]
    assert await limit_w(st) == watts(6, 1)
    await charging(st, link)
    assert await power_now(link, watts(6, 1)) == 1380.0
    t0, got = await composite(link, 1, 300)
    assert got == [(0, 6.0, 1)]
    assert await st.stop() == 0


async def test_tc_057_cs_central_smart_charging_tx_profile_e2e(booted):
    """TC_057_CS: Charging; a TxProfile for the running transactionId ([0:6, 60:10, 120:8] A, duration 260) is
    Accepted; the composite shows it, then the hardware maximum; the EV is held to 6 A."""
    st, link = await booted(ocpp=OCPP)
    tx = await charging(st, link)
    assert await power_now(link, None) == EV_W
    s = whole_second()
    p = prof(2, "TxProfile", sched((0, 6), (60, 10), (120, 8), start=s, duration=260), transactionId=tx)
    assert await set_profile(link, 1, p) == "Accepted"
    t0, got = await composite(link, 1, 300)
    assert got == shifted([(0, 6.0), (60, 10.0), (120, 8.0), (260, HW_A)], s, t0, 300)
    assert await power_now(link, watts(6)) == 4140.0
    assert await st.stop() == 0


async def test_tc_058_1_cs_tx_profile_without_ongoing_transaction_e2e(booted):
    """TC_058_1_CS: no transaction: a TxProfile is Rejected and nothing is stored; the composite is the hardware's,
    and a later transaction charges unlimited."""
    st, link = await booted(ocpp=OCPP)
    p = prof(3, "TxProfile", sched((0, 6)), kind="Relative")
    assert await set_profile(link, 1, p) == "Rejected"
    t0, got = await composite(link, 1, 300)
    assert got == [(0, HW_A)]
    await charging(st, link)
    assert await power_now(link, None) == EV_W
    assert await st.stop() == 0


async def test_tc_058_2_cs_tx_profile_with_wrong_transaction_id_e2e(booted):
    """TC_058_2_CS: Charging; a TxProfile for another transactionId is Rejected; nothing changes."""
    st, link = await booted(ocpp=OCPP)
    tx = await charging(st, link)
    p = prof(4, "TxProfile", sched((0, 6)), kind="Relative", transactionId=tx + 1)
    assert await set_profile(link, 1, p) == "Rejected"
    t0, got = await composite(link, 1, 300)
    assert got == [(0, HW_A)]
    assert await power_now(link, None) == EV_W
    assert await limit_w(st) is None
    assert await st.stop() == 0


async def test_tc_059_cs_remote_start_with_charging_profile_e2e(booted):
    """TC_059_CS: RemoteStartTransaction with a TxProfile (Relative [0:6, 60:10] A, duration 200, no transactionId)
    is Accepted; the transaction runs under it: composite per the profile from the transaction's start, 6 A."""
    st, link = await booted(ocpp=OCPP)
    p = prof(5, "TxProfile", sched((0, 6), (60, 10), duration=200), kind="Relative")
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1", "chargingProfile": p}) == {
        "status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    got = split(await link.expect_unordered(["StartTransaction", SN], ignore=MV))
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    assert status(got[SN]) == (1, "Charging", "NoError")
    started = parse_iso(got["StartTransaction"].payload["timestamp"])
    t0, periods = await composite(link, 1, 300)
    assert periods == shifted([(0, 6.0), (60, 10.0), (200, HW_A)], started, t0, 300)
    assert await power_now(link, watts(6)) == 4140.0
    assert await st.stop() == 0


async def test_tc_060_cs_remote_start_with_charging_profile_rejected_e2e(booted):
    """TC_060_CS: RemoteStartTransaction whose profile is not a TxProfile is Rejected: no transaction, no profile."""
    st, link = await booted(ocpp=OCPP)
    p = prof(6, "TxDefaultProfile", sched((0, 6)), kind="Relative")
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1", "chargingProfile": p}) == {
        "status": "Rejected"}
    await link.no_call(1)
    t0, got = await composite(link, 1, 300)
    assert got == [(0, HW_A)]
    assert await st.stop() == 0


async def test_tc_066_cs_get_composite_schedule_e2e(booted):
    """TC_066_CS (spec digest §6.8): ChargePointMaxProfile 10 A + TxDefaultProfile + TxProfile of the transaction,
    GetCompositeSchedule(1, 400 s, A) ⇒ [0:8, 50:10, 200:6, 240:10, 260:8, 300:10]; connector 0 the same (one
    connector); the EV takes 8 A."""
    st, link = await booted(ocpp=OCPP)
    tx = await charging(st, link)
    s = whole_second()
    assert await set_profile(link, 0, prof(10, "ChargePointMaxProfile", sched((0, 10), start=s, duration=86400))) == "Accepted"
    assert await set_profile(link, 1, prof(11, "TxDefaultProfile", sched(
        (0, 6), (60, 10), (120, 8), (180, 25), (260, 8), start=s, duration=300))) == "Accepted"
    assert await set_profile(link, 1, prof(12, "TxProfile", sched(
        (0, 8), (50, 11), (140, 16), (200, 6), (240, 12), start=s, duration=260), transactionId=tx)) == "Accepted"
    expected = [(0, 8.0), (50, 10.0), (200, 6.0), (240, 10.0), (260, 8.0), (300, 10.0)]
    t0, got = await composite(link, 1, 400)
    assert got == shifted(expected, s, t0, 400)
    t0, got = await composite(link, 0, 400)
    assert got == shifted(expected, s, t0, 400)
    t0, got = await composite(link, 1, 400, "W")
    assert got == shifted([(p, watts(a)) for p, a in expected], s, t0, 400)
    assert await power_now(link, watts(8)) == 5520.0
    assert await st.stop() == 0


async def test_tc_067_cs_clear_charging_profile_e2e(booted):
    """TC_067_CS: a TxDefaultProfile stack 1 ([0:6, 60:8, 200:10] A, duration 400) in force, three rounds of
    ClearChargingProfile (by id; by purpose and stackLevel; everything) Accepted, each followed by the composite
    without it and the EV back to 11 kW; clearing what is not there answers Unknown."""
    st, link = await booted(ocpp=OCPP)
    await charging(st, link)
    steps = [(0, 6.0), (60, 8.0), (200, 10.0), (400, HW_A)]
    clears = [{"id": 20}, {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}, {}]
    for clear in clears:
        s = whole_second()
        p = prof(20, "TxDefaultProfile", sched((0, 6), (60, 8), (200, 10), start=s, duration=400), stack=1)
        assert await set_profile(link, 1, p) == "Accepted"
        t0, got = await composite(link, 1, 500)
        assert got == shifted(steps, s, t0, 500)
        assert await power_now(link, watts(6)) == 4140.0
        assert await link.call("ClearChargingProfile", clear) == {"status": "Accepted"}
        t0, got = await composite(link, 1, 500)
        assert got == [(0, HW_A)]
        assert await power_now(link, None) == EV_W
    assert await link.call("ClearChargingProfile", {"id": 20}) == {"status": "Unknown"}
    assert await st.stop() == 0


async def test_tc_072_cs_stacking_charging_profiles_e2e(booted):
    """TC_072_CS (spec digest §6.8): TxDefault stack 0 [0:6, 100:8, 200:10] (400 s) and stack 1 [0:7, 100:9]
    (150 s): composite for 350 s ⇒ [0:7, 100:9, 150:8, 200:10]; the higher stack level drives the EV: 7 A."""
    st, link = await booted(ocpp=OCPP)
    await charging(st, link)
    s = whole_second()
    assert await set_profile(link, 1, prof(30, "TxDefaultProfile", sched(
        (0, 6), (100, 8), (200, 10), start=s, duration=400))) == "Accepted"
    assert await set_profile(link, 1, prof(31, "TxDefaultProfile", sched(
        (0, 7), (100, 9), start=s, duration=150), stack=1)) == "Accepted"
    t0, got = await composite(link, 1, 350)
    assert got == shifted([(0, 7.0), (100, 9.0), (150, 8.0), (200, 10.0)], s, t0, 350)
    assert await power_now(link, watts(7)) == 4830.0
    assert await st.stop() == 0


async def test_tc_082_cs_tx_default_profile_with_ongoing_transaction_e2e(booted):
    """TC_082_CS ([ERRATA] 3.8): Charging at 11 kW without a profile; a TxDefaultProfile [0:6, 60:10, 120:8] A is
    Accepted and applies to the running transaction at once: composite per the profile, the EV drops to 6 A."""
    st, link = await booted(ocpp=OCPP)
    await charging(st, link)
    assert await power_now(link, None) == EV_W
    s = whole_second()
    p = prof(40, "TxDefaultProfile", sched((0, 6), (60, 10), (120, 8), start=s))
    assert await set_profile(link, 1, p) == "Accepted"
    t0, got = await composite(link, 1, 300)
    assert got == shifted([(0, 6.0), (60, 10.0), (120, 8.0)], s, t0, 300)
    assert await power_now(link, watts(6)) == 4140.0
    assert await st.stop() == 0


# -- the limit is physical, and it persists -------------------------------------------------------------------


async def test_power_follows_a_period_boundary_within_a_second_e2e(booted):
    """A TxProfile [0: 6 A, 3: 10 A, 6: 0 A]: the samples before each boundary show the old power, those taken a
    second after it the new one; at 0 A the connector is SuspendedEVSE; the control API shows limitW."""
    st, link = await booted(ocpp=OCPP)
    tx = await charging(st, link)
    s = whole_second() + 1
    p = prof(50, "TxProfile", sched((0, 6), (3, 10), (6, 0), start=s), transactionId=tx)
    assert await set_profile(link, 1, p) == "Accepted"
    got = await sample_after(link, s + 0.05)
    assert got["Power.Active.Import"] == watts(6)
    got = await sample_after(link, s + 3 + 1.0)
    assert got["Power.Active.Import"] == watts(10)
    assert await limit_w(st) == watts(10)
    assert status(await link.expect(SN, timeout=8, ignore=MV)) == (1, "SuspendedEVSE", "NoError")
    got = await sample_after(link, s + 6 + 1.0)
    assert (got["Power.Active.Import"], got["Power.Offered"]) == (0.0, 0.0)
    assert await limit_w(st) == 0.0
    assert await st.stop() == 0


async def test_profiles_survive_kill_9_e2e(csms, station_factory, tmp_path):
    """[ERRATA] 3.37: profiles are in the SQLite file before the answer; after kill -9 the composite is the same,
    a replaced profile does not come back, and the next transaction charges under them."""
    data = tmp_path / "data"
    st = await station_factory(data_dir=data, ocpp=OCPP)
    link = await csms.wait_connected(st.identity)
    await link.expect("BootNotification")
    await link.expect_unordered([SN, SN])
    s = whole_second()
    assert await set_profile(link, 0, prof(60, "ChargePointMaxProfile", sched((0, 20), start=s))) == "Accepted"
    assert await set_profile(link, 0, prof(61, "TxDefaultProfile", sched((0, 6), (60, 12), start=s))) == "Accepted"
    assert await set_profile(link, 0, prof(62, "TxDefaultProfile", sched((0, 7), (60, 13), start=s))) == "Accepted"
    t0, before = await composite(link, 1, 600)
    assert before == shifted([(0, 7.0), (60, 13.0)], s, t0, 600)
    await st.kill()
    st2 = await station_factory(data_dir=data, config_name="again.toml", ocpp=OCPP)
    await link.expect("BootNotification")
    await link.expect_unordered([SN, SN])
    t0, after = await composite(link, 1, 600)
    assert after == shifted([(0, 7.0), (60, 13.0)], s, t0, 600)
    t0, grid = await composite(link, 0, 600)
    assert grid == shifted([(0, 7.0), (60, 13.0)], s, t0, 600)
    await charging(st2, link)
    expected = watts(7) if time.time() < s + 59 else watts(13)
    assert await power_now(link, expected) == expected
    assert await st2.stop() == 0


async def test_set_charging_profile_unknown_connector_is_a_callerror_e2e(booted):
    """[ERRATA] 3.39: a connectorId the station does not have: CALLERROR PropertyConstraintViolation."""
    st, link = await booted(ocpp=OCPP)
    with pytest.raises(CallErrorReceived) as exc:
        await set_profile(link, 7, prof(70, "TxDefaultProfile", sched((0, 6)), kind="Relative"))
    assert exc.value.code == "PropertyConstraintViolation"
    assert await st.stop() == 0

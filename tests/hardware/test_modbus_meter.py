"""The Modbus meter adapter against pymodbus's own server: TCP on 127.0.0.1 and RTU over a pseudo-terminal
pair; the shipped register maps; read failures, recovery and a register that must not go back."""

from __future__ import annotations

import pytest
from modbus_meter import MeterSim, PtyPair

from ocpp_station.core.events import FaultCleared, FaultDetected
from ocpp_station.hardware import registermap
from ocpp_station.hardware.modbus import ModbusMeter
from ocpp_station.hardware.parts import HardwareError, MeterSettings


@pytest.mark.parametrize("name", sorted(registermap.BUILTIN))
def test_the_shipped_maps_load_and_round_trip_every_measurand(name):
    m = registermap.load(name)
    assert "Energy.Active.Import.Register" in m.registers
    assert all(count <= registermap.MAX_READ for _, _, count in m.blocks())
    for item, r in m.registers.items():
        assert r.decode(r.encode(1234.5)) == pytest.approx(1234.5, abs=abs(r.scale))


def test_word_order_and_types_decode_as_the_datasheets_say():
    # SDM630: float32, high word first; 12.5 kWh at 0x0048 is 0x4148 0x0000
    sdm = registermap.load("sdm630").registers["Energy.Active.Import.Register"]
    assert sdm.decode([0x4148, 0x0000]) == 12500.0
    # EM340: int32, low word first, kWh x 10: 70000 (0x00011170) = 7000.0 kWh
    em = registermap.load("em340").registers["Energy.Active.Import.Register"]
    assert em.decode([0x1170, 0x0001]) == 7_000_000.0
    hz = registermap.load("em340").registers["Frequency"]
    assert hz.decode([501]) == pytest.approx(50.1)


@pytest.mark.parametrize("doc, error", [
    ({"registers": {"Frequency": {"address": 1}}}, "no register for Energy.Active.Import.Register"),
    ({"registers": {"Energy.Active.Import.Register": {"address": 1}, "Power.Reactive": {"address": 3}}},
     "not a measurand"),
    ({"registers": {"Energy.Active.Import.Register": {"address": 1, "type": "float16"}}}, ".type: expected one of"),
    ({"registers": {"Energy.Active.Import.Register": {"address": 70000}}}, ".address: expected an integer"),
    ({"word_order": "middle", "registers": {"Energy.Active.Import.Register": {"address": 1}}}, ".word_order"),
    ({"registers": {"Energy.Active.Import.Register": {"address": 1, "scale": 0}}}, ".scale: expected a non-zero"),
])
def test_a_bad_map_is_refused_in_one_line(doc, error):
    with pytest.raises(registermap.MapError, match=error.replace("(", r"\(").replace(".", r"\.")):
        registermap.parse(doc, "x.toml")


def tcp_settings(port: int, **kw) -> MeterSettings:
    return MeterSettings(kind="modbus-tcp", host="127.0.0.1", port=port, timeout=0.3, poll_interval=0.05, **kw)


@pytest.fixture
async def sim():
    s = MeterSim()
    port = await s.start_tcp()
    s.port = port
    yield s
    await s.stop()


async def test_tcp_meter_reads_every_measurand_of_the_map(sim):
    sim.set(energy=12345.0, power=7360.0, **{"Current.Import.L1": 10.5, "Current.Import.L2": 10.6,
                                               "Voltage.L1-L2": 400.0})
    meter = ModbusMeter(tcp_settings(sim.port), registermap.load("sdm630"), 1)
    await meter.start()
    try:
        s = meter.latest(1)
        assert s.energy_wh == pytest.approx(12345.0)
        assert s.power_w == pytest.approx(7360.0)
        assert s.currents["L1"] == pytest.approx(10.5) and s.current_a == pytest.approx(10.5)
        assert s.voltages["L1-N"] == pytest.approx(230.0) and s.voltages["L1"] == pytest.approx(230.0)
        assert s.voltages["L1-L2"] == pytest.approx(400.0)
        assert s.frequency_hz == pytest.approx(50.0)
        assert s.energy_export_wh == 0.0
        assert meter.supports("Voltage.L1") and meter.supports("Current.Import.L2") and meter.supports("Frequency")
        assert not meter.supports("SoC") and not meter.supports("Power.Offered")
    finally:
        await meter.close()


async def test_a_failing_meter_reports_power_meter_failure_once_keeps_the_last_good_sample_and_recovers(sim):
    meter = ModbusMeter(tcp_settings(sim.port), registermap.load("sdm630"), 1)
    await meter.start()
    events: list = []
    try:
        sim.set(energy=6000.0)
        await meter.poll(events.extend)
        assert meter.latest(1).energy_wh == 6000.0 and events == []
        for good, mode in ((6000.0, "exception"), (7000.0, "silent")):
            sim.fail = mode
            sim.set(energy=good + 1000.0)
            await meter.poll(events.extend)
            await meter.poll(events.extend)  # reported once
            assert events == [FaultDetected(1, "PowerMeterFailure", events[0].info)], mode
            assert meter.latest(1).energy_wh == good  # the last good reading
            sim.fail = None
            await meter.poll(events.extend)
            assert events[1:] == [FaultCleared(1)]
            assert meter.latest(1).energy_wh == good + 1000.0
            events.clear()
    finally:
        await meter.close()


async def test_the_energy_register_never_goes_back(sim):
    meter = ModbusMeter(tcp_settings(sim.port), registermap.load("sdm630"), 1)
    sim.set(energy=9000.0)
    await meter.start()
    try:
        sim.set(energy=8000.0)  # a meter swapped or a bad frame
        await meter.poll(lambda evs: None)
        assert meter.latest(1).energy_wh == 9000.0
        events: list = []
        for garbage in (-5.0, float("nan"), float("inf")):  # a failure, not a value
            sim.set(energy=garbage)
            await meter.poll(events.extend)
            assert [type(e) for e in events] == [FaultDetected] and meter.latest(1).energy_wh == 9000.0
    finally:
        await meter.close()


async def test_no_meter_at_the_address_is_one_line_at_start_up():
    s = MeterSim()
    port = await s.start_tcp()
    await s.stop()  # the port is free again: nothing answers there
    meter = ModbusMeter(tcp_settings(port), registermap.load("sdm630"), 1)
    with pytest.raises(HardwareError) as e:
        await meter.start()
    assert e.value.key == "hardware.meter_host"
    assert str(e.value) == f"no Modbus meter answers at 127.0.0.1:{port}: cannot connect"


async def test_a_wrong_unit_id_is_refused_at_start_up(sim):
    meter = ModbusMeter(tcp_settings(sim.port, units=[7]), registermap.load("sdm630"), 1)
    with pytest.raises(HardwareError, match="unit 7") as e:
        await meter.start()
    assert e.value.key == "hardware.meter_unit"


async def test_rtu_meter_over_a_pseudo_terminal_pair():
    pty = PtyPair()
    s = MeterSim("em340", units=(3,))
    await s.start_serial(pty.b)
    s.set(unit=3, energy=4_200_000.0, power=3680.0)
    meter = ModbusMeter(MeterSettings(kind="modbus-rtu", device=pty.a, units=[3], timeout=0.5, poll_interval=0.05),
                        registermap.load("em340"), 1)
    try:
        await meter.start()
        assert meter.latest(1).energy_wh == pytest.approx(4_200_000.0)
        assert meter.latest(1).power_w == pytest.approx(3680.0)
        s.set(unit=3, energy=4_200_100.0)
        await meter.poll(lambda evs: None)
        assert meter.latest(1).energy_wh == pytest.approx(4_200_100.0)
    finally:
        await meter.close()
        await s.stop()
        pty.close()

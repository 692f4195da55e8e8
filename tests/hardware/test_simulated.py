"""hardware.simulated: the simulated meter's values per phase (a balanced three-phase load, 230/400 V)."""

import math

import pytest

from ocpp_station.hardware.simulated import SimulatedHardware


def charging(power_w: float = 11000.0) -> tuple[SimulatedHardware, float]:
    hw = SimulatedHardware(connectors=1, fixed_cable=True)
    hw.plug_in(1, 0.0)
    hw.set_ev(1, True, power_w, 0.0)
    hw.set_relay(1, True, 0.0)
    return hw, 230.0 * math.sqrt(3)


@pytest.mark.parametrize("phase", ["L1", "L2", "L3", "L1-N", "L2-N", "L3-N"])
def test_phase_to_neutral_voltage_is_230(phase):
    hw, _ = charging()
    s = hw.read(1, 10.0)
    assert s.voltages[phase] == 230.0
    assert s.voltage_v == 230.0


@pytest.mark.parametrize("phase", ["L1-L2", "L2-L3", "L3-L1"])
def test_phase_to_phase_voltage_is_230_times_root_3(phase):
    hw, line = charging()
    v = hw.read(1, 10.0).voltages[phase]
    assert v == pytest.approx(line) and round(v) == 398


def test_balanced_load_has_equal_phase_currents_and_no_neutral_current():
    hw, _ = charging(11000.0)
    s = hw.read(1, 10.0)
    per_phase = 11000.0 / (3 * 230.0)
    assert s.current_a == pytest.approx(per_phase)
    assert [s.currents[p] for p in ("L1", "L2", "L3")] == [pytest.approx(per_phase)] * 3
    assert s.currents["N"] == 0.0
    # three phases at 230 V carry the power
    assert sum(s.voltages[p] * s.currents[p] for p in ("L1", "L2", "L3")) == pytest.approx(s.power_w)


def test_no_current_while_not_charging():
    hw = SimulatedHardware(connectors=1, fixed_cable=True)
    s = hw.read(1, 0.0)
    assert s.current_a == 0.0 and set(s.currents.values()) == {0.0}


def test_set_limit_caps_the_power_from_that_instant_and_is_offered():
    """Hardware.set_limit: the EV takes min(its wish, the limit); energy integrates each part exactly; 0 W = none;
    None = the station's own maximum again."""
    hw, _ = charging(11000.0)
    hw.set_limit(1, 4140.0, 3600.0)  # 1 h at 11 kW, then 6 A × 230 V × 3
    s = hw.read(1, 7200.0)
    assert (s.power_w, s.power_offered_w) == (4140.0, 4140.0)
    assert s.current_offered_a == pytest.approx(6.0)
    assert s.energy_wh == pytest.approx(1000.0 + 11000.0 + 4140.0)
    hw.set_limit(1, 0.0, 7200.0)
    assert (hw.read(1, 7300.0).power_w, hw.read(1, 7300.0).power_offered_w) == (0.0, 0.0)
    hw.set_limit(1, None, 7300.0)
    assert (hw.read(1, 7400.0).power_w, hw.read(1, 7400.0).power_offered_w) == (11000.0, 22000.0)


def test_voltage_is_configurable():
    hw = SimulatedHardware(connectors=1, fixed_cable=True, voltage=110.0)
    hw.plug_in(1, 0.0)
    hw.set_relay(1, True, 0.0)
    s = hw.read(1, 1.0)
    assert s.voltage_v == 110.0 and s.voltages["L1-L2"] == pytest.approx(110.0 * math.sqrt(3))
    assert s.current_a == pytest.approx(11000.0 / (3 * 110.0))


def test_energy_wh_is_the_register_that_read_gives_and_is_saved_with_the_meter_state():
    """energy_wh (the register saves' read) integrates and persists like read(), without the rest of a sample;
    through CompositeHardware it is the real meter's register when there is one."""
    import dataclasses

    from ocpp_station.hardware.composite import CompositeHardware
    from ocpp_station.store import MemoryStore

    store = MemoryStore()
    hw = SimulatedHardware(connectors=1, fixed_cable=True, store=store, initial_energy_wh=0.0)
    hw.plug_in(1, 0.0)
    hw.set_ev(1, True, 7200.0, 0.0)
    hw.set_relay(1, True, 0.0)
    assert hw.energy_wh(1, 10.0) == pytest.approx(20.0)  # 7.2 kW for 10 s
    assert store.get(SimulatedHardware.NS, "1")["energy_wh"] == pytest.approx(20.0)  # saved with the meter state
    assert hw.read(1, 10.0).energy_wh == hw.energy_wh(1, 10.0)
    assert CompositeHardware(hw).energy_wh(1, 20.0) == pytest.approx(40.0)

    class Meter:
        def latest(self, _cid):
            return dataclasses.replace(hw.read(1, 20.0), energy_wh=123_456.0)

    assert CompositeHardware(hw, Meter()).energy_wh(1, 30.0) == 123_456.0

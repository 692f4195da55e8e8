"""Contactor and lock on GPIO lines with a fake at the device edge (no GPIO chip here): the outputs follow the
core's commands, the feedback inputs turn into faults after the settle time and clear when they agree."""

from __future__ import annotations

from ocpp_station.core.events import FaultCleared, FaultDetected
from ocpp_station.hardware.gpio import GpioRelayLock, GpioSettings


class FakeLines:
    """The GPIO chip's lines: outputs as set, inputs as the test wires them (by default they follow an output)."""

    def __init__(self, wiring: dict[int, int]) -> None:
        self.values: dict[int, bool] = {}
        self.wiring = wiring  # input line -> the output line it reads back
        self.stuck: dict[int, bool] = {}  # input line -> a value it keeps whatever the output
        self.closed = False

    def set(self, line: int, active: bool) -> None:
        self.values[line] = active

    def get(self, line: int) -> bool:
        if line in self.stuck:
            return self.stuck[line]
        return self.values.get(self.wiring[line], False)

    def close(self) -> None:
        self.closed = True


SETTINGS = GpioSettings(relay_lines=[17, 22], relay_feedback_lines=[27, 23], lock_lines=[5, 6],
                        lock_feedback_lines=[13, 19], settle=1.0)


async def make():
    lines = FakeLines({27: 17, 23: 22, 13: 5, 19: 6})
    dev = GpioRelayLock(SETTINGS, 2, lines)
    await dev.start()
    return dev, lines


async def test_outputs_follow_the_commands_and_a_start_opens_every_contactor():
    dev, lines = await make()
    assert lines.values == {17: False, 22: False}
    dev.set_relay(2, True)
    assert dev.set_lock(1, True)
    assert lines.values == {17: False, 22: True, 5: True}
    events: list = []
    dev.check(events.extend, 0.0)
    dev.check(events.extend, 5.0)
    assert events == []  # the feedback agrees
    await dev.close()
    assert lines.closed and lines.values[22] is False  # leaving opens the contactors


async def test_a_welded_contactor_is_a_fault_after_the_settle_time_and_clears_when_it_opens():
    dev, lines = await make()
    dev.set_relay(1, True)
    events: list = []
    dev.check(events.extend, 0.0)
    lines.stuck[27] = True  # welded
    dev.set_relay(1, False)
    dev.check(events.extend, 10.0)
    dev.check(events.extend, 10.9)
    assert events == []  # still within the settle time
    dev.check(events.extend, 11.0)
    dev.check(events.extend, 12.0)
    assert events == [FaultDetected(1, "OtherError", "Contactor welded")]
    del lines.stuck[27]
    dev.check(events.extend, 13.0)
    assert events[1:] == [FaultCleared(1)]


async def test_a_contactor_that_does_not_close_stays_faulted():
    dev, lines = await make()
    lines.stuck[23] = False
    dev.set_relay(2, True)
    events: list = []
    dev.check(events.extend, 0.0)
    dev.check(events.extend, 1.0)
    assert events == [FaultDetected(2, "OtherError", "Contactor does not close")]
    dev.set_relay(2, False)  # the fault opens it: the feedback agrees, the fault stays
    dev.check(events.extend, 2.0)
    assert events[1:] == []


async def test_lock_feedback_is_connector_lock_failure():
    dev, lines = await make()
    lines.stuck[13] = False  # the lock motor does not move
    dev.set_lock(1, True)
    events: list = []
    dev.check(events.extend, 0.0)
    dev.check(events.extend, 1.5)
    assert events == [FaultDetected(1, "ConnectorLockFailure", "Lock does not engage")]
    dev.set_lock(1, False)
    dev.check(events.extend, 2.0)
    assert events[1:] == [FaultCleared(1)]


# -- the composite: the core's commands reach the GPIO lines, the simulated parts follow too ----------------------

import pytest  # noqa: E402

from charging import start_charging  # noqa: E402
from harness import CoreHarness  # noqa: E402
from ocpp_station import config  # noqa: E402
from ocpp_station.core.settings import StationSettings  # noqa: E402
from ocpp_station.hardware.composite import CompositeHardware  # noqa: E402


async def test_a_transaction_closes_the_gpio_contactor_and_a_welded_one_faults_the_connector():
    h = CoreHarness(StationSettings(fixed_cable=False, connector_lock=True))
    lines = FakeLines({27: 17, 13: 5})
    gpio = GpioRelayLock(GpioSettings(relay_lines=[17], relay_feedback_lines=[27], lock_lines=[5],
                                      lock_feedback_lines=[13]), 1, lines)
    await gpio.start()
    comp = CompositeHardware(h.hardware, None, [gpio], gpio)
    h.station.hardware = h.hardware = comp
    h.boot()
    h.answer_all("StatusNotification")
    start_charging(h)
    assert lines.values == {17: True, 5: True}  # locked, then closed
    assert comp.sim.connectors[1].relay_closed and comp.sim.connectors[1].locked
    lines.stuck[27] = True  # the contactor welds
    h.csms_call("RemoteStopTransaction", {"transactionId": 1})
    h.respond_unordered({"StopTransaction": {}, "StatusNotification": {}})
    assert lines.values[17] is False
    events: list = []
    gpio.check(events.extend, 0.0)
    gpio.check(events.extend, 2.0)
    h.feed(events)
    calls = h.answer_all("StatusNotification")
    assert ("Faulted", "OtherError", "Contactor welded") in [
        (c.payload["status"], c.payload["errorCode"], c.payload.get("info")) for c in calls]


@pytest.mark.parametrize("hardware, expected", [
    ('relay = "gpio"', "hardware.relay_lines: relay = \"gpio\" needs the contactor output lines (relay_lines)"),
    ('relay = "gpio"\nrelay_lines = [17]\ngpio_chip = "/dev/gpiochipNOPE"',
     'hardware.gpio_chip: expected a device path, got "/dev/gpiochipNOPE" (no such device)'),
    ('relay_lines = [17, 18]', "hardware.relay_lines: expected a list of 1 GPIO line offset(s), one per connector, "
                               "got an array"),
    ('lock = "gpio"\nlock_lines = [5]', 'hardware.lock: lock = "gpio" needs a socket: set fixed_cable = false and '
                                        "connector_lock = true"),
    ('relay = "spi"', 'hardware.relay: expected "simulated" or "gpio", got "spi"'),
])
def test_gpio_keys_that_cannot_be_used_are_one_line(tmp_path, hardware, expected):
    p = tmp_path / "station.toml"
    p.write_text(f"[hardware]\n{hardware}\n")
    with pytest.raises(config.ConfigError) as e:
        config.load_settings(p)
    assert str(e.value) == f"{p}: {expected}"

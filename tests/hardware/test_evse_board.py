"""The EVSE controller board adapter against pymodbus's own server acting as an EVSE-DIN board: control
pilot state changes become the core's events; the Smart Charging limit is written as the current setting
within the board's rules (6-32 A, 0 = pause)."""

from __future__ import annotations

import asyncio

import pytest
from evse_board import BoardSim

from ocpp_station.core.events import CablePlugged, CableUnplugged, EVStateChanged, FaultCleared, FaultDetected
from ocpp_station.hardware import evse
from ocpp_station.hardware.evse import EvseBoard, load_map
from ocpp_station.hardware.parts import EvSettings, HardwareError
from ocpp_station.hardware.simulated import SimulatedHardware


def settings(port: int, **kw) -> EvSettings:
    kw = {"timeout": 0.3, "poll_interval": 0.05, **kw}
    return EvSettings(kind="modbus-tcp", host="127.0.0.1", port=port, **kw)


@pytest.fixture
async def board():
    b = BoardSim()
    b.port = await b.start_tcp()
    yield b
    await b.stop()


def test_the_shipped_map_is_the_evse_din_table():
    m = load_map("evse-din")
    assert (m.current_register, m.state_register, m.min_current, m.max_current) == (1000, 1002, 6, 32)
    assert m.states == {1: "A", 2: "B", 3: "C", 4: "D", 5: "E"}


@pytest.mark.parametrize("watts, amps", [
    (None, 32),  # no limit: the board's maximum
    (0, 0),  # a pause
    (4000, 0),  # 5.8 A per phase at 230 V x 3: below the IEC 61851 minimum -> no PWM
    (4140, 6),  # 6 A
    (11040, 16),  # 16 A
    (11000, 15),  # 15.9 A: whole amps, never above the limit
    (50000, 32),  # above the board's maximum
])
def test_watts_become_whole_amps_within_the_boards_rules(watts, amps):
    assert load_map("evse-din").amps(watts, 230.0, 3) == amps


def test_one_phase_and_the_stations_max_current():
    m = load_map("evse-din")
    assert m.amps(3680, 230.0, 1) == 16
    assert m.amps(None, 230.0, 3, cap=20) == 20


def test_a_bad_board_map_is_one_line(tmp_path):
    (tmp_path / "b.toml").write_text('current_register = 1000\nstate_register = 1002\n[states]\n1 = "X"\n')
    with pytest.raises(evse.MapError, match=r"\[states\] must map register values to A-F"):
        load_map("b.toml", tmp_path)
    with pytest.raises(evse.MapError, match="cannot read the board map"):
        load_map("nope.toml", tmp_path)


async def test_pilot_states_become_the_cores_events_and_the_simulated_world_follows(board):
    sim = SimulatedHardware(1)
    dev = EvseBoard(settings(board.port), load_map("evse-din"), 1, sim)
    got: list = []
    await dev.start()
    try:
        await dev.poll(got.extend)
        assert got == [] and board.current[1] == 32  # A: nothing; the board offers its maximum
        board.state[1] = "B"
        await dev.poll(got.extend)
        assert got == [CablePlugged(1), EVStateChanged(1, False, None)] and sim.ev_plugged(1)
        got.clear()
        board.state[1] = "C"
        await dev.poll(got.extend)
        assert got == [EVStateChanged(1, True, None)]
        got.clear()
        board.state[1] = "E"
        await dev.poll(got.extend)
        assert got == [FaultDetected(1, "OtherError", "EV pilot state E")]
        got.clear()
        board.state[1] = "B"
        await dev.poll(got.extend)
        assert got == [FaultCleared(1), EVStateChanged(1, False, None)]
        got.clear()
        board.state[1] = "A"
        await dev.poll(got.extend)
        assert got == [CableUnplugged(1, "ev")] and not sim.ev_plugged(1)
    finally:
        await dev.close()


async def test_set_limit_is_written_at_once_by_the_device_task(board):
    dev = EvseBoard(settings(board.port, poll_interval=30.0), load_map("evse-din"), 1, SimulatedHardware(1))
    await dev.start()
    task = asyncio.create_task(dev.run(lambda evs: None))
    try:
        await asyncio.wait_for(board.written(32), 5)
        dev.set_limit(1, 11040)  # the poll interval is 30 s: the write does not wait for it
        await asyncio.wait_for(board.written(16), 5)
        dev.set_limit(1, 0)
        await asyncio.wait_for(board.written(0), 5)
        dev.set_limit(1, None)
        await asyncio.wait_for(board.written(32), 5)
        assert [a for _, a in board.writes] == [32, 16, 0, 32]
    finally:
        task.cancel()
        await dev.close()


async def test_a_board_that_does_not_answer_is_one_line():
    dev = EvseBoard(settings(1), load_map("evse-din"), 1, SimulatedHardware(1))
    with pytest.raises(HardwareError, match="no EVSE board answers at 127.0.0.1:1: cannot connect") as e:
        await dev.start()
    assert e.value.key == "hardware.ev_host"


async def test_over_rtu_on_a_pseudo_terminal_pair():
    from modbus_meter import PtyPair

    pty = PtyPair()
    b = BoardSim()
    await b.start_serial(pty.b)
    dev = EvseBoard(EvSettings(kind="modbus-rtu", device=pty.a, timeout=0.5), load_map("evse-din"), 1,
                    SimulatedHardware(1))
    try:
        await dev.start()
        b.state[1] = "C"
        got: list = []
        await dev.poll(got.extend)
        assert got == [CablePlugged(1), EVStateChanged(1, True, None)] and b.current[1] == 32
    finally:
        await dev.close()
        await b.stop()
        pty.close()


async def test_a_board_that_stops_answering_keeps_its_last_state_and_is_logged_once(board, caplog):
    sim = SimulatedHardware(1)
    dev = EvseBoard(settings(board.port), load_map("evse-din"), 1, sim)
    got: list = []
    await dev.start()
    try:
        board.state[1] = "C"
        await dev.poll(got.extend)
        board.fail = True
        await dev.poll(got.extend)
        await dev.poll(got.extend)
        assert dev.failing == {1} and dev.state[1] == "C" and sim.ev_plugged(1)
        assert sum("EVSE board read failed" in r.message for r in caplog.records) == 1
        board.fail = False
        got.clear()
        await dev.poll(got.extend)
        assert got == [] and dev.failing == set()
    finally:
        await dev.close()


async def test_an_ev_plugged_before_a_restart_is_unplugged_when_the_board_reads_a(board):
    sim = SimulatedHardware(1)
    sim.plug_in(1, 0.0)  # as saved in data_dir
    dev = EvseBoard(settings(board.port), load_map("evse-din"), 1, sim)
    got: list = []
    await dev.start()
    try:
        await dev.poll(got.extend)
        assert got == [CableUnplugged(1, "ev")]
    finally:
        await dev.close()


class _HeldClient:
    """A board whose every read is answered by the test: ``held`` is the read the device task awaits."""

    connected = True

    def __init__(self) -> None:
        self.held: asyncio.Future | None = None
        self.asked = asyncio.Event()

    def write_register(self, *a, **kw):
        f = asyncio.get_running_loop().create_future()
        f.set_result(_Answer([0]))
        return f

    def read_holding_registers(self, *a, **kw):
        self.held = asyncio.get_running_loop().create_future()
        self.asked.set()
        return self.held

    def close(self) -> None:
        pass


class _Answer:
    def __init__(self, registers: list[int]) -> None:
        self.registers = registers

    def isError(self) -> bool:  # noqa: N802 - pymodbus's name
        return False


async def test_a_stop_that_meets_an_answer_in_the_same_instant_still_ends_the_device_task():
    # The station's graceful stop cancels the device task. When the board's answer lands in the very loop
    # iteration of the cancellation, the task must end all the same (a timeout that returned the answer and
    # swallowed the cancellation kept it polling and the station's process never exited).
    client = _HeldClient()
    dev = EvseBoard(settings(1), load_map("evse-din"), 1, SimulatedHardware(1), client=client)
    task = asyncio.create_task(dev.run(lambda evs: None))
    await asyncio.wait_for(client.asked.wait(), 5)
    client.held.set_result(_Answer([1]))  # state A
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()

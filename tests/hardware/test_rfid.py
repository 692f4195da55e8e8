"""Card readers: the line protocol and debounce (CardDecoder), the serial reader over a pseudo-terminal
(os.openpty), and the keyboard-wedge reader with a fake input device at the device edge."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

import pytest

from ocpp_station.core.events import CardPresented
from ocpp_station.hardware.parts import HardwareError, RfidSettings
from ocpp_station.hardware.rfid import CardDecoder, EvdevCardReader, SerialCardReader


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("settings, data, tags", [
    (RfidSettings(), b"TAG1\r\nTAG2\n", ["TAG1", "TAG2"]),
    (RfidSettings(format="hex"), b"04a1b2c3\r\n", ["04A1B2C3"]),
    (RfidSettings(format="hex"), b"04a1zz\r\n\r\n", []),  # garbage dropped, empty lines ignored
    (RfidSettings(format="decimal"), b"0012345678\n", ["BC614E"]),
    (RfidSettings(format="decimal"), b"12ab\n", []),
    (RfidSettings(prefix="ID:", suffix="#"), b"noise ID:ABC#ID: XYZ#junk#", ["ABC", "XYZ"]),
    (RfidSettings(), b"A" * 21 + b"\n", []),  # longer than an IdToken (CiString20)
    (RfidSettings(), b"TA\x01G\n", []),  # not printable
])
def test_the_line_protocol(settings, data, tags):
    assert CardDecoder(settings, Clock()).feed(data) == tags


def test_lines_split_across_reads_and_the_debounce():
    clock = Clock()
    d = CardDecoder(RfidSettings(debounce=2.0), clock)
    assert d.feed(b"TA") == [] and d.feed(b"G1\r") == ["TAG1"]
    assert d.feed(b"\nTAG1\r\n") == []  # the card is still on the reader
    clock.t += 1.9
    assert d.feed(b"TAG1\n") == []  # each reading restarts the window
    clock.t += 2.0
    assert d.feed(b"TAG1\nTAG2\n") == ["TAG1", "TAG2"]
    assert d.feed(b"x" * 300) == [] and d._buf == b""  # no end of line: dropped


async def test_serial_reader_over_a_pseudo_terminal():
    master, slave = os.openpty()
    reader = SerialCardReader(RfidSettings(kind="serial", device=os.ttyname(slave), format="hex", connector=1))
    got: asyncio.Queue = asyncio.Queue()
    await reader.start()
    task = asyncio.create_task(reader.run(lambda evs: [got.put_nowait(e) for e in evs]))
    try:
        os.write(master, b"04a1b2")
        os.write(master, b"c3\r\n%%garbage%%\r\n")
        assert await asyncio.wait_for(got.get(), 5) == CardPresented("04A1B2C3", 1)
        os.write(master, b"04A1B2C3\r\n0badcafe\r\n")  # the same card again at once: debounced
        assert await asyncio.wait_for(got.get(), 5) == CardPresented("0BADCAFE", 1)
        assert got.empty()
    finally:
        task.cancel()
        await reader.close()
        os.close(master)
        os.close(slave)


async def test_serial_reader_missing_device_is_one_line():
    reader = SerialCardReader(RfidSettings(kind="serial", device="/dev/ttyNOPE3"))
    with pytest.raises(HardwareError) as e:
        await reader.start()
    assert (e.value.key, str(e.value)) == ("hardware.rfid_device", "no such device '/dev/ttyNOPE3'")


class FakeInputDevice:
    """The device edge of evdev.InputDevice: key events, grab, close."""

    KEY = {"0": 11, **{str(i): i + 1 for i in range(1, 10)}, "A": 30, "B": 48, "C": 46, "D": 32, "E": 18, "F": 33,
           "\n": 28}

    def __init__(self, path: str, typed: str) -> None:
        self.path, self.typed = path, typed
        self.grabbed = self.closed = False

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True

    async def async_read_loop(self):
        for ch in self.typed:
            code = self.KEY[ch]
            for value in (1, 0):  # key down, key up
                yield SimpleNamespace(type=1, code=code, value=value)
            yield SimpleNamespace(type=0, code=0, value=0)  # EV_SYN


async def test_keyboard_wedge_reader_with_a_fake_device():
    dev = FakeInputDevice("/dev/input/event7", "0012345678\n0012345678\n")
    reader = EvdevCardReader(RfidSettings(kind="evdev", device=dev.path, format="decimal"), open_device=lambda p: dev)
    await reader.start()
    assert dev.grabbed  # its keystrokes reach the station only
    got: list = []
    await reader.run(got.extend)
    assert got == [CardPresented("BC614E", None)]  # the second presentation is debounced
    await reader.close()
    assert dev.closed and not dev.grabbed


async def test_keyboard_wedge_reader_that_cannot_be_opened():
    def refuse(path):
        raise PermissionError(13, "Permission denied")

    reader = EvdevCardReader(RfidSettings(kind="evdev", device="/dev/input/event9"), open_device=refuse)
    with pytest.raises(HardwareError, match="cannot open '/dev/input/event9': Permission denied"):
        await reader.start()

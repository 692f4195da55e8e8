"""Card readers: a serial reader (pyserial) that writes one line per card, and a Linux keyboard-wedge reader
(evdev) that types the card number and Enter. Both deliver ``CardPresented`` through :class:`CardDecoder`,
which applies the line protocol of ``[hardware]`` (prefix, suffix, text / hex / decimal) and the debounce.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any, Callable

from ..core.events import CardPresented
from .parts import Feed, HardwareError, RfidSettings

log = logging.getLogger(__name__)

ID_TAG_MAX = 20  # IdToken is CiString20Type ([SPEC] §7.28)
_HEX = re.compile(r"[0-9A-Fa-f]+")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


class CardDecoder:
    """Bytes in, idTags out. A line that does not fit the format is logged and dropped; the same idTag again
    within ``debounce`` seconds of its last reading is the same presentation (a card left on the reader)."""

    def __init__(self, settings: RfidSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.s = settings
        self.clock = clock
        self._buf = b""
        self._last: dict[str, float] = {}  # idTag -> when last read

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        tags: list[str] = []
        while True:
            line, found = self._split()
            if not found:
                break
            tag = self.decode(line)
            if tag is not None and self._fresh(tag):
                tags.append(tag)
        if len(self._buf) > 256:  # garbage without an end: drop it
            log.warning("card reader: %d bytes without an end of line dropped", len(self._buf))
            self._buf = b""
        return tags

    def _split(self) -> tuple[bytes, bool]:
        if self.s.suffix:
            end = self.s.suffix.encode("latin-1")
            i = self._buf.find(end)
            if i < 0:
                return b"", False
            line, self._buf = self._buf[:i], self._buf[i + len(end):]
            return line, True
        m = re.search(rb"[\r\n]", self._buf)
        if m is None:
            return b"", False
        line, self._buf = self._buf[: m.start()], self._buf[m.end():]
        return line, True

    def decode(self, raw: bytes) -> str | None:
        text = raw.decode("latin-1").strip()
        if self.s.prefix:
            i = text.find(self.s.prefix)
            if i < 0:
                return self._bad(raw, f"no prefix {self.s.prefix!r}") if text else None
            text = text[i + len(self.s.prefix):].strip()
        if not text:
            return None
        if self.s.format == "hex":
            if not _HEX.fullmatch(text):
                return self._bad(raw, "not hexadecimal")
            tag = text.upper()
        elif self.s.format == "decimal":
            if not text.isdigit():
                return self._bad(raw, "not decimal")
            tag = format(int(text), "X")  # the card's number as the upper-case hex idTag
        else:
            if not _PRINTABLE.fullmatch(text):
                return self._bad(raw, "not printable")
            tag = text
        if len(tag) > ID_TAG_MAX:
            return self._bad(raw, f"longer than {ID_TAG_MAX} characters")
        return tag

    def _bad(self, raw: bytes, why: str) -> None:
        log.warning("card reader: line %r dropped (%s)", raw[:60], why)
        return None

    def _fresh(self, tag: str) -> bool:
        now = self.clock()
        last = self._last.get(tag)
        self._last[tag] = now
        return last is None or now - last >= self.s.debounce

    def events(self, tags: list[str]) -> list[CardPresented]:
        return [CardPresented(t, self.s.connector) for t in tags]


def check_device(key: str, path: str | None) -> None:
    """One line saying why ``path`` cannot be opened read-write, else nothing."""
    if not path:
        raise HardwareError(key, "no device given")
    if not os.path.exists(path):
        raise HardwareError(key, f"no such device {path!r}")
    if not os.access(path, os.R_OK | os.W_OK):
        raise HardwareError(key, f"permission denied on {path!r} (add the user to the device's group, "
                                 "e.g. dialout or input)")


class SerialCardReader:
    """A reader on a serial port (USB or UART) that writes each card as a line."""

    key = "hardware.rfid_device"

    def __init__(self, settings: RfidSettings) -> None:
        self.settings = settings
        self.decoder = CardDecoder(settings)
        self.port: Any = None

    async def start(self) -> None:
        import serial

        check_device(self.key, self.settings.device)
        try:
            self.port = serial.Serial(self.settings.device, self.settings.baudrate, timeout=0)
        except (serial.SerialException, OSError) as exc:
            raise HardwareError(self.key, f"cannot open {self.settings.device!r}: {exc}") from None

    async def run(self, feed: Feed) -> None:
        loop = asyncio.get_running_loop()
        gone = loop.create_future()

        def readable() -> None:
            try:
                data = self.port.read(self.port.in_waiting or 1)
            except Exception as exc:  # noqa: BLE001 - the port went away (USB unplugged)
                if not gone.done():
                    gone.set_result(exc)
                return
            events = self.decoder.events(self.decoder.feed(data))
            if events:
                feed(events)

        fd = self.port.fileno()
        loop.add_reader(fd, readable)
        try:
            exc = await gone
            log.error("card reader %s: %s; no more cards are read", self.settings.device, exc)
        finally:
            loop.remove_reader(fd)

    async def close(self) -> None:
        if self.port is not None:
            self.port.close()


# evdev key codes of a keyboard-wedge reader: digits, letters A-F, Enter
_KEYS = {**{f"KEY_{d}": d for d in "0123456789"}, **{f"KEY_{c}": c for c in "ABCDEF"}, "KEY_ENTER": "\n",
         "KEY_KPENTER": "\n"}


class EvdevCardReader:
    """A keyboard-wedge reader (it types the card number and Enter) on a Linux input event device. The device
    is grabbed: its keystrokes go to the station only. ``open_device`` is the device edge (evdev.InputDevice)."""

    key = "hardware.rfid_device"

    def __init__(self, settings: RfidSettings, open_device: Callable[[str], Any] | None = None) -> None:
        self.settings = settings
        self.decoder = CardDecoder(settings)
        self._open = open_device
        self.dev: Any = None

    async def start(self) -> None:
        if self._open is None:
            try:
                import evdev
            except ImportError:
                raise HardwareError("hardware.rfid", 'rfid = "evdev" needs the evdev package (pip install evdev)') from None
            self._open = evdev.InputDevice
            check_device(self.key, self.settings.device)
        try:
            self.dev = self._open(self.settings.device)
            self.dev.grab()
        except OSError as exc:
            raise HardwareError(self.key, f"cannot open {self.settings.device!r}: {exc.strerror or exc}") from None

    async def run(self, feed: Feed) -> None:
        async for ev in self.dev.async_read_loop():
            if getattr(ev, "type", None) != 1 or getattr(ev, "value", None) != 1:  # EV_KEY, key down
                continue
            ch = _KEYS.get(_keyname(ev.code))
            if ch is None:
                continue
            events = self.decoder.events(self.decoder.feed(ch.encode()))
            if events:
                feed(events)

    async def close(self) -> None:
        if self.dev is not None:
            try:
                self.dev.ungrab()
            except OSError:
                pass
            self.dev.close()


def _keyname(code: int) -> str:
    try:
        from evdev import ecodes
    except ImportError:
        return _FALLBACK_CODES.get(code, "")
    name = ecodes.KEY.get(code, "")
    return name if isinstance(name, str) else name[0]


# the Linux input key codes a wedge reader types (linux/input-event-codes.h), used without the evdev package
_FALLBACK_CODES = {2: "KEY_1", 3: "KEY_2", 4: "KEY_3", 5: "KEY_4", 6: "KEY_5", 7: "KEY_6", 8: "KEY_7", 9: "KEY_8",
                   10: "KEY_9", 11: "KEY_0", 28: "KEY_ENTER", 96: "KEY_KPENTER", 30: "KEY_A", 48: "KEY_B",
                   46: "KEY_C", 32: "KEY_D", 18: "KEY_E", 33: "KEY_F"}

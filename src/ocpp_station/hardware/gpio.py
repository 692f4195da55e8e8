"""The contactor (relay) and the connector lock on GPIO lines of the Linux GPIO character device (gpiod).

Each connector has an output line for its contactor and, where the hardware has one, an input line that
reads the contactor's auxiliary contact; likewise a lock output and a lock feedback input. The outputs follow
the core's commands at once (``set_relay``, ``lock``, ``unlock``); the feedback inputs are read in the
device's own task every ``poll_interval``:

- a contactor whose feedback stays closed after it was told to open (welded) or stays open after it was
  told to close is a fault: ``FaultDetected(OtherError, "Contactor welded" / "Contactor does not close")``;
- a lock whose feedback does not follow within the settle time is ``ConnectorLockFailure``.

A fault clears when the feedback agrees again, but for a contactor that does not close: that one stays until
a restart. :class:`GpioLines` is the device edge: the tests put a fake
there; :class:`GpiodLines` is libgpiod's v2 Python binding.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.events import FaultCleared, FaultDetected
from .parts import Feed, HardwareError

log = logging.getLogger(__name__)


class GpioLines(Protocol):
    """The device edge: some lines of one GPIO chip, outputs and inputs."""

    def set(self, line: int, active: bool) -> None: ...

    def get(self, line: int) -> bool: ...

    def close(self) -> None: ...


class GpiodLines:
    """Lines of ``chip`` (e.g. /dev/gpiochip0) through gpiod v2; ``active_low`` inverts every line."""

    def __init__(self, chip: str, outputs: list[int], inputs: list[int], active_low: bool = False,
                 consumer: str = "ocpp-station") -> None:
        import gpiod
        from gpiod.line import Direction, Value

        self._value = Value
        config: dict[Any, Any] = {}
        if outputs:
            config[tuple(outputs)] = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE,
                                                         active_low=active_low)
        if inputs:
            config[tuple(inputs)] = gpiod.LineSettings(direction=Direction.INPUT, active_low=active_low)
        self._req = gpiod.request_lines(chip, consumer=consumer, config=config)

    def set(self, line: int, active: bool) -> None:
        self._req.set_value(line, self._value.ACTIVE if active else self._value.INACTIVE)

    def get(self, line: int) -> bool:
        return self._req.get_value(line) == self._value.ACTIVE

    def close(self) -> None:
        self._req.release()


@dataclass(slots=True)
class GpioSettings:
    chip: str = "/dev/gpiochip0"
    relay_lines: list[int] = field(default_factory=list)  # per connector: contactor output
    relay_feedback_lines: list[int] = field(default_factory=list)  # per connector: contactor auxiliary contact
    lock_lines: list[int] = field(default_factory=list)  # per connector: lock output (active = locked)
    lock_feedback_lines: list[int] = field(default_factory=list)  # per connector: active = locked
    active_low: bool = False
    poll_interval: float = 0.2  # s between feedback reads
    settle: float = 1.0  # s a contactor or lock may take to follow its command


class GpioRelayLock:
    """Contactors and locks of every connector on one GPIO chip."""

    def __init__(self, settings: GpioSettings, connectors: int, lines: GpioLines | None = None) -> None:
        self.s = settings
        self.connectors = connectors
        self.lines = lines
        self._relay_cmd: dict[int, bool] = {c: False for c in range(1, connectors + 1)}
        self._lock_cmd: dict[int, bool] = {c: False for c in range(1, connectors + 1)}
        self._since: dict[tuple[str, int], float] = {}  # (part, cid) -> loop time the feedback started to disagree
        self._faults: dict[int, str] = {}  # cid -> the fault reported

    @staticmethod
    def _line(lines: list[int], cid: int) -> int | None:
        return lines[cid - 1] if cid <= len(lines) else None

    async def start(self) -> None:
        if self.lines is None:
            s = self.s
            outputs = s.relay_lines + s.lock_lines
            inputs = s.relay_feedback_lines + s.lock_feedback_lines
            try:
                self.lines = GpiodLines(s.chip, outputs, inputs, s.active_low)
            except ImportError:
                raise HardwareError("hardware.relay", 'relay or lock = "gpio" needs the gpiod package '
                                    "(pip install gpiod)") from None
            except (OSError, ValueError) as exc:
                raise HardwareError("hardware.gpio_chip", f"cannot request lines of {s.chip!r}: "
                                    f"{getattr(exc, 'strerror', None) or exc}") from None
        for cid in range(1, self.connectors + 1):
            self.set_relay(cid, False)  # a start opens every contactor

    # -- the outputs (synchronous: the core calls them) -----------------------------------

    def set_relay(self, cid: int, closed: bool) -> None:
        line = self._line(self.s.relay_lines, cid)
        self._relay_cmd[cid] = closed
        self._since.pop(("relay", cid), None)
        if line is not None and self.lines is not None:
            self.lines.set(line, closed)

    def set_lock(self, cid: int, locked: bool) -> bool:
        """Drive the lock; False when its feedback already says it cannot follow (no feedback: True)."""
        line = self._line(self.s.lock_lines, cid)
        self._lock_cmd[cid] = locked
        self._since.pop(("lock", cid), None)
        if line is not None and self.lines is not None:
            self.lines.set(line, locked)
        return True

    # -- the feedback task ------------------------------------------------------------------

    async def run(self, feed: Feed) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.s.poll_interval)
            self.check(feed, loop.time())

    def check(self, feed: Feed, now: float) -> None:
        """Compare every feedback input with its command; report a disagreement older than ``settle``."""
        for cid in range(1, self.connectors + 1):
            fault = None
            for part, lines, cmd in (("relay", self.s.relay_feedback_lines, self._relay_cmd),
                                     ("lock", self.s.lock_feedback_lines, self._lock_cmd)):
                line = self._line(lines, cid)
                if line is None or self.lines is None:
                    continue
                if self.lines.get(line) == cmd[cid]:
                    self._since.pop((part, cid), None)
                    continue
                since = self._since.setdefault((part, cid), now)
                if now - since >= self.s.settle and fault is None:
                    fault = (part, cmd[cid])
            if fault is not None and cid not in self._faults:
                part, commanded = fault
                if part == "relay":
                    code, info = "OtherError", ("Contactor does not close" if commanded else "Contactor welded")
                else:
                    code, info = "ConnectorLockFailure", ("Lock does not engage" if commanded else
                                                          "Lock does not release")
                # a contactor that does not close stays faulted until a restart: the fault opens it, and closing
                # it again on the next agreement would retry forever
                self._faults[cid] = "latched" if info == "Contactor does not close" else code
                log.error("connector %d: %s (%s)", cid, info, code)
                feed([FaultDetected(cid, code, info)])
            elif fault is None and cid in self._faults and self._faults[cid] != "latched":
                del self._faults[cid]
                log.info("connector %d: the contactor and lock feedback agree again", cid)
                feed([FaultCleared(cid)])

    async def close(self) -> None:
        if self.lines is not None:
            for cid in range(1, self.connectors + 1):
                line = self._line(self.s.relay_lines, cid)
                if line is not None:
                    self.lines.set(line, False)  # leaving: every contactor opens
            self.lines.close()

"""Named one-shot timers in `now` time; the station's ``get_timer`` is the earliest of them."""

from __future__ import annotations

from typing import Callable


class Timers:
    def __init__(self) -> None:
        self._deadlines: dict[str, float] = {}  # name -> when it fires
        self._callbacks: dict[str, Callable[[float], None]] = {}  # name -> what runs then

    def set(self, name: str, deadline: float, callback: Callable[[float], None]) -> None:
        self._deadlines[name] = deadline
        self._callbacks[name] = callback

    def cancel(self, name: str) -> None:
        self._deadlines.pop(name, None)
        self._callbacks.pop(name, None)

    def deadline(self, name: str) -> float | None:
        return self._deadlines.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._deadlines

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values()) if self._deadlines else None

    def fire_due(self, now: float) -> int:
        """Run every timer whose deadline has come, earliest first; returns how many ran."""
        ran = 0
        deadlines = self._deadlines
        while deadlines:
            first = min(deadlines.values())
            if first > now:
                break
            name = min(n for n, d in deadlines.items() if d == first)  # a tie: by name
            cb = self._callbacks.pop(name)
            del deadlines[name]
            cb(now)
            ran += 1
        return ran

"""Heartbeat ([SPEC] §4.6): after HeartbeatInterval seconds without a request of ours, send one.

The timer restarts whenever a CALL goes out, so an idle station beats at a
steady period (OCTT TC_001/TC_002 measure it, ±1 s). 0 disables heartbeats.
Heartbeat.conf's currentTime sets the clock.
"""

from __future__ import annotations

from typing import Any

from ...core.outbox import Request
from ..base import Feature

TIMER = "heartbeat"


class Heartbeat(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        station.config.specs["HeartbeatInterval"].on_change.append(lambda _n, _v: self._arm(self._last_sent))
        self._last_sent = 0.0  # `now` of our last CALL

    def _arm(self, since: float) -> None:
        st = self.station
        interval = st.config["HeartbeatInterval"]
        if not st.accepted or not st.connected or interval <= 0:
            st.timers.cancel(TIMER)
            return
        st.timers.set(TIMER, since + interval, self._beat)

    def _beat(self, now: float) -> None:
        self.station.send(Request("Heartbeat", {}, self.answered))
        self._arm(now)

    def answered(self, payload: dict[str, Any], now: float) -> None:
        self.station.clock.sync(payload["currentTime"], now)

    def on_call_sent(self, now: float) -> None:
        self._last_sent = now
        self._arm(now)

    def on_accepted(self, now: float) -> None:
        self._last_sent = now
        self._arm(now)

    def on_connected(self, now: float) -> None:
        self._last_sent = now
        self._arm(now)

    def on_disconnected(self, now: float) -> None:
        self.station.timers.cancel(TIMER)
        self.station.requests.discard(lambda r: r.action == "Heartbeat")

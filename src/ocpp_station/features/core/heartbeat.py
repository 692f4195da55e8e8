"""Heartbeat ([SPEC] §4.6): after HeartbeatInterval seconds without a request of ours, send one.

The timer restarts whenever a CALL goes out, so an idle station beats at a
steady period (OCTT TC_001/TC_002 measure it, ±1 s). Heartbeat.conf's
currentTime sets the clock.

* At least one Heartbeat a day, whatever else flows: a station busy with other
  CALLs (MeterValues every minute) would otherwise never beat, and its clock
  would never be set again ([OCPPJ] §5.3: the Heartbeat "is still needed" to
  synchronize the clock, at least once a day; [SPEC] §4.6). The day counts
  from the last Heartbeat, or from the BootNotification.conf that set the
  clock. HeartbeatInterval 0 turns off the inactivity beat only.
* At most one Heartbeat is queued or awaiting its answer: when MessageTimeout
  is longer than HeartbeatInterval, the timer fires again while a CALL waits
  for its answer, and Heartbeats must not pile up behind it.
"""

from __future__ import annotations

from typing import Any

from ...core.outbox import Request
from ..base import Feature

TIMER = "heartbeat"
DAY = 24 * 3600  # [OCPPJ] §5.3: the longest the clock goes without a Heartbeat


class Heartbeat(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        station.config.on_change("HeartbeatInterval").append(lambda _n, _v: self._arm(self._last_sent))
        self._last_sent = 0.0  # `now` of our last CALL
        self._last_beat = 0.0  # `now` of the last Heartbeat queued, or of the BootNotification.conf Accepted

    def _arm(self, since: float) -> None:
        st = self.station
        interval = st.config["HeartbeatInterval"]
        if not st.accepted or not st.connected:
            st.timers.cancel(TIMER)
            return
        due = self._last_beat + DAY
        if interval > 0:
            due = min(due, since + interval)
        st.timers.set(TIMER, due, self._beat)

    def _outstanding(self) -> bool:
        """A Heartbeat is queued or awaiting its answer."""
        st = self.station
        in_flight = st.session.in_flight
        return (in_flight is not None and in_flight.action == "Heartbeat") or any(
            r.action == "Heartbeat" for r in st.requests.items
        )

    def _beat(self, now: float) -> None:
        if not self._outstanding():
            self._last_beat = now
            self.station.send(Request("Heartbeat", {}, self.answered))
        self._arm(now)

    def answered(self, payload: dict[str, Any], now: float) -> None:
        self.station.clock.sync(payload["currentTime"], now)

    def on_call_sent(self, now: float) -> None:
        self._last_sent = now
        self._arm(now)

    def on_accepted(self, now: float) -> None:
        self._last_sent = self._last_beat = now
        self._arm(now)

    def on_connected(self, now: float) -> None:
        self._last_sent = now
        self._arm(now)

    def on_disconnected(self, now: float) -> None:
        self.station.timers.cancel(TIMER)
        self.station.requests.discard(lambda r: r.action == "Heartbeat")

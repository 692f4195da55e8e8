"""BootNotification and the registration state ([SPEC] §4.2; [ERRATA] 3.22; spec §2.2).

* On every boot (not on a mere reconnect, [OCPPJ] §5.4) BootNotification is the
  first request; nothing else is sent until it is Accepted (Pending allows
  answering the CSMS and triggered messages only).
* Accepted: adopt ``interval`` as HeartbeatInterval, sync the clock from
  ``currentTime``; then the status feature reports connector 0 and every
  connector (errata 3.22).
* Pending / Rejected: ``interval`` is the minimum wait before the next
  BootNotification; 0 means "choose": ``boot_retry_interval`` of the settings.
  Rejected: send nothing, answer nothing until then. A reconnect does not cut
  the wait short: the timer runs on across it.
* No answer or a CALLERROR: try again after ``boot_retry_interval``.
* The first Accepted ever is persisted (namespace ``registration``): a
  station never Accepted does not let anyone charge (spec §2.7).
"""

from __future__ import annotations

from typing import Any

from ...core.outbox import Request
from ...core.station import Registration
from ..base import Feature

TIMER = "boot"
NS = "registration"
ACCEPTED_ONCE = "acceptedOnce"  # key: the CSMS has Accepted this station at least once


class Boot(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        self.in_flight = False  # a BootNotification is queued or awaiting its answer
        self.boot_reason_accepted_once = False  # Accepted at least once since this boot
        self.ever_accepted = station.store.get(NS, ACCEPTED_ONCE) is True  # Accepted at least once, ever

    def payload(self) -> dict[str, Any]:
        s = self.station.settings
        p: dict[str, Any] = {"chargePointVendor": s.vendor, "chargePointModel": s.model}
        if s.serial_number:
            p["chargePointSerialNumber"] = s.serial_number
            p["chargeBoxSerialNumber"] = s.serial_number
        version = s.firmware_version
        for f in self.station.features:  # a firmware update installed since (features/firmware.py)
            version = getattr(f, "firmware_version", None) or version
        if version:
            p["firmwareVersion"] = version
        return p

    def on_connected(self, now: float) -> None:
        if self.station.registration != Registration.ACCEPTED and TIMER not in self.station.timers:
            self._send(now)

    def on_disconnected(self, now: float) -> None:
        self.in_flight = False
        if self.station.registration in (Registration.PENDING, Registration.REJECTED):
            return  # spec §2.2: the interval is the minimum wait before the next BootNotification, link or not
        self.station.timers.cancel(TIMER)

    def send_now(self, now: float) -> None:
        """A BootNotification now (TriggerMessage while not Accepted), unless one is already on its way."""
        self.station.timers.cancel(TIMER)
        self._send(now)

    def _send(self, now: float) -> None:
        if self.in_flight or not self.station.connected:
            return
        self.in_flight = True
        self.station.requests.discard(lambda r: r.action == "BootNotification")
        self.station.send(
            Request("BootNotification", self.payload(), self._answered, self._failed, allowed_before_accepted=True)
        )

    def _retry_at(self, now: float, interval: int) -> None:
        wait = interval if interval > 0 else self.station.settings.boot_retry_interval
        self.station.timers.set(TIMER, now + wait, self._retry)

    def _retry(self, now: float) -> None:
        if self.station.registration == Registration.REJECTED:
            self.station.registration = Registration.UNKNOWN
        self._send(now)

    def _answered(self, payload: dict[str, Any], now: float) -> None:
        st = self.station
        self.in_flight = False
        st.clock.sync(payload["currentTime"], now)
        status, interval = payload["status"], payload["interval"]
        if status == "Accepted":
            st.registration = Registration.ACCEPTED
            st.timers.cancel(TIMER)
            if not self.ever_accepted:
                st.store.put(NS, ACCEPTED_ONCE, True)
                self.ever_accepted = True
            if interval > 0:
                st.config.set_internal("HeartbeatInterval", str(interval))
            for f in st.features:
                f.on_accepted(now)
        else:
            st.registration = Registration.PENDING if status == "Pending" else Registration.REJECTED
            self._retry_at(now, interval)

    def _failed(self, error: Any, now: float) -> None:
        self.in_flight = False
        if self.station.connected:
            self._retry_at(now, 0)

    def describe(self, doc: dict[str, Any], now: float) -> None:
        when = self.station.timers.deadline(TIMER)
        if when is not None:
            doc["nextBootNotificationIn"] = max(0.0, round(when - now, 3))

"""StatusNotification reporting ([SPEC] §4.9, [ERRATA] 3.19, 3.22; spec §2.3).

* Every change of a connector's status (or error code) is reported once it
  has been stable for MinimumStatusDuration seconds; 0 reports at once.
* After BootNotification is Accepted: connector 0 and every connector (3.22).
* Offline nothing is queued; on reconnect a connector's status is sent only
  when it differs from the last one the CSMS acknowledged (no history replay).
* Triggered reports (TriggerMessage) skip MinimumStatusDuration.
* The timestamp is the time of the change ([SPEC] §6.47: "the time for which
  the status is reported"), however late the report goes out (after
  MinimumStatusDuration, or on reconnect after an offline period); a triggered
  report gives the status at the time of the trigger.
* A connector's Available, Preparing, Reserved or Unavailable (a status
  that says no transaction runs there) waits while a StopTransaction of that
  connector is queued: after a reconnect or a boot the transaction messages
  of a session that ended offline reach the CSMS first, so it never sees the
  connector free beside a transaction it still thinks is running ([SPEC]
  §3.7 lets non-transaction messages go first; this one must not). Finishing
  may go either way (OCTT: "steps may be reversed") and is not held.
"""

from __future__ import annotations

from typing import Any

from ...core.connector import Status
from ...core.outbox import Request
from ..base import Feature

# statuses that say no transaction runs on the connector: reported only after its queued StopTransaction
_AFTER_STOP = frozenset({Status.AVAILABLE, Status.PREPARING, Status.RESERVED, Status.UNAVAILABLE})


def _key(c) -> tuple:
    return (c.status.value, c.error_code, c.info, c.vendor_error_code)


class StatusReporting(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        self.reported: dict[int, tuple] = {}  # connector id -> last status the CSMS acknowledged
        self.changed_at: dict[int, float] = {}  # connector id -> `now` of its latest status change

    def changed(self, connector_id: int, now: float) -> None:
        """A connector's status changed: report it (after MinimumStatusDuration)."""
        self.changed_at[connector_id] = now
        msd = self.station.config["MinimumStatusDuration"]
        if msd > 0:
            self.station.timers.set(f"status:{connector_id}", now + msd, lambda t: self._report(connector_id, t))
        else:
            self._report(connector_id, now)

    def _report(self, connector_id: int, now: float, force: bool = False, triggered: bool = False) -> None:
        st = self.station
        if not st.connected or (not st.accepted and not triggered):
            return
        c = st.connector(connector_id)
        key = _key(c)
        if not force and self.reported.get(connector_id) == key and not self._queued(connector_id):
            return
        payload: dict[str, Any] = {
            "connectorId": c.id,
            "errorCode": c.error_code,
            "status": c.status.value,
            "timestamp": st.timestamp(now if triggered else self.changed_at.get(connector_id, now)),
        }
        if c.info:
            payload["info"] = c.info[:50]
        if c.vendor_error_code:
            payload["vendorErrorCode"] = c.vendor_error_code[:50]

        def answered(_p: dict[str, Any], _now: float) -> None:
            self.reported[connector_id] = key

        hold = None
        if connector_id > 0 and c.status in _AFTER_STOP and not triggered:
            queue = st.tx_queue
            hold = lambda: queue.stop_pending(connector_id)  # noqa: E731
        st.send(Request("StatusNotification", payload, answered, allowed_before_accepted=triggered, hold=hold))

    def _queued(self, connector_id: int) -> bool:
        return any(
            r.action == "StatusNotification" and r.payload["connectorId"] == connector_id
            for r in self.station.requests.items
        )

    def report_now(self, connector_id: int, now: float) -> None:
        """A triggered report: no MinimumStatusDuration ([ERRATA] / open-ocpp #46)."""
        self._report(connector_id, now, force=True, triggered=True)

    def on_accepted(self, now: float) -> None:
        for c in self.station.connectors:
            self.station.timers.cancel(f"status:{c.id}")
            self._report(c.id, now, force=True)

    def on_connected(self, now: float) -> None:
        if self.station.accepted:  # a reconnect: only what changed while offline
            for c in self.station.connectors:
                if self.reported.get(c.id) != _key(c):
                    self._report(c.id, now)

    def on_disconnected(self, now: float) -> None:
        self.station.requests.discard(lambda r: r.action == "StatusNotification")

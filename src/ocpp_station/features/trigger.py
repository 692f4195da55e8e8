"""Remote Trigger: TriggerMessage ([SPEC] §5.17, §6.51-6.52, §7.32, §7.44).

* The TriggerMessage.conf goes out first, the requested message after it
  ([SPEC] §5.17 SHALL): the message is queued in :meth:`after_call`, once the
  confirmation is on its way.
* ``Rejected`` for a connectorId the station does not have (TC_055), and for
  BootNotification once the station is Accepted ([ERRATA] 3.35, RECOMMENDED).
* ``NotImplemented`` for a message the station cannot produce: the
  Diagnostics and Firmware status notifications without FirmwareManagement.
* A connectorId that does not concern the message (Heartbeat,
  BootNotification) is ignored; an absent one where it does means every
  connector: StatusNotification for connector 0 and each connector, MeterValues
  for each connector ([SPEC] §5.17).
* Triggered messages are sent while Pending too, and StatusNotification skips
  MinimumStatusDuration (StatusReporting.report_now).
* Triggered MeterValues carry the latest values of every MeterValuesSampledData
  measurand, context ``Trigger`` ([ERRATA] 3.46), with the transactionId of a
  transaction running on the connector.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.outbox import Request
from .base import Feature
from .core.metering import DEFAULT_MEASURAND, meter_value

PROFILE = "RemoteTrigger"

# requestedMessage -> does connectorId matter for it
_CONNECTOR_MATTERS = {
    "BootNotification": False,
    "DiagnosticsStatusNotification": False,
    "FirmwareStatusNotification": False,
    "Heartbeat": False,
    "MeterValues": True,
    "StatusNotification": True,
}


class RemoteTrigger(Feature):
    profile = PROFILE

    def __init__(self, station) -> None:
        super().__init__(station)
        self._pending: list[Callable[[float], None]] = []  # messages to queue once the conf is sent

    def handlers(self):
        return {"TriggerMessage": self.trigger_message}

    def trigger_message(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        what = payload["requestedMessage"]
        cid = payload.get("connectorId")
        if _CONNECTOR_MATTERS[what] and cid is not None:
            lowest = 0 if what == "StatusNotification" else 1  # 0 = the charge point's own status ([SPEC] §5.17)
            if not lowest <= cid < len(st.connectors):
                return {"status": "Rejected"}  # TC_055: a connector the station does not have
        send = self._sender(what, cid if _CONNECTOR_MATTERS[what] else None)
        if send is None:
            return {"status": "NotImplemented"}
        if send is _REJECTED:
            return {"status": "Rejected"}
        self._pending.append(send)
        return {"status": "Accepted"}

    def after_call(self, action: str, now: float) -> None:
        pending, self._pending = self._pending, []
        for send in pending:
            send(now)

    # -- the messages ---------------------------------------------------------------------------

    def _sender(self, what: str, cid: int | None) -> Any:
        st = self.station
        if what == "BootNotification":
            if st.accepted:
                return _REJECTED  # [ERRATA] 3.35: no BootNotification on demand once Accepted
            return lambda now: st.feature["Boot"].send_now(now)
        if what == "Heartbeat":
            return self._heartbeat
        if what == "StatusNotification":
            ids = [cid] if cid is not None else [c.id for c in st.connectors]
            return lambda now: [st.feature["StatusReporting"].report_now(i, now) for i in ids]
        if what == "MeterValues":
            ids = [cid] if cid is not None else [c.id for c in st.connectors[1:]]
            return lambda now: [self._meter_values(i, now) for i in ids]
        # Diagnostics / Firmware status: a FirmwareManagement feature answers them through trigger_status()
        for f in st.features:
            status_of = getattr(f, "trigger_status", None)
            if status_of is not None and status_of(what) is not None:
                return lambda now, f=f: f.send_status(what, now)
        return None

    def _heartbeat(self, now: float) -> None:
        heartbeat = self.station.feature["Heartbeat"]
        self.station.send(Request("Heartbeat", {}, heartbeat.answered, allowed_before_accepted=True))

    def _meter_values(self, cid: int, now: float) -> None:
        st = self.station
        s = st.hardware.read(cid, now)
        items = st.config["MeterValuesSampledData"] or [DEFAULT_MEASURAND]  # [ERRATA] 3.15 default measurand
        mv = meter_value(items, s, "Trigger", st.clock.wall(now))
        if mv is None:
            return
        payload: dict[str, Any] = {"connectorId": cid, "meterValue": [mv]}
        tx = st.feature["Transactions"].cond[cid].tx
        if tx is not None and tx.transaction_id is not None:
            payload["transactionId"] = tx.transaction_id
        st.send(Request("MeterValues", payload, allowed_before_accepted=True))


_REJECTED = object()  # a sender that means: answer Rejected

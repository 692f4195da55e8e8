"""ChangeAvailability ([SPEC] §5.2, §4.9) and hardware faults (TC_041).

* connectorId 0 changes the charge point and every connector.
* A connector with a running transaction answers Scheduled: the change takes
  effect when the transaction ends.
* Inoperative persists across reboots and power cuts (store namespace
  ``availability``; TC_013, TC_014, TC_034).
* A fault puts the connector (or connector 0) in Faulted with its errorCode;
  clearing it returns to the state the conditions give.
"""

from __future__ import annotations

from typing import Any

from ...core.events import Event, FaultCleared, FaultDetected
from ..base import Feature

NS = "availability"


class Availability(Feature):
    @property
    def tx(self):
        return self.station.feature["Transactions"]

    def handlers(self):
        return {"ChangeAvailability": self.change_availability}

    def on_start(self, now: float) -> None:
        saved = self.station.store.items(NS)
        if saved.get("0") == "Inoperative":
            self.tx.cp_operative = False
            self._set_cp(now)
        for cid, c in self.tx.cond.items():
            if saved.get(str(cid)) == "Inoperative":
                c.operative = False
            self.tx.refresh(cid, now)

    def _set_cp(self, now: float) -> None:
        st = self.station
        c0 = st.connector(0)
        from ...core.connector import Status

        if c0.status == Status.FAULTED:
            return
        target = Status.AVAILABLE if self.tx.cp_operative else Status.UNAVAILABLE
        if c0.set_status(target):
            st.feature["StatusReporting"].changed(0, now)

    def change_availability(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        cid, kind = payload["connectorId"], payload["type"]
        st = self.station
        if cid != 0 and cid not in self.tx.cond:
            return {"status": "Rejected"}
        operative = kind == "Operative"
        targets = list(self.tx.cond) if cid == 0 else [cid]
        scheduled = False
        with st.store.batch():
            if cid == 0:
                st.store.put(NS, "0", kind)
            for t in targets:
                st.store.put(NS, str(t), kind)
        if cid == 0:
            self.tx.cp_operative = operative
            self._set_cp(now)
        for t in targets:
            c = self.tx.cond[t]
            if c.tx is not None and not operative:
                c.scheduled = kind  # [SPEC] §5.2: applies when the transaction ends
                scheduled = True
                continue
            c.operative = operative
            c.scheduled = None
            if not operative and c.pending_id is not None:
                self.tx.cancel_pending(t, now)
            self.tx.refresh(t, now)
        return {"status": "Scheduled" if scheduled else "Accepted"}

    def transaction_ended(self, cid: int, now: float) -> None:
        c = self.tx.cond[cid]
        if c.scheduled is not None:
            c.operative = c.scheduled == "Operative"
            c.scheduled = None

    # -- faults ---------------------------------------------------------------------------------

    def on_event(self, event: Event, now: float) -> None:
        st = self.station
        if isinstance(event, FaultDetected):
            if event.connector_id == 0:
                if st.connector(0).set_status(
                    st.connector(0).status.__class__.FAULTED, event.error_code, event.info, event.vendor_error_code
                ):
                    st.feature["StatusReporting"].changed(0, now)
                return
            c = self.tx.cond.get(event.connector_id)
            if c is None:
                return
            c.fault = (event.error_code, event.info, event.vendor_error_code)
            st.hardware.set_relay(event.connector_id, False, now)
            self.tx.refresh(event.connector_id, now)
        elif isinstance(event, FaultCleared):
            if event.connector_id == 0:
                c0 = st.connector(0)
                from ...core.connector import Status

                c0.set_status(Status.AVAILABLE if self.tx.cp_operative else Status.UNAVAILABLE)
                st.feature["StatusReporting"].changed(0, now)
                return
            c = self.tx.cond.get(event.connector_id)
            if c is None or c.fault is None:
                return
            c.fault = None
            if c.tx is not None and not c.tx.invalid:
                st.hardware.set_relay(event.connector_id, True, now)
            self.tx.refresh(event.connector_id, now)

"""ChangeAvailability ([SPEC] §5.2, §4.9) and hardware faults (TC_041).

* connectorId 0 changes the charge point and every connector. While it is
  Inoperative, Operative for a single connector is Rejected (see
  :meth:`Availability.change_availability`).
* A connector with a running transaction answers Scheduled: the change takes
  effect when the transaction ends. So does a Preparing connector, for which
  [SPEC] §4.9 has no edge to Unavailable: the session that began goes on and
  the change applies when it is over (Available or Finishing first, each
  status reported), or, if it becomes a transaction, when that one ends.
* Inoperative persists across reboots and power cuts (store namespace
  ``availability``; TC_013, TC_014, TC_034).
* A fault puts the connector (or connector 0) in Faulted with its errorCode;
  clearing it returns to the state the conditions give.
"""

from __future__ import annotations

from typing import Any

from ...core.connector import Status
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
            if saved.get(str(cid)) == "Inoperative" or not self.tx.cp_operative:
                c.operative = False
            self.tx.refresh(cid, now)

    def _set_cp(self, now: float) -> None:
        st = self.station
        c0 = st.connector(0)
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
        if cid != 0 and operative and not self.tx.cp_operative:
            # [SPEC] §5.2: connectorId 0 Inoperative makes the Charge Point and all its connectors unavailable
            # ("does not allow any charging"); one connector cannot be operative on its own, so the Charge Point
            # is not able to make that change: Rejected, and the connector stays Unavailable. Operative on
            # connectorId 0 makes them all operative again.
            return {"status": "Rejected"}
        targets = list(self.tx.cond) if cid == 0 else [cid]
        scheduled = False
        with st.store.batch():  # persisted at once, even when Scheduled: a reboot ends the session too
            if cid == 0:
                st.store.put(NS, "0", kind)
            for t in targets:
                st.store.put(NS, str(t), kind)
        if cid == 0:
            self.tx.cp_operative = operative
            self._set_cp(now)
        for t in targets:
            c = self.tx.cond[t]
            if not operative and self._in_use(t):
                c.scheduled = kind
                scheduled = True
                continue
            c.operative = operative
            c.scheduled = None
            if operative and c.finishing and st.connector(t).status == Status.UNAVAILABLE:
                # [SPEC] §4.9 has no Unavailable -> Finishing: the session that ended before the connector went
                # Unavailable is over. It comes back as what it is now: Preparing with the EV still connected
                # (ConnectionTimeOut counts, then B6 Finishing, [ERRATA] 3.20/3.77), Available otherwise.
                self.tx.end_finishing(t)
            if not operative and c.pending_id is not None:
                self.tx.cancel_pending(t, now)
            self.tx.refresh(t, now)
        return {"status": "Scheduled" if scheduled else "Accepted"}

    def _in_use(self, cid: int) -> bool:
        """The connector cannot go Unavailable now: a transaction runs ([SPEC] §5.2: Scheduled, applied after it),
        or it is Preparing, which has no edge to Unavailable ([SPEC] §4.9): the session that began (cable in,
        or an idTag waiting for the cable) ends first, either back to Available / Finishing (unplug,
        ConnectionTimeOut, [ERRATA] 3.20/3.77) or, when it becomes a transaction, at the end of that one.
        Preparing is the only status without that edge (tests/core/test_connector.py checks the table)."""
        if self.tx.cond[cid].tx is not None:
            return True
        return not self.station.connector(cid).can_become(Status.UNAVAILABLE)

    def connector_settled(self, cid: int, now: float) -> None:
        """The connector's status was just derived: apply a change scheduled while it was Preparing once it has
        left Preparing without a transaction (Available or Finishing, already reported, then Unavailable)."""
        c = self.tx.cond[cid]
        if c.scheduled is None or self._in_use(cid):
            return
        self._apply_scheduled(cid)
        if not c.operative and c.pending_id is not None:
            self.tx.cancel_pending(cid, now)  # refreshes
        else:
            self.tx.refresh(cid, now)

    def transaction_ended(self, cid: int, now: float) -> None:
        """[SPEC] §5.2: a change Scheduled for a transaction applies when it ends (Charging -> Unavailable)."""
        self._apply_scheduled(cid)

    def _apply_scheduled(self, cid: int) -> None:
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
                    Status.FAULTED, event.error_code, event.info, event.vendor_error_code
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

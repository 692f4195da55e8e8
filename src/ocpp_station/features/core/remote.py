"""RemoteStartTransaction and RemoteStopTransaction ([SPEC] §5.11, §5.12; [ERRATA] 3.32, 3.33, 3.41).

RemoteStart is Accepted when a start will be attempted: the connector exists
and is not 0 (TC_027), has no transaction or pending start (TC_026), is
operative and not faulted, the station is registered (not Pending) and no
reset is under way.
With AuthorizeRemoteTxRequests the idTag is authorized like a local one
(cache / local list / Authorize.req); without, it starts at once and the
CSMS judges it in StartTransaction.conf. Accepted without a cable: Preparing,
then ConnectionTimeOut back to Available (TC_011_2); an authorization decided once
ConnectionTimeOut has passed since the request is ignored, as for a card.
RemoteStop is Accepted only for a running transactionId; the stop is a normal
one with reason Remote (TC_012, TC_028).
"""

from __future__ import annotations

from typing import Any

from ..base import Feature


class Remote(Feature):
    def handlers(self):
        return {"RemoteStartTransaction": self.remote_start, "RemoteStopTransaction": self.remote_stop}

    @property
    def tx(self):
        return self.station.feature["Transactions"]

    def _free(self, cid: int) -> bool:
        c = self.tx.cond[cid]
        return (
            c.tx is None
            and c.pending_id is None
            and c.operative  # connectorId 0 Inoperative sets every connector's own flag
            and c.fault is None
            and c.locked_for is None
        )

    def remote_start(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        if not st.accepted:
            return {"status": "Rejected"}  # [SPEC] §4.2: not while Pending
        if self.tx.resetting():
            return {"status": "Rejected"}  # [SPEC] §5.14: a reset was accepted, the reboot would cut the start
        id_tag = payload["idTag"]
        cid = payload.get("connectorId")
        if cid is None:
            # the station's own choice avoids a connector about to go Inoperative (a change Scheduled while Preparing)
            cid = next(
                (i for i, c in self.tx.cond.items() if self._free(i) and not c.finishing and c.scheduled is None), None
            )
            if cid is None:
                return {"status": "Rejected"}
        elif cid not in self.tx.cond or not self._free(cid):
            return {"status": "Rejected"}  # connectorId 0 or unknown (TC_027), busy (TC_026), unavailable
        # [SPEC] §5.11: the TxProfile that comes along is for the transaction this start begins (Smart
        # Charging checks and keeps it; without that profile the station ignores it)
        sc = st.feature.get("SmartCharging")
        if sc is not None and not sc.accept_remote_start_profile(cid, payload.get("chargingProfile"), now):
            return {"status": "Rejected"}
        reservations = st.feature.get("Reservations")
        if reservations is not None and not reservations.may_use(cid, id_tag, now):
            return {"status": "Rejected"}

        if not st.config["AuthorizeRemoteTxRequests"]:
            self.tx.set_pending(cid, id_tag, None, True, now)
            return {"status": "Accepted"}

        requested = now

        def decided(info: dict[str, Any], t: float) -> None:
            if self.tx.decided_too_late(f"remote start {id_tag}", requested, t):
                return
            if reservations is not None and not reservations.may_use(cid, id_tag, t, info.get("parentIdTag") or ""):
                return  # [SPEC] §5.13: reserved for another idTag and parent
            if info.get("status") == "Accepted" and self._free(cid):
                self.tx.set_pending(cid, id_tag, info.get("parentIdTag"), True, t)

        self.tx.auth.authorize(id_tag, now, decided)
        return {"status": "Accepted"}

    def remote_stop(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        tx = self.tx.tx_by_id(payload["transactionId"])
        if tx is None:
            return {"status": "Rejected"}
        self.tx.stop(tx.connector_id, "Remote", None, now)  # the conf goes out before the StopTransaction
        return {"status": "Accepted"}

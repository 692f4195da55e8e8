"""UnlockConnector ([SPEC] §5.18; [ERRATA] 3.87).

NotSupported for an unknown connector (TC_031), a fixed cable (TC_017_2,
TC_018_2: a running transaction goes on) or a socket without a lock; with a
transaction, stop it first (reason UnlockCommand, TC_018_1); UnlockFailed when
the mechanism fails (TC_030); else Unlocked (TC_017_1).
"""

from __future__ import annotations

from typing import Any

from ..base import Feature


class Unlock(Feature):
    def handlers(self):
        return {"UnlockConnector": self.unlock_connector}

    def unlock_connector(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        cid = payload["connectorId"]
        txs = st.feature["Transactions"]
        if cid not in txs.cond or st.settings.fixed_cable or not st.settings.connector_lock:
            return {"status": "NotSupported"}
        c = txs.cond[cid]
        if c.tx is not None:
            txs.stop(cid, "UnlockCommand", None, now, unlock=False)
        c.locked_for = c.locked_parent = None
        if not st.hardware.unlock(cid):
            return {"status": "UnlockFailed"}
        return {"status": "Unlocked"}

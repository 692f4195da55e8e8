"""Reset ([SPEC] §5.14; [ERRATA] 3.36, 3.82) and power loss ([SPEC] §4.10, TC_032).

Reset is Accepted; every running transaction is stopped with reason
SoftReset / HardReset (its StopTransaction is persisted in the queue, so a
hard reset that cannot deliver it sends it after the reboot). A soft reset
waits, at most ``SOFT_RESET_GRACE`` seconds, for the transaction queue to be
delivered before restarting; a hard reset restarts at once. Persistent states
(availability, configuration, cache, queue) survive: they live in the store.

Once a reset is accepted the station is on its way down: until the reboot no
new session starts (RemoteStartTransaction Rejected, cards not authorized, an
authorization decided meanwhile ignored), so the reboot never cuts a
transaction it would then report as PowerLoss ([SPEC] §5.14: stop every
transaction, then reset).
"""

from __future__ import annotations

from typing import Any

from ...core.commands import Reboot
from ..base import Feature

SOFT_RESET_GRACE = 10.0  # s a soft reset waits for the transaction queue to drain
TIMER = "reset"


class Reset(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        self.pending: str | None = None  # "Soft" | "Hard" once accepted
        self._deadline = 0.0  # `now` by which a soft reset restarts whatever happens

    def handlers(self):
        return {"Reset": self.reset}

    @property
    def under_way(self) -> bool:
        """A reset was accepted and the reboot has not happened yet: no new session may start."""
        return self.pending is not None

    def reset(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        if self.pending is not None:
            return {"status": "Accepted"}  # already resetting
        kind = payload["type"]
        self.pending = kind
        self.stop_all("SoftReset" if kind == "Soft" else "HardReset", now)
        self._deadline = now + (SOFT_RESET_GRACE if kind == "Soft" else 0.0)
        # the Reset.conf is queued ahead of anything sent from here; reboot once it is out
        self.station.timers.set(TIMER, now, self._check)
        return {"status": "Accepted"}

    def stop_all(self, reason: str, now: float) -> None:
        txs = self.station.feature["Transactions"]
        for cid, c in txs.cond.items():
            if c.tx is not None:
                txs.stop(cid, reason, None, now)

    def drained(self) -> bool:
        st = self.station
        return len(st.tx_queue) == 0 and not st.session.busy

    def _check(self, now: float) -> None:
        st = self.station
        if self.pending == "Hard" or now >= self._deadline or not st.connected or self.drained():
            st.command(Reboot(self.pending or "Hard"))
            return
        st.timers.set(TIMER, min(self._deadline, now + 0.1), self._check)

    def describe(self, doc: dict[str, Any], now: float) -> None:
        if self.pending:
            doc["resetPending"] = self.pending

"""Charging sessions: cable and card handling, StartTransaction / StopTransaction ([SPEC] §3.6, §4.8, §4.10).

Theory of operation
-------------------
Each connector carries :class:`~ocpp_station.core.connector.Conditions`
(cable, pending idTag, open transaction, finishing, availability, fault).
Features change conditions and call :meth:`Transactions.refresh`, which
derives the status ([SPEC] §4.9), moves the connector through the transition
table (via Preparing where the table demands it) and has it reported.

A transaction starts when an authorized idTag and a plugged cable meet
(either order, [SPEC] §3.6 plug-first / id-first) and the lock engages.
Its record and its StartTransaction are persisted in one commit before the
relay closes. Every later message of that transaction carries the
transactionId once the CSMS gives it (-1 if it never does, [ERRATA] 3.18).

Finishing (spec §2.5: the session ended, the user must still act) is
persisted per connector (namespace ``finishing``) until the cable is out, so
a reboot with the cable still in comes back Finishing, not Preparing
(TC_015, TC_016, TC_032_2).

ConnectionTimeOut counts from every entry into Preparing, whatever caused it
(plug, card, remote start, a reboot or ChangeAvailability(Operative) or a
cleared fault with the cable in; [ERRATA] 3.77/3.89).
"""

from __future__ import annotations

import logging
from typing import Any

from ...core.connector import Conditions, IllegalTransition, Status, Transaction, derive_status
from ...core.events import CablePlugged, CableUnplugged, CardPresented, EVStateChanged, Event
from ...hardware.base import MeterSample
from ..base import Feature
from .metering import DEFAULT_MEASURAND, meter_value

log = logging.getLogger(__name__)

NS = "transactions"
NS_FINISHING = "finishing"  # connector id -> True while a session has ended and the cable is still in
PLACEHOLDER_TX_ID = -1  # in queued messages until StartTransaction.conf arrives; kept if it never does


class Transactions(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        self.cond: dict[int, Conditions] = {c.id: Conditions() for c in station.connectors[1:]}  # per connector
        self.cp_operative = True  # connector 0's availability (ChangeAvailability with connectorId 0)
        self._counter = 0  # for local transaction ids
        q = station.tx_queue
        from ...core.outbox import TxHandlers

        q.handlers["StartTransaction"] = TxHandlers(self._start_answered, self._start_dropped)
        q.handlers["StopTransaction"] = TxHandlers(self._stop_answered)

    # -- helpers for other features ----------------------------------------------------

    @property
    def auth(self):
        return self.station.feature["Authorization"]

    def resetting(self) -> bool:
        """A reset was accepted: nothing new starts before the reboot ([SPEC] §5.14, see features/core/reset.py)."""
        reset = self.station.feature.get("Reset")
        return reset is not None and reset.under_way

    @property
    def metering(self):
        return self.station.feature["Metering"]

    def tx_by_id(self, transaction_id: int) -> Transaction | None:
        for c in self.cond.values():
            if c.tx is not None and c.tx.transaction_id == transaction_id:
                return c.tx
        return None

    def refresh(self, cid: int, now: float) -> None:
        """Derive the connector's status from its conditions; move and report it if it changed."""
        conn = self.station.connector(cid)
        status, code, info, vendor = derive_status(self.cond[cid])
        if not conn.can_become(status) and conn.can_become(Status.PREPARING) and status != Status.PREPARING:
            # e.g. Finishing -> Charging for a new session on the same cable: pass through Preparing
            self._set(conn, Status.PREPARING, "NoError", None, None, now)
        try:
            self._set(conn, status, code, info, vendor, now)
        except IllegalTransition:
            log.error("connector %s: no legal way from %s to %s", cid, conn.status.value, status.value)
        av = self.station.feature.get("Availability")
        if av is not None:
            av.connector_settled(cid, now)  # a change scheduled while Preparing applies once it is over

    def _set(self, conn, status, code, info, vendor, now: float) -> None:
        entering_preparing = status == Status.PREPARING and conn.status != Status.PREPARING
        if conn.set_status(status, code, info, vendor):
            if status != Status.PREPARING:
                self.station.timers.cancel(f"connection-timeout:{conn.id}")
            elif entering_preparing:
                self._arm_connection_timeout(conn.id, now)
            self.station.feature["StatusReporting"].changed(conn.id, now)

    # -- persistence -------------------------------------------------------------------

    def persist(self, tx: Transaction) -> None:
        self.station.store.put(NS, tx.local_id, tx.record())

    def _new_local_id(self, now: float) -> str:
        self._counter += 1
        return f"{self.station.session.id_prefix}-{int(self.station.clock.wall(now))}-{self._counter}"

    def _cable_in(self, cid: int) -> bool:
        """The cable is still in: at the EV for a fixed cable, in the station's socket otherwise."""
        if self.station.settings.fixed_cable:
            return self.cond[cid].ev_plugged
        return self.station.hardware.cable_at_station(cid)

    def _set_finishing(self, cid: int, finishing: bool) -> None:
        """Set the connector's Finishing condition and persist it (it must survive a reboot, spec §2.5)."""
        c = self.cond[cid]
        if c.finishing != finishing:
            c.finishing = finishing
            self._save_finishing(cid)

    def end_finishing(self, cid: int) -> None:
        """The session that left the connector Finishing is over (used by Availability); refresh follows."""
        self._set_finishing(cid, False)

    def _save_finishing(self, cid: int) -> None:
        if self.cond[cid].finishing:
            self.station.store.put(NS_FINISHING, str(cid), True)
        else:
            self.station.store.delete(NS_FINISHING, str(cid))

    def on_start(self, now: float) -> None:
        st = self.station
        saved = st.store.items(NS_FINISHING)
        for cid, c in self.cond.items():
            c.ev_plugged = st.hardware.ev_plugged(cid)  # the cable may be in already
            c.finishing = str(cid) in saved
        # [SPEC] §4.10 / TC_032_2: a transaction open at boot was cut by a power loss (or a hard reset
        # that could not stop it): stop it with reason PowerLoss and the last meter value known, saved at
        # least every meter_save_interval seconds while it ran (Metering), with the time it was read.
        for _key, rec in sorted(st.store.items(NS).items(), key=lambda kv: kv[1]["started_at"]):
            tx = Transaction.from_record(rec)
            self.metering.load(tx)
            meter = tx.last_meter if tx.last_meter is not None else tx.meter_start
            at = tx.last_meter_at if tx.last_meter_at is not None else tx.started_at
            self._queue_stop(tx, "PowerLoss", None, meter, at, end_sample=self._end_from_record(meter, at))
            if tx.connector_id in self.cond:
                self.cond[tx.connector_id].finishing = True  # the session ended: Finishing while the cable is in
            log.warning("transaction %s on connector %s stopped after power loss", tx.local_id, tx.connector_id)
        with st.store.batch():
            for cid, c in self.cond.items():
                # spec §2.5: Finishing until the cable is out (TC_015, TC_016, TC_032_2); unplugged while down: over
                c.finishing = c.finishing and self._cable_in(cid)
                if c.finishing != (str(cid) in saved):
                    self._save_finishing(cid)

    def _end_from_record(self, meter: int, at: float) -> dict[str, Any] | None:
        """[ERRATA] 3.14/4.25: the Transaction.End value of a transaction cut by a power loss: the last register
        value known and its time (the only measurand still known after the cut)."""
        items = [i for i in self.station.config["StopTxnSampledData"] if i == DEFAULT_MEASURAND]
        sample = MeterSample(float(meter), 0.0, 0.0, 0.0, 0.0, None, 0.0, 0.0)
        return meter_value(items, sample, "Transaction.End", at)

    # -- hardware events ---------------------------------------------------------------------

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, CablePlugged):
            self._plugged(event.connector_id, now)
        elif isinstance(event, CableUnplugged):
            self._unplugged(event.connector_id, event.side, now)
        elif isinstance(event, CardPresented):
            self._card(event.id_tag, event.connector_id, now)
        elif isinstance(event, EVStateChanged):
            c = self.cond[event.connector_id]
            c.ev_charging = event.charging
            self.refresh(event.connector_id, now)

    def _plugged(self, cid: int, now: float) -> None:
        c = self.cond[cid]
        c.ev_plugged = True
        if c.tx is not None:  # the EV came back to a suspended transaction
            self.refresh(cid, now)
            return
        if c.pending_id is not None:
            self.try_start(cid, now)
            return
        self.refresh(cid, now)  # entering Preparing arms ConnectionTimeOut

    def _unplugged(self, cid: int, side: str, now: float) -> None:
        st = self.station
        c = self.cond[cid]
        fixed = st.settings.fixed_cable
        if side == "ev":
            c.ev_plugged = False
            if c.tx is not None:
                # spec §2.3 / [ERRATA] 3.80: StopTransactionOnEVSideDisconnect decides; false keeps the
                # transaction (SuspendedEV) and the cable locked, whatever UnlockConnectorOnEVSideDisconnect says
                if st.config["StopTransactionOnEVSideDisconnect"]:
                    unlock = fixed or st.config["UnlockConnectorOnEVSideDisconnect"]
                    self.stop(cid, "EVDisconnected", None, now, unlock=unlock)
                    return
                self.refresh(cid, now)
                return
            if fixed:
                self._set_finishing(cid, False)  # the fixed cable is back in its holster: the session is over
                c.locked_for = c.locked_parent = None
        elif side == "station":
            self._set_finishing(cid, False)
            c.locked_for = c.locked_parent = None
            if c.fault is not None and c.fault[0] == "ConnectorLockFailure":
                c.fault = None
        if not c.ev_plugged and c.tx is None and c.pending_id is None:
            self._set_finishing(cid, c.finishing and not fixed)
        self.refresh(cid, now)

    # -- cards -------------------------------------------------------------------------------

    def _pick_connector(self, id_tag: str, hint: int | None) -> int | None:
        if hint is not None:
            return hint
        if len(self.cond) == 1:
            return 1
        key = id_tag.upper()
        for cid, c in self.cond.items():
            if c.tx is not None and c.tx.id_tag.upper() == key:
                return cid
        for cid, c in self.cond.items():
            if c.tx is None and c.ev_plugged and c.pending_id is None and c.operative and c.fault is None:
                return cid
        for cid, c in self.cond.items():
            if c.tx is None and c.pending_id is None and c.operative and c.fault is None and not c.finishing:
                return cid
        return None

    def _card(self, id_tag: str, hint: int | None, now: float) -> None:
        cid = self._pick_connector(id_tag, hint)
        if cid is None:
            log.info("card %s: no connector to use", id_tag)
            return
        c = self.cond[cid]
        if c.tx is not None:
            self._card_on_transaction(cid, c.tx, id_tag, now)
            return
        if c.locked_for is not None:
            self._card_unlock_after_deauthorized(cid, id_tag, now)
            return
        if c.pending_id is not None:
            if c.pending_id.upper() == id_tag.upper():
                self.cancel_pending(cid, now)  # the same card again cancels (TC_061)
            return
        if not c.operative or c.fault is not None:
            log.info("card %s ignored: connector %s is not available", id_tag, cid)
            return
        if self.resetting():
            log.info("card %s ignored: a reset is under way", id_tag)
            return
        reservation = self.station.feature.get("Reservations")
        if reservation is not None and not reservation.may_use(cid, id_tag, now):
            return

        presented = now

        def decided(info: dict[str, Any], t: float) -> None:
            cc = self.cond[cid]
            if self.decided_too_late(f"card {id_tag}", presented, t):
                return
            if info.get("status") != "Accepted":
                log.info("card %s refused: %s", id_tag, info.get("status"))
                return
            if cc.tx is not None or cc.pending_id is not None:
                return
            # [SPEC] §5.13: on a reserved connector the parent the CSMS gave decides (TC_053)
            if reservation is not None and not reservation.may_use(cid, id_tag, t, info.get("parentIdTag") or ""):
                return
            self.set_pending(cid, id_tag, info.get("parentIdTag"), False, t)

        self.auth.authorize(id_tag, now, decided)

    def _card_on_transaction(self, cid: int, tx: Transaction, id_tag: str, now: float) -> None:
        # [SPEC] §4.1 / TC_068: the starting idTag stops without an Authorize.req
        if id_tag.upper() == tx.id_tag.upper():
            self.stop(cid, "Local", id_tag, now)
            return

        # TC_069: another idTag stops it when it shares the parentIdTag
        def decided(info: dict[str, Any], t: float) -> None:
            cur = self.cond[cid].tx
            if cur is None or cur.local_id != tx.local_id:
                return
            parent = info.get("parentIdTag")
            if info.get("status") == "Accepted" and parent and cur.parent_id_tag and parent.upper() == cur.parent_id_tag.upper():
                self.stop(cid, "Local", id_tag, t)
            else:
                log.info("card %s may not stop transaction %s", id_tag, cur.transaction_id)

        self.auth.authorize(id_tag, now, decided, skip_local=False)

    def _card_unlock_after_deauthorized(self, cid: int, id_tag: str, now: float) -> None:
        # [ERRATA] 3.5: after a DeAuthorized stop the cable stays locked until the same idTag
        # (or one with the same parentIdTag) is presented
        c = self.cond[cid]
        locked_for = c.locked_for
        if id_tag.upper() == (locked_for or "").upper():
            c.locked_for = None
            self.station.hardware.unlock(cid)
            return
        if not c.locked_parent:
            log.info("card %s: connector %s stays locked for %s", id_tag, cid, locked_for)
            return

        def decided(info: dict[str, Any], t: float) -> None:
            cc = self.cond[cid]
            if cc.locked_for is None or cc.locked_for != locked_for:
                return  # unlocked (or a new session) meanwhile
            parent = info.get("parentIdTag")
            if parent and cc.locked_parent and parent.upper() == cc.locked_parent.upper():
                cc.locked_for = cc.locked_parent = None
                self.station.hardware.unlock(cid)
            else:
                log.info("card %s: not the parent of %s, connector %s stays locked", id_tag, locked_for, cid)

        # the parent of an idTag the station knows (list or cache) is at hand; any other idTag is authorized
        # (Authorize.req online, the offline rules otherwise) to learn its parent ([ERRATA] 3.5)
        known = self.auth.local_info(id_tag, now)
        if known is not None and known.get("parentIdTag"):
            decided(known, now)
        else:
            self.auth.authorize(id_tag, now, decided)

    # -- pending authorization (id first, remote start) -----------------------------------------

    def decided_too_late(self, what: str, asked: float, t: float) -> bool:
        """An authorization decided ConnectionTimeOut or more after it was asked for (card or remote start)
        comes too late: the incipient session would have ended by now ([ERRATA] 3.77/3.89)."""
        timeout = self.station.config["ConnectionTimeOut"]
        if timeout > 0 and t - asked >= timeout:
            log.info("%s: authorization decided %.1f s later, beyond ConnectionTimeOut; ignored", what, t - asked)
            return True
        return False

    def set_pending(self, cid: int, id_tag: str, parent: str | None, remote: bool, now: float) -> None:
        if self.resetting():
            log.info("%s on connector %s ignored: a reset is under way", id_tag, cid)
            return
        c = self.cond[cid]
        c.pending_id, c.pending_parent, c.pending_remote = id_tag, parent, remote
        self._set_finishing(cid, False)
        if c.ev_plugged:
            self.try_start(cid, now)
            return
        c.pending_since = now
        self.refresh(cid, now)  # entering Preparing arms ConnectionTimeOut

    def cancel_pending(self, cid: int, now: float) -> None:
        c = self.cond[cid]
        c.pending_id = c.pending_parent = None
        c.pending_remote = False
        c.pending_since = None
        self.refresh(cid, now)  # leaving Preparing cancels ConnectionTimeOut; staying keeps it counting

    def _arm_connection_timeout(self, cid: int, now: float) -> None:
        # [ERRATA] 3.77/3.89: ConnectionTimeOut counts from the start of Preparing, whatever led there
        timeout = self.station.config["ConnectionTimeOut"]
        if timeout <= 0:
            return
        self.station.timers.set(f"connection-timeout:{cid}", now + timeout, lambda t: self._connection_timeout(cid, t))

    def _connection_timeout(self, cid: int, now: float) -> None:
        c = self.cond[cid]
        if c.tx is not None:
            return
        if c.pending_id is not None and not c.ev_plugged:
            log.info("connector %s: no cable within ConnectionTimeOut; authorization dropped", cid)
            self.cancel_pending(cid, now)  # back to Available (TC_004_2, TC_011_2)
        elif c.ev_plugged and c.pending_id is None:
            # [ERRATA] 3.20 (B6): plugged in, no idTag within the timeout -> Finishing
            self._set_finishing(cid, True)
            self.refresh(cid, now)

    # -- starting -------------------------------------------------------------------------------

    def try_start(self, cid: int, now: float) -> None:
        st = self.station
        c = self.cond[cid]
        if c.tx is not None or c.pending_id is None or not c.ev_plugged:
            return
        if not c.operative or c.fault is not None or self.resetting():
            return
        if st.settings.connector_lock and not st.settings.fixed_cable and not st.hardware.lock(cid):
            # TC_024: the lock does not engage -> Faulted(ConnectorLockFailure), no transaction
            c.fault = ("ConnectorLockFailure", None, None)
            c.pending_id = c.pending_parent = None
            c.pending_remote = False
            self.refresh(cid, now)
            return
        meter = int(st.hardware.energy_wh(cid, now))
        wall = st.clock.wall(now)
        remote = c.pending_remote
        reservation_id = None
        res = st.feature.get("Reservations")
        if res is not None:
            reservation_id = res.consume(cid, c.pending_id, now, c.pending_parent)
        tx = Transaction(
            local_id=self._new_local_id(now),
            connector_id=cid,
            id_tag=c.pending_id,
            parent_id_tag=c.pending_parent,
            meter_start=meter,
            started_at=wall,
            last_meter=meter,
            last_meter_at=wall,
            reservation_id=reservation_id,
        )
        payload: dict[str, Any] = {
            "connectorId": cid,
            "idTag": tx.id_tag,
            "meterStart": tx.meter_start,
            "timestamp": st.timestamp(now),
        }
        if reservation_id is not None:
            payload["reservationId"] = reservation_id
        with st.store.batch():  # persisted before the relay closes (nothing lost)
            self.metering.begin(tx, now)
            self.persist(tx)
            st.send_transaction_message("StartTransaction", payload, tx.local_id)
            self._set_finishing(cid, False)
        c.tx = tx
        c.pending_id = c.pending_parent = None
        c.pending_remote = False
        c.pending_since = None
        st.timers.cancel(f"connection-timeout:{cid}")
        sc = st.feature.get("SmartCharging")
        if sc is not None:
            sc.transaction_started(cid, tx, remote, now)  # the limit is set before the relay closes
        st.hardware.set_relay(cid, True, now)
        self.refresh(cid, now)
        self.metering.started(tx, now)

    def _start_answered(self, msg, payload: dict[str, Any], now: float) -> None:
        info = payload["idTagInfo"]
        tx = self._tx_by_local(msg.tx)
        id_tag = msg.payload["idTag"]
        self.auth.remember(id_tag, info, now)
        self.set_transaction_id(msg.tx, payload["transactionId"], tx)
        if tx is None:
            return  # already stopped; its StopTransaction carries the id now
        if info.get("parentIdTag"):
            tx.parent_id_tag = info["parentIdTag"]
            self.persist(tx)
        if info["status"] != "Accepted":
            self.deauthorized(tx, now)

    def deauthorized(self, tx: Transaction, now: float) -> None:
        """[ERRATA] 3.17 / TC_037_2/3: the CSMS says the idTag is not valid for a running transaction."""
        st = self.station
        cid = tx.connector_id
        if st.config["StopTransactionOnInvalidId"]:
            c = self.cond[cid]
            self.stop(cid, "DeAuthorized", None, now, unlock=False)
            c.locked_for = tx.id_tag  # [ERRATA] 3.5: stays locked for the same idTag / parent
            c.locked_parent = tx.parent_id_tag
        else:
            # keep the transaction; energy stops once MaxEnergyOnInvalidId Wh have been delivered ([SPEC] §9.1)
            self._energy_allowance(tx, now)

    def _energy_allowance(self, tx: Transaction, now: float) -> None:
        st = self.station
        cid = tx.connector_id
        if self.cond[cid].tx is not tx:
            return
        sample = st.hardware.read(cid, now)
        left = tx.meter_start + st.config["MaxEnergyOnInvalidId"] - sample.energy_wh
        if left > 0:
            # at the present power the allowance lasts left/power hours; look again then (at most every minute)
            wait = min(60.0, left / sample.power_w * 3600) if sample.power_w > 0 else 60.0
            st.timers.set(f"invalid-allowance:{cid}", now + max(wait, 0.001), lambda t: self._energy_allowance(tx, t))
            return
        tx.invalid = True  # stop the energy, keep the transaction: SuspendedEVSE
        self.persist(tx)
        st.hardware.set_relay(cid, False, now)
        self.refresh(cid, now)

    def _start_dropped(self, msg, now: float) -> None:
        # [ERRATA] 3.18: no transactionId will ever come; later messages use -1
        self.set_transaction_id(msg.tx, PLACEHOLDER_TX_ID, self._tx_by_local(msg.tx))

    def set_transaction_id(self, local_id: str, transaction_id: int, tx: Transaction | None) -> None:
        if tx is not None:
            tx.transaction_id = transaction_id
            self.persist(tx)

        def patch(m) -> bool:
            if m.action in ("MeterValues", "StopTransaction") and m.payload.get("transactionId") == PLACEHOLDER_TX_ID:
                m.payload["transactionId"] = transaction_id
                return True
            return False

        self.station.tx_queue.update_payloads(local_id, patch)

    def _tx_by_local(self, local_id: str) -> Transaction | None:
        for c in self.cond.values():
            if c.tx is not None and c.tx.local_id == local_id:
                return c.tx
        return None

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self, cid: int, reason: str, id_tag: str | None, now: float, unlock: bool = True) -> None:
        """Stop the connector's transaction ([SPEC] §4.10): StopTransaction queued, relay open, Finishing."""
        st = self.station
        c = self.cond[cid]
        tx = c.tx
        if tx is None:
            return
        meter_stop = int(st.hardware.energy_wh(cid, now))
        st.hardware.set_relay(cid, False, now)
        end_sample = self.metering.end(tx, now)
        with st.store.batch():
            self._queue_stop(tx, reason, id_tag, meter_stop, st.clock.wall(now), end_sample)
            # the cable is still in (EV side for a fixed cable, the socket otherwise): Finishing until it is out
            self._set_finishing(cid, self._cable_in(cid))
        c.tx = None
        sc = st.feature.get("SmartCharging")
        if sc is not None:
            sc.transaction_ended(cid, tx, now)  # [SPEC] §3.13.1: its TxProfiles end with it
        st.timers.cancel(f"sample:{cid}")
        self.metering.stop_register_saves(cid)
        st.timers.cancel(f"invalid-allowance:{cid}")
        if unlock and st.settings.connector_lock and not st.settings.fixed_cable:
            st.hardware.unlock(cid)
        self._apply_scheduled(cid, now)
        self.refresh(cid, now)

    def _queue_stop(
        self, tx: Transaction, reason: str, id_tag: str | None, meter_stop: int, at: float, end_sample: Any
    ) -> None:
        st = self.station
        payload: dict[str, Any] = {
            "transactionId": tx.transaction_id if tx.transaction_id is not None else PLACEHOLDER_TX_ID,
            "meterStop": meter_stop,
            "timestamp": _iso(at),
            "reason": reason,
        }
        if id_tag is not None:
            payload["idTag"] = id_tag
        data = self.metering.transaction_data(tx, end_sample)
        if data:
            payload["transactionData"] = data
        with st.store.batch():
            st.send_transaction_message("StopTransaction", payload, tx.local_id, tx.connector_id)
            st.store.delete(NS, tx.local_id)
            self.metering.forget(tx)

    def _stop_answered(self, msg, payload: dict[str, Any], now: float) -> None:
        info = payload.get("idTagInfo")
        if info is not None and msg.payload.get("idTag"):
            self.auth.remember(msg.payload["idTag"], info, now)

    # -- availability hooks --------------------------------------------------------------------

    def _apply_scheduled(self, cid: int, now: float) -> None:
        av = self.station.feature.get("Availability")
        if av is not None:
            av.transaction_ended(cid, now)

    def describe_connector(self, connector_id: int, entry: dict[str, Any], now: float) -> None:
        if connector_id == 0:
            return
        c = self.cond[connector_id]
        entry["transactionId"] = c.tx.transaction_id if c.tx else None
        entry["idTag"] = c.tx.id_tag if c.tx else c.pending_id


def _iso(wall: float) -> str:
    from ...core.clock import iso

    return iso(wall)

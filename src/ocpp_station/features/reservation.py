"""Reservation: ReserveNow and CancelReservation ([SPEC] §3.11, §5.1, §5.13, §6.5-6.6, §6.37-6.38, §7.40).

Theory of operation
-------------------
A reservation holds one connector for an idTag (or any idTag sharing its
parentIdTag) until ``expiryDate``. The connector's condition ``reserved_for``
points at it, so the status the Transactions feature derives is ``Reserved``
while the connector is otherwise free ([SPEC] §4.9).

ReserveNow decides in this order ([SPEC] §5.13, §7.40):

1. the same reservationId replaces the reservation it names;
2. a connectorId the station does not have, connectorId 0 without
   ReserveConnectorZeroSupported, or an expiryDate already past: ``Rejected``
   (the spec names no other answer for a reservation that cannot be made);
3. the target Faulted: ``Faulted``; Unavailable: ``Unavailable``;
4. the target in use (Preparing, Charging, Suspended*, Finishing) or reserved:
   ``Occupied``;
5. otherwise ``Accepted``, and the connector reports ``Reserved``.

A reservation for connector 0 keeps one connector free for the idTag: the
first available connector is held (and reports Reserved; connector 0 itself
never does, [SPEC] §7.7).

A reservation ends when a transaction of its idTag (or parent) starts on the
connector (StartTransaction carries its reservationId), when it expires
(StatusNotification Available), when it is cancelled, or when its connector
becomes Faulted or Unavailable. Reservations are persisted (namespace
``reservations``); one found expired at start is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from ..core.clock import parse_iso
from ..core.configuration import KeySpec
from ..core.connector import Status
from ..core.events import Event
from ..core.settings import StationSettings
from .base import Feature

log = logging.getLogger(__name__)

NS = "reservations"  # reservationId -> Reservation record
PROFILE = "Reservation"
_IN_USE = {Status.PREPARING, Status.CHARGING, Status.SUSPENDED_EV, Status.SUSPENDED_EVSE, Status.FINISHING}


@dataclass(slots=True)
class Reservation:
    reservation_id: int
    connector_id: int  # as requested: 0 = any connector of the charge point
    held: int  # the connector it holds (connector_id, or the one picked for a connector 0 reservation)
    id_tag: str
    parent_id_tag: str | None
    expiry: float  # wall-clock epoch seconds


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.upper() == b.upper()  # IdToken is CiString20 ([SPEC] §3.5.1)


class Reservations(Feature):
    profile = PROFILE

    def __init__(self, station) -> None:
        super().__init__(station)
        self.by_id: dict[int, Reservation] = {}  # reservationId -> reservation in force

    @staticmethod
    def keys(settings: StationSettings) -> list[KeySpec]:
        # [SPEC] §9.3
        return [KeySpec("ReserveConnectorZeroSupported", "bool", "true", readonly=True, profile=PROFILE)]

    def handlers(self):
        return {"ReserveNow": self.reserve_now, "CancelReservation": self.cancel_reservation}

    @property
    def tx(self):
        return self.station.feature["Transactions"]

    # -- lifecycle --------------------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        wall = self.station.clock.wall(now)
        for key, rec in self.station.store.items(NS).items():
            r = Reservation(**rec)
            if r.expiry <= wall or r.held not in self.tx.cond:
                log.info("reservation %s expired while the station was off", r.reservation_id)
                self.station.store.delete(NS, key)
                continue
            self._hold(r, now)

    def on_accepted(self, now: float) -> None:
        for r in self.by_id.values():  # the clock may have moved with currentTime
            self._arm(r)

    def on_event(self, event: Event, now: float) -> None:
        self._drop_unusable(now)

    def after_call(self, action: str, now: float) -> None:
        self._drop_unusable(now)

    def _drop_unusable(self, now: float) -> None:
        # [SPEC] §5.13: a reservation ends when its connector becomes Faulted or Unavailable
        for r in list(self.by_id.values()):
            if self.station.connector(r.held).status in (Status.FAULTED, Status.UNAVAILABLE):
                log.info("reservation %s ends: connector %s is %s", r.reservation_id, r.held, self.station.connector(r.held).status.value)
                self._end(r, now)

    # -- CSMS actions ---------------------------------------------------------------------------------

    def reserve_now(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        cid = payload["connectorId"]
        rid = payload["reservationId"]
        try:
            expiry = parse_iso(payload["expiryDate"])
        except ValueError:
            return {"status": "Rejected"}
        if cid != 0 and cid not in self.tx.cond:
            return {"status": "Rejected"}  # a connector the station does not have (spec silent; §5.13 Rejected)
        if cid == 0 and not st.config["ReserveConnectorZeroSupported"]:
            return {"status": "Rejected"}  # [SPEC] §5.13, TC_050_4
        if expiry <= st.clock.wall(now):
            return {"status": "Rejected"}  # already expired: a reservation that cannot be honoured
        # [SPEC] §5.13: the same reservationId replaces the reservation; its connector counts as free for it
        old = self.by_id.get(rid)
        if old is not None:
            self.tx.cond[old.held].reserved_for = None
        answer, held = self._target(cid)
        if answer != "Accepted":
            if old is not None:
                self.tx.cond[old.held].reserved_for = old  # not replaced: the old reservation stands
            return {"status": answer}
        if old is not None:
            self.by_id.pop(rid)
            self.station.timers.cancel(f"reservation:{rid}")
            if old.held != held:
                self.tx.refresh(old.held, now)
        r = Reservation(rid, cid, held, payload["idTag"], payload.get("parentIdTag"), expiry)
        self._save(r)
        self._hold(r, now)
        log.info("reservation %s: connector %s for %s until %s", rid, held, r.id_tag, payload["expiryDate"])
        return {"status": "Accepted"}

    def _target(self, cid: int) -> tuple[str, int]:
        """(ReserveNow answer, the connector to hold) for connectorId ``cid``."""
        st = self.station
        if cid != 0:
            return self._answer_for(cid), cid
        if st.connector(0).status == Status.FAULTED:
            return "Faulted", 0
        if not self.tx.cp_operative:
            return "Unavailable", 0
        answers = {c: self._answer_for(c) for c in self.tx.cond}
        free = [c for c, a in answers.items() if a == "Accepted"]
        if free:
            return "Accepted", free[0]
        for answer in ("Occupied", "Unavailable", "Faulted"):  # the most hopeful reason first
            if answer in answers.values():
                return answer, 0
        return "Rejected", 0

    def _answer_for(self, cid: int) -> str:
        status = self.station.connector(cid).status
        if status == Status.FAULTED:
            return "Faulted"
        if status == Status.UNAVAILABLE:
            return "Unavailable"
        if status in _IN_USE or self.tx.cond[cid].reserved_for is not None:
            return "Occupied"
        return "Accepted"

    def cancel_reservation(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        r = self.by_id.get(payload["reservationId"])
        if r is None:
            return {"status": "Rejected"}  # [SPEC] §5.1: no such reservation
        log.info("reservation %s cancelled", r.reservation_id)
        self._end(r, now)
        return {"status": "Accepted"}

    # -- the hooks Transactions and Remote call --------------------------------------------------------

    def reservation_on(self, cid: int) -> Reservation | None:
        r = self.tx.cond[cid].reserved_for if cid in self.tx.cond else None
        return r if isinstance(r, Reservation) else None

    def may_use(self, cid: int, id_tag: str, now: float, parent: str | None = None) -> bool:
        """May ``id_tag`` (with ``parent``, when known) start on connector ``cid``? ([SPEC] §5.13)

        Before authorization ``parent`` is None: the parent the list or cache knows is used, and an idTag
        whose parent is unknown may go on to Authorize.req, whose answer may carry it ([ERRATA] 4.12)."""
        r = self.reservation_on(cid)
        if r is None or _same(id_tag, r.id_tag):
            return True
        if r.parent_id_tag is None:
            log.info("card %s refused: connector %s is reserved for %s", id_tag, cid, r.id_tag)
            return False  # TC_046_1: a foreign card gets no Authorize.req
        if parent is None:
            known = self.station.feature["Authorization"].local_info(id_tag, now)
            parent = known.get("parentIdTag") if known else None
            if parent is None:
                return True  # unknown parent: Authorize.req will tell (TC_053)
        if _same(parent, r.parent_id_tag):
            return True
        log.info("card %s refused: connector %s is reserved for %s (parent %s)", id_tag, cid, r.id_tag, r.parent_id_tag)
        return False

    def consume(self, cid: int, id_tag: str, now: float, parent: str | None = None) -> int | None:
        """A transaction of ``id_tag`` starts on ``cid``: the reservationId it uses (and the reservation ends)."""
        r = self.reservation_on(cid)
        if r is None or not (_same(id_tag, r.id_tag) or _same(parent, r.parent_id_tag)):
            return None
        self._end(r, now, refresh=False)  # the transaction's start sets the status
        return r.reservation_id

    # -- internals ------------------------------------------------------------------------------------------

    def _save(self, r: Reservation) -> None:
        self.station.store.put(NS, str(r.reservation_id), asdict(r))

    def _hold(self, r: Reservation, now: float) -> None:
        self.by_id[r.reservation_id] = r
        self.tx.cond[r.held].reserved_for = r
        self._arm(r)
        self.tx.refresh(r.held, now)

    def _arm(self, r: Reservation) -> None:
        st = self.station
        st.timers.set(f"reservation:{r.reservation_id}", st.clock.to_now(r.expiry), lambda t, rr=r: self._expired(rr, t))

    def _expired(self, r: Reservation, now: float) -> None:
        if self.by_id.get(r.reservation_id) is r:
            log.info("reservation %s expired", r.reservation_id)
            self._end(r, now)  # [SPEC] §5.13: the connector is Available again (TC_047)

    def _end(self, r: Reservation, now: float, refresh: bool = True) -> None:
        self.by_id.pop(r.reservation_id, None)
        self.station.timers.cancel(f"reservation:{r.reservation_id}")
        self.station.store.delete(NS, str(r.reservation_id))
        c = self.tx.cond.get(r.held)
        if c is not None and c.reserved_for is r:
            c.reserved_for = None
            if refresh:
                self.tx.refresh(r.held, now)

    # -- views ------------------------------------------------------------------------------------------------

    def describe_connector(self, connector_id: int, entry: dict[str, Any], now: float) -> None:
        r = self.reservation_on(connector_id) if connector_id else None
        if r is not None:
            from ..core.clock import iso

            entry["reservation"] = {
                "reservationId": r.reservation_id,
                "idTag": r.id_tag,
                "parentIdTag": r.parent_id_tag,
                "expiryDate": iso(r.expiry),
                "connectorId": r.connector_id,
            }


class ReservationAbsent(Feature):
    """A station without the Reservation profile answers ReserveNow and CancelReservation ``Rejected``
    ([SPEC] §5.13: a charge point that does not reserve; TC_048_4)."""

    def handlers(self):
        rejected = lambda _p, _now: {"status": "Rejected"}  # noqa: E731
        return {"ReserveNow": rejected, "CancelReservation": rejected}

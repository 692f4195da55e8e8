"""Connector status as a transition table ([SPEC] §4.9 with [ERRATA] 3.20, 3.55, 3.64; spec §2.5).

Theory of operation: a connector's status changes only through
:meth:`Connector.set_status`, which looks the change up in
:data:`TRANSITIONS`. A change that is not in the table raises
:class:`IllegalTransition` and changes nothing. Setting the current status
again is a no-op. Connector 0 (the whole charge point) knows only Available,
Unavailable and Faulted.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


S = Status
_ALL = frozenset(Status)

# from -> statuses it may go to
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.AVAILABLE: frozenset(
        {S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.RESERVED, S.UNAVAILABLE, S.FAULTED}
    ),
    # [ERRATA] 3.20: Preparing -> Finishing (B6, plug-in timed out without an id)
    S.PREPARING: frozenset({S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING, S.FAULTED}),
    S.CHARGING: frozenset({S.AVAILABLE, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING, S.UNAVAILABLE, S.FAULTED}),
    S.SUSPENDED_EV: frozenset({S.AVAILABLE, S.CHARGING, S.SUSPENDED_EVSE, S.FINISHING, S.UNAVAILABLE, S.FAULTED}),
    S.SUSPENDED_EVSE: frozenset({S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV, S.FINISHING, S.UNAVAILABLE, S.FAULTED}),
    S.FINISHING: frozenset({S.AVAILABLE, S.PREPARING, S.UNAVAILABLE, S.FAULTED}),
    S.RESERVED: frozenset({S.AVAILABLE, S.PREPARING, S.UNAVAILABLE, S.FAULTED}),
    S.UNAVAILABLE: frozenset({S.AVAILABLE, S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FAULTED}),
    S.FAULTED: _ALL - {S.FAULTED},  # I1-I8: back to any state when the fault clears
}

# connector 0 stands for the whole charge point
CHARGE_POINT_TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.AVAILABLE: frozenset({S.UNAVAILABLE, S.FAULTED}),
    S.UNAVAILABLE: frozenset({S.AVAILABLE, S.FAULTED}),
    S.FAULTED: frozenset({S.AVAILABLE, S.UNAVAILABLE}),
}


class IllegalTransition(Exception):
    def __init__(self, connector_id: int, old: Status, new: Status):
        super().__init__(f"connector {connector_id}: {old.value} -> {new.value} is not a legal transition")
        self.connector_id = connector_id
        self.old = old
        self.new = new


@dataclass(slots=True)
class Connector:
    id: int  # 0 = the charge point as a whole
    status: Status = S.AVAILABLE  # current OCPP status
    error_code: str = "NoError"  # ChargePointErrorCode of the current status
    info: str | None = None  # StatusNotification.info (<= 50 chars)
    vendor_error_code: str | None = None  # StatusNotification.vendorErrorCode

    @property
    def table(self) -> dict[Status, frozenset[Status]]:
        return CHARGE_POINT_TRANSITIONS if self.id == 0 else TRANSITIONS

    def can_become(self, new: Status) -> bool:
        return new == self.status or new in self.table.get(self.status, frozenset())

    def set_status(
        self, new: Status, error_code: str = "NoError", info: str | None = None, vendor_error_code: str | None = None
    ) -> bool:
        """Move to ``new``; returns True when anything (status or error details) changed."""
        if not self.can_become(new):
            raise IllegalTransition(self.id, self.status, new)
        changed = (new, error_code, info, vendor_error_code) != (
            self.status,
            self.error_code,
            self.info,
            self.vendor_error_code,
        )
        self.status, self.error_code, self.info, self.vendor_error_code = new, error_code, info, vendor_error_code
        return changed


@dataclass(slots=True)
class Transaction:
    """An open transaction, persisted in the store (namespace ``transactions``) until it is stopped."""

    local_id: str  # our own id, known before the CSMS gives transactionId
    connector_id: int
    id_tag: str  # the idTag that started it
    parent_id_tag: str | None  # its parentIdTag, when known
    meter_start: int  # Wh register at start
    started_at: float  # wall-clock epoch seconds
    transaction_id: int | None = None  # from StartTransaction.conf; -1 when none ever came ([ERRATA] 3.18)
    invalid: bool = False  # StartTransaction.conf said the idTag is not Accepted (energy suspended)
    last_meter: int | None = None  # latest register value seen (Wh), for a stop after a power cut
    last_meter_at: float | None = None  # wall clock of last_meter
    reservation_id: int | None = None  # the reservation it consumed
    # MeterValue entries for StopTransaction.transactionData, as (store queue seq, entry); persisted one by
    # one in the queue named by stop_data_queue, not in the record, so a sample costs one small write
    stop_data: list = None  # type: ignore[assignment]

    _RECORD = (
        "local_id", "connector_id", "id_tag", "parent_id_tag", "meter_start", "started_at", "transaction_id",
        "invalid", "last_meter", "last_meter_at", "reservation_id",
    )

    def __post_init__(self) -> None:
        if self.stop_data is None:
            self.stop_data = []

    @property
    def stop_data_queue(self) -> str:
        return f"stopdata:{self.local_id}"

    def record(self) -> dict:
        return dict(zip(self._RECORD, _record_values(self)))

    @classmethod
    def from_record(cls, rec: dict) -> "Transaction":
        return cls(**{k: v for k, v in rec.items() if k in cls._RECORD})


_record_values = operator.attrgetter(*Transaction._RECORD)  # a Transaction's record fields, in order


@dataclass(slots=True)
class Conditions:
    """What a connector's status is derived from ([SPEC] §4.9). Features change these, then refresh."""

    ev_plugged: bool = False  # a cable connects the EV
    ev_charging: bool = True  # the EV takes energy when offered (False: SuspendedEV)
    pending_id: str | None = None  # an authorized idTag (or remote start) waiting for the cable
    pending_parent: str | None = None  # its parentIdTag
    pending_remote: bool = False  # the pending id came from RemoteStartTransaction
    pending_since: float | None = None  # `now` when Preparing began (ConnectionTimeOut counts from here)
    tx: Transaction | None = None  # the open transaction
    finishing: bool = False  # a session ended and the cable is still in
    locked_for: str | None = None  # after a DeAuthorized stop: only this idTag (or its parent) unlocks ([ERRATA] 3.5)
    locked_parent: str | None = None  # the parentIdTag of that idTag, when known
    operative: bool = True  # ChangeAvailability state in force (connectorId 0 sets it on every connector)
    scheduled: str | None = None  # "Inoperative" to apply when the transaction, or the Preparing session, ends
    fault: tuple[str, str | None, str | None] | None = None  # (errorCode, info, vendorErrorCode)
    reserved_for: object = None  # the reservation holding the connector (Reservation profile)
    no_energy_offered: bool = False  # the charging limit is 0 W: the EVSE offers no energy (Smart Charging)


def derive_status(c: Conditions) -> tuple[Status, str, str | None, str | None]:
    """(status, errorCode, info, vendorErrorCode) of a connector from its conditions ([SPEC] §4.9).
    ChangeAvailability with connectorId 0 sets every connector's own ``operative`` (or ``scheduled``)."""
    if c.fault is not None:
        return S.FAULTED, c.fault[0], c.fault[1], c.fault[2]
    if c.tx is not None:
        if c.tx.invalid:
            return S.SUSPENDED_EVSE, "NoError", None, None  # [ERRATA] 3.55/3.64: the EVSE withholds energy
        if not c.ev_plugged:
            return S.SUSPENDED_EV, "NoError", "EV side disconnected", None  # spec §4.9, open-ocpp #190
        if c.no_energy_offered:
            return S.SUSPENDED_EVSE, "NoError", None, None  # [SPEC] §4.9: the EVSE offers no energy (limit 0)
        if not c.ev_charging:
            return S.SUSPENDED_EV, "NoError", None, None
        return S.CHARGING, "NoError", None, None
    if not c.operative:
        return S.UNAVAILABLE, "NoError", None, None
    if c.finishing:
        return S.FINISHING, "NoError", None, None
    if c.ev_plugged or c.pending_id is not None:
        return S.PREPARING, "NoError", None, None
    if c.reserved_for is not None:
        return S.RESERVED, "NoError", None, None
    return S.AVAILABLE, "NoError", None, None

"""The rules a ChargingProfile must pass before it is stored (spec digest §6.3: the first failing rule decides).

Schema problems never get here: an enum value outside its list (purpose, kind,
recurrencyKind, chargingRateUnit) is answered CALLERROR PropertyConstraintViolation
by the schema check ([ERRATA] 3.38). A connectorId the station does not have
raises the same CALLERROR ([ERRATA] 3.39). Every other rule answers ``Rejected``
([SPEC] §5.16, §7.47 ChargingProfileStatus) and the check returns its reason, for
the log. Nothing is stored before every rule has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ...core.clock import parse_iso
from ...ocpp.rpc import ErrorCode, OcppError
from .schedule import CP_MAX, TX, Profile

_UNIT_KEY = {"A": "Current", "W": "Power"}  # [ERRATA] 3.88: ChargingScheduleAllowedChargingRateUnit items


@dataclass(frozen=True, slots=True)
class Limits:
    """The station's side of the rules: its keys and what runs on the target connector."""

    connectors: frozenset[int]  # connector ids 1..N
    max_stack_level: int  # ChargeProfileMaxStackLevel
    allowed_units: tuple[str, ...]  # ChargingScheduleAllowedChargingRateUnit ("Current", "Power")
    max_periods: int  # ChargingScheduleMaxPeriods
    max_installed: int  # MaxChargingProfilesInstalled


def check_connector(connector_id: int, connectors: Iterable[int]) -> None:
    """[ERRATA] 3.39: a connectorId the station does not have ⇒ CALLERROR PropertyConstraintViolation."""
    if connector_id != 0 and connector_id not in set(connectors):
        raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"connectorId {connector_id} does not exist")


def check_profile(
    connector_id: int,
    p: Mapping[str, Any],
    limits: Limits,
    installed: Iterable[Profile],
    transaction_id: int | None | bool,
    remote_start: bool = False,
) -> str | None:
    """Why ``p`` (a ChargingProfile for ``connector_id``) is ``Rejected``, or None when it may be stored.

    ``transaction_id``: False when the connector has no transaction; else the running transaction's id
    (None while StartTransaction.conf has not given it). ``remote_start``: the profile came with
    RemoteStartTransaction (its transaction does not exist yet)."""
    check_connector(connector_id, limits.connectors)
    s = p["chargingSchedule"]
    periods = s["chargingSchedulePeriod"]
    purpose = p["chargingProfilePurpose"]
    kind = p["chargingProfileKind"]

    # -- the station's limits ([SPEC] §9.4; libocpp validate_profile) --
    if p["stackLevel"] < 0:
        return "stackLevel below 0"  # [SPEC] §7.8: stackLevel >= 0
    if p["stackLevel"] > limits.max_stack_level:
        return f"stackLevel {p['stackLevel']} above ChargeProfileMaxStackLevel {limits.max_stack_level}"
    if _UNIT_KEY[s["chargingRateUnit"]] not in limits.allowed_units:
        return f"chargingRateUnit {s['chargingRateUnit']} not in ChargingScheduleAllowedChargingRateUnit"
    if len(periods) > limits.max_periods:
        return f"{len(periods)} periods, more than ChargingScheduleMaxPeriods {limits.max_periods}"
    if not periods:
        return "no chargingSchedulePeriod"  # [SPEC] §7.13: at least one period
    installed = list(installed)
    replaced = _replaced(connector_id, p, installed)
    if len(installed) - len(replaced) + 1 > limits.max_installed:
        return f"MaxChargingProfilesInstalled ({limits.max_installed}) reached"

    # -- the schedule itself ([SPEC] §7.13-7.14; [ERRATA] 3.45/3.70, 4.13/4.17) --
    if periods[0]["startPeriod"] != 0:
        return "the first startPeriod is not 0"  # [ERRATA] 3.45/3.70, 4.13/4.17
    if any(b["startPeriod"] <= a["startPeriod"] for a, b in zip(periods, periods[1:])):
        return "startPeriods not strictly increasing (periods overlap or are out of order)"  # [SPEC] §7.14
    if any(q["limit"] < 0 for q in periods):
        return "a negative limit"  # [SPEC] §7.14: a charging rate
    if any(q.get("numberPhases") is not None and not 1 <= q["numberPhases"] <= 3 for q in periods):
        return "numberPhases outside 1..3"  # [SPEC] §7.14
    if s.get("minChargingRate") is not None and s["minChargingRate"] < 0:
        return "a negative minChargingRate"  # [SPEC] §7.13
    if s.get("duration") is not None and s["duration"] < 0:
        return "a negative duration"  # [SPEC] §7.13: seconds

    # -- kind and recurrence ([ERRATA] 3.56) --
    if kind == "Recurring" and p.get("recurrencyKind") is None:
        return "Recurring without recurrencyKind"  # [SPEC] §7.8
    if kind != "Recurring" and p.get("recurrencyKind") is not None:
        return "recurrencyKind without kind Recurring"  # [ERRATA] 3.56
    if kind == "Recurring" and s.get("startSchedule") is None:
        return "Recurring without startSchedule: no clock time to recur at"  # spec digest §6.3 rule 4: our choice

    # -- validity window ([SPEC] §7.8; [ERRATA] 3.65/3.66: allowed for every purpose) --
    if p.get("validFrom") is not None and p.get("validTo") is not None:
        if parse_iso(p["validTo"]) <= parse_iso(p["validFrom"]):
            return "validTo not after validFrom"

    # -- purpose against connector and transaction ([SPEC] §3.13.1, §5.16; [ERRATA] 3.41, 3.53) --
    if purpose == CP_MAX:
        if connector_id != 0:
            return "ChargePointMaxProfile only on connectorId 0"  # [SPEC] §3.13.1
        if kind == "Relative":
            return "a Relative ChargePointMaxProfile has no start"  # libocpp: no transaction to be relative to
    if p.get("transactionId") is not None and purpose != TX:
        return "transactionId on a profile that is not a TxProfile"  # [SPEC] §7.8: only with TxProfile
    if remote_start:
        if purpose != TX:
            return "RemoteStartTransaction with a profile that is not a TxProfile"  # [SPEC] §5.11, TC_060
        if p.get("transactionId") is not None:
            return "RemoteStartTransaction profile with a transactionId"  # [ERRATA] 3.41
    elif purpose == TX:
        if connector_id == 0:
            return "TxProfile on connectorId 0"  # [SPEC] §3.13.1, [ERRATA] 3.53
        if transaction_id is False:
            return "TxProfile without a transaction on the connector"  # [SPEC] §5.16.4, TC_058_1
        if p.get("transactionId") is not None and p["transactionId"] != transaction_id:
            return f"transactionId {p['transactionId']} is not the connector's transaction"  # TC_058_2
    return None


def _replaced(connector_id: int, p: Mapping[str, Any], installed: list[Profile]) -> list[Profile]:
    return replaced_by(connector_id, p["chargingProfileId"], p["chargingProfilePurpose"], p["stackLevel"], installed)


def replaced_by(connector_id: int, profile_id: int, purpose: str, stack_level: int, installed: Iterable[Profile]) -> list[Profile]:
    """The installed profiles a new one replaces ([SPEC] §3.13.2, §5.16.3): the same chargingProfileId, or the
    same stackLevel and purpose on the same connector (spec digest §10.11: per connector; [ERRATA] 3.42)."""
    return [
        q for q in installed
        if q.profile_id == profile_id
        or (q.connector_id == connector_id and q.purpose == purpose and q.stack_level == stack_level)
    ]

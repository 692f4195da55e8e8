"""Smart Charging: SetChargingProfile, ClearChargingProfile, GetCompositeSchedule ([SPEC] §3.13, §5.5, §5.7,
§5.16; [ERRATA] 3.7-3.8, 3.24-3.30, 3.37-3.45, 3.51-3.57, 3.65-3.71, 3.79).

Theory of operation
-------------------
The profiles the CSMS installed are kept in memory as :class:`~.schedule.Profile`
and in the store (namespace ``charging_profiles``: chargingProfileId -> the
profile as received, its connector, when it came and the transaction it belongs
to), written before the answer goes out; they survive a restart or power cut
([ERRATA] 3.37). A new profile replaces the one with the same chargingProfileId
and the one with the same purpose and stackLevel on the same connector, in the
store too ([SPEC] §3.13.2). Bad input is refused by :mod:`.validation` before
anything changes.

A TxProfile belongs to the transaction running on its connector (or, sent with
RemoteStartTransaction, to the one that start begins, [ERRATA] 3.41) and is
deleted when that transaction ends ([SPEC] §3.13.1). A profile whose validTo
has passed, or an Absolute one whose schedule is over, is purged.

The limit is physical: after every change (a profile set or cleared, a
transaction started or ended) and at every instant where a schedule changes
value, the station works out each connector's limit (:meth:`limit_w`) and gives
it to the hardware (``Hardware.set_limit``). The next such instant is a timer
(no polling), so the power follows within the runtime's timer precision. A
ChargePointMaxProfile caps the sum of the connectors: its power is shared
equally among the connectors with a transaction, what one may not use going
to the others. A limit of 0 W suspends the transaction (SuspendedEVSE).

A TxDefaultProfile set during a transaction applies to it at once, unless a
TxProfile of that transaction is in force ([ERRATA] 3.8, TC_082).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ...core.clock import iso
from ...core.configuration import KeySpec
from ...core.settings import StationSettings
from ..base import Feature
from . import validation
from .schedule import TX, WEEK, Hardware, Profile, ProfileSet, allocate, periods_json

log = logging.getLogger(__name__)

NS = "charging_profiles"  # chargingProfileId -> {"connectorId", "profile", "received", "tx"}
PROFILE = "SmartCharging"
MAX_COMPOSITE_DURATION = 31 * 86_400  # s: the longest GetCompositeSchedule answered (a month ahead)
HORIZON = WEEK + 1  # s looked ahead for the next limit change (every recurrence changes within a week)
TIMER = "smart-charging"


def _rate_unit_item(item: str) -> bool:
    return item in ("Current", "Power")  # [ERRATA] 3.88: Current = A, Power = W


class SmartCharging(Feature):
    profile = PROFILE

    def __init__(self, station) -> None:
        super().__init__(station)
        s = station.settings
        self.hw = Hardware(voltage=s.voltage, max_current=s.max_current)  # for A <-> W and the hardware maximum
        self.records: dict[int, dict[str, Any]] = {}  # chargingProfileId -> stored record
        self.profiles: dict[int, Profile] = {}  # chargingProfileId -> parsed profile
        self.pending_remote: dict[int, dict[str, Any]] = {}  # connector -> profile of an accepted RemoteStart
        self._set: ProfileSet | None = None  # the grouped profiles (rebuilt after a change)
        self._applied: dict[int, float | None] = {}  # connector -> the limit last given to the hardware
        # the limits of the last _apply, valid for [from, until) in `now` while the transactions are the same
        # (tx objects); limit_w reads them instead of evaluating the schedules (the HMI, the fleet's samples)
        self._cache: tuple[float, float, tuple, dict[int, float | None]] | None = None
        station.clock.on_change.append(self._apply)  # the wall clock moved: limits and the timer follow

    @staticmethod
    def keys(settings: StationSettings) -> list[KeySpec]:
        # [SPEC] §9.4; defaults of the certified station's table ([ERRATA] 3.88, 4.28)
        return [
            KeySpec("ChargeProfileMaxStackLevel", "int", "10", readonly=True, minimum=0, profile=PROFILE),
            KeySpec(
                "ChargingScheduleAllowedChargingRateUnit", "csl", "Current,Power", readonly=True,
                item_check=_rate_unit_item, profile=PROFILE,
            ),
            KeySpec("ChargingScheduleMaxPeriods", "int", "48", readonly=True, minimum=1, profile=PROFILE),
            KeySpec("MaxChargingProfilesInstalled", "int", "20", readonly=True, minimum=1, profile=PROFILE),
            KeySpec("ConnectorSwitch3to1PhaseSupported", "bool", "false", readonly=True, profile=PROFILE),
        ]

    def handlers(self):
        return {
            "SetChargingProfile": self.set_charging_profile,
            "ClearChargingProfile": self.clear_charging_profile,
            "GetCompositeSchedule": self.get_composite_schedule,
        }

    @property
    def tx(self):
        return self.station.feature["Transactions"]

    # -- lifecycle --------------------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        # runs after Transactions.on_start: a transaction open at boot has been stopped (power loss), so every
        # TxProfile found is of a transaction that has ended ([SPEC] §3.13.1)
        open_tx = {c.tx.local_id for c in self.tx.cond.values() if c.tx is not None}
        store = self.station.store
        with store.batch():
            for key, rec in store.items(NS).items():
                if rec["profile"]["chargingProfilePurpose"] == TX and rec.get("tx") not in open_tx:
                    store.delete(NS, key)
                    continue
                self._load(rec)
        self._changed()
        self._purge(now)
        self._apply(now)

    def _load(self, rec: dict[str, Any]) -> Profile:
        p = Profile.from_ocpp(rec["connectorId"], rec["profile"], rec["received"])
        self.records[p.profile_id] = rec
        self.profiles[p.profile_id] = p
        return p

    def _changed(self) -> None:
        self._set = None
        self._cache = None

    @property
    def profile_set(self) -> ProfileSet:
        if self._set is None:
            self._set = ProfileSet(self.profiles.values(), list(self.tx.cond), self.hw)
        return self._set

    def _tx_starts(self) -> dict[int, float | None]:
        return {cid: (c.tx.started_at if c.tx is not None else None) for cid, c in self.tx.cond.items()}

    # -- CSMS actions -----------------------------------------------------------------------------

    def _limits(self) -> validation.Limits:
        cfg = self.station.config
        return validation.Limits(
            connectors=frozenset(self.tx.cond),
            max_stack_level=cfg["ChargeProfileMaxStackLevel"],
            allowed_units=tuple(cfg["ChargingScheduleAllowedChargingRateUnit"]),
            max_periods=cfg["ChargingScheduleMaxPeriods"],
            max_installed=cfg["MaxChargingProfilesInstalled"],
        )

    def set_charging_profile(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        cid = payload["connectorId"]
        p = payload["csChargingProfiles"]
        c = self.tx.cond.get(cid)
        running = c.tx.transaction_id if c is not None and c.tx is not None else False
        # raises CALLERROR PropertyConstraintViolation for a connector the station does not have ([ERRATA] 3.39)
        reason = validation.check_profile(cid, p, self._limits(), self.profiles.values(), running)
        if reason is not None:
            log.info("SetChargingProfile %s on connector %s rejected: %s", p["chargingProfileId"], cid, reason)
            return {"status": "Rejected"}
        tx_local = c.tx.local_id if p["chargingProfilePurpose"] == TX and c is not None and c.tx is not None else None
        self._install(cid, p, tx_local, now)
        return {"status": "Accepted"}

    def _install(self, cid: int, p: dict[str, Any], tx_local: str | None, now: float) -> None:
        """Store ``p`` (replacing what it replaces, in the store first), then apply the new limits."""
        rec = {"connectorId": cid, "profile": p, "received": self.station.clock.wall(now), "tx": tx_local}
        profile = Profile.from_ocpp(cid, p, rec["received"])
        gone = validation.replaced_by(
            cid, profile.profile_id, profile.purpose, profile.stack_level, self.profiles.values()
        )
        store = self.station.store
        with store.batch():  # persisted before the answer ([ERRATA] 3.37)
            for q in gone:
                store.delete(NS, str(q.profile_id))
            store.put(NS, str(profile.profile_id), rec)
        for q in gone:
            self.records.pop(q.profile_id, None)
            self.profiles.pop(q.profile_id, None)
        self.records[profile.profile_id] = rec
        self.profiles[profile.profile_id] = profile
        self._changed()
        log.info(
            "charging profile %s installed on connector %s: %s stack %s%s",
            profile.profile_id, cid, profile.purpose, profile.stack_level,
            f" (replaces {', '.join(str(q.profile_id) for q in gone)})" if gone else "",
        )
        self._apply(now)

    def clear_charging_profile(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # [ERRATA] 3.25/3.26: no field ⇒ all; id ⇒ only that one, the other fields ignored; else the AND of
        # the fields given. 0 is a real filter value (compare with None, never by truth).
        pid = payload.get("id")
        if pid is not None:
            gone = [pid] if pid in self.profiles else []
        else:
            cid = payload.get("connectorId")
            purpose = payload.get("chargingProfilePurpose")
            stack = payload.get("stackLevel")
            gone = [
                q.profile_id for q in self.profiles.values()
                if (cid is None or q.connector_id == cid)
                and (purpose is None or q.purpose == purpose)
                and (stack is None or q.stack_level == stack)
            ]
        if not gone:
            return {"status": "Unknown"}  # [SPEC] §7.21: nothing matched
        self._remove(gone, now)
        log.info("charging profiles cleared: %s", ", ".join(map(str, gone)))
        return {"status": "Accepted"}

    def _remove(self, ids: list[int], now: float) -> None:
        store = self.station.store
        with store.batch():
            for pid in ids:
                store.delete(NS, str(pid))
        for pid in ids:
            self.records.pop(pid, None)
            self.profiles.pop(pid, None)
        self._changed()
        self._apply(now)

    def get_composite_schedule(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        cid = payload["connectorId"]
        duration = payload["duration"]
        if cid != 0 and cid not in self.tx.cond:
            return {"status": "Rejected"}  # [SPEC] §5.7: a connector the station does not have
        if not 0 <= duration <= MAX_COMPOSITE_DURATION:
            return {"status": "Rejected"}  # a negative duration, or beyond what the station plans for
        unit = payload.get("chargingRateUnit") or self._native_unit()  # A or W: the schema checked the enum
        received = self.station.clock.wall(now)
        t0 = float(math.floor(received))  # [ERRATA] 3.28/3.29: the window starts at receipt, in whole seconds
        self._purge(now)
        periods = self.profile_set.composite(cid, t0, duration, unit, self._tx_starts(), at=received)
        # [ERRATA] 3.57: no startSchedule inside the composite; scheduleStart says when it starts
        return {
            "status": "Accepted",
            "connectorId": cid,
            "scheduleStart": iso(t0),
            "chargingSchedule": {
                "duration": duration,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": periods_json(periods),
            },
        }

    def _native_unit(self) -> str:
        return "A" if "Current" in self.station.config["ChargingScheduleAllowedChargingRateUnit"] else "W"

    # -- RemoteStartTransaction and the transaction hooks ------------------------------------------

    def accept_remote_start_profile(self, cid: int, p: dict[str, Any] | None, now: float) -> bool:
        """RemoteStartTransaction on ``cid`` carries ``p`` (or none): may the start be Accepted?
        [SPEC] §5.11, §5.16.2; [ERRATA] 3.41: only a TxProfile without transactionId (TC_059, TC_060)."""
        self.pending_remote.pop(cid, None)
        if p is None:
            return True
        reason = validation.check_profile(cid, p, self._limits(), self.profiles.values(), None, remote_start=True)
        if reason is not None:
            log.info("RemoteStartTransaction on connector %s rejected: %s", cid, reason)
            return False
        self.pending_remote[cid] = p
        return True

    def transaction_started(self, cid: int, tx, remote: bool, now: float) -> None:
        """Transactions started ``tx`` on ``cid`` (called before the relay closes)."""
        p = self.pending_remote.pop(cid, None)
        if p is not None and remote:
            # [ERRATA] 3.41/3.42/3.67: the remote start's TxProfile governs this transaction
            self._install(cid, p, tx.local_id, now)
        else:
            self._apply(now)

    def transaction_ended(self, cid: int, tx, now: float) -> None:
        """[SPEC] §3.13.1, §7.10: a TxProfile ceases with its transaction (libocpp PR #821)."""
        gone = [q.profile_id for q in self.profiles.values() if q.purpose == TX and q.connector_id == cid]
        if gone:
            log.info("transaction on connector %s ended: TxProfile %s deleted", cid, ", ".join(map(str, gone)))
            self._remove(gone, now)
        else:
            self._apply(now)

    # -- the physical limit ----------------------------------------------------------------------------

    def limit_w(self, connector_id: int, now: float) -> float | None:
        """The power (W, total over the phases) connector ``connector_id`` may deliver at ``now``, None when no
        charging profile limits it. Connector 0: the ChargePointMaxProfile limit in force."""
        if not self.profiles:
            return None  # no charging profile installed: nothing limits any connector
        c = self._cache
        if c is not None and c[0] <= now < c[1] and c[2] == self._txs():
            return c[3].get(connector_id)
        return self._limits_at(now).get(connector_id)

    def _txs(self) -> tuple:
        return tuple(c.tx for c in self.tx.cond.values())

    def _limits_at(self, now: float) -> dict[int, float | None]:
        if not self.profiles:  # nothing limits any connector (each clock sync from a Heartbeat.conf comes here)
            return dict.fromkeys((0, *self.tx.cond), None)
        t = self.station.clock.wall(now)
        ps = self.profile_set
        starts = self._tx_starts()
        cp = ps.cp_max_at(t, t)
        out: dict[int, float | None] = {0: cp.watts if cp is not None else None}
        own: dict[int, float | None] = {}
        for c in self.tx.cond:
            lim = ps.connector_limit(c, t, starts[c], t, cap=False)
            own[c] = lim.watts if lim is not None else None
        out.update(own)
        if cp is not None:
            # the ChargePointMaxProfile caps the sum ([SPEC] §3.13.3): shared among the charging connectors
            active = [c for c, s in starts.items() if s is not None]
            wants = {c: min(own[c] if own[c] is not None else math.inf, self.hw.max_watts) for c in active}
            out.update(allocate(cp.watts, wants))
        return out

    def _apply(self, now: float) -> None:
        """Give every connector its limit now; arm the timer for the next change."""
        st = self.station
        limits = self._limits_at(now)
        self._cache = None
        set_limit = getattr(st.hardware, "set_limit", None)
        for cid, c in self.tx.cond.items():
            w = limits.get(cid)
            if cid not in self._applied or self._applied[cid] != w:
                self._applied[cid] = w
                if set_limit is not None:
                    set_limit(cid, w, now)
                log.debug("connector %s: limit %s W", cid, w)
            paused = c.tx is not None and w is not None and w <= 0
            if c.no_energy_offered != paused:
                c.no_energy_offered = paused  # a 0 W limit: SuspendedEVSE ([SPEC] §4.9)
                if c.tx is not None:
                    self.tx.refresh(cid, now)  # a transaction that just ended: its stop refreshes
        until = self._arm(now)
        self._cache = (now, until, self._txs(), limits)

    def _arm(self, now: float) -> float:
        """Set the timer at the next instant a limit may change; returns it (in `now`; inf: none)."""
        st = self.station
        if not self.profiles:
            st.timers.cancel(TIMER)
            return math.inf
        t = st.clock.wall(now)
        # a Relative profile without a transaction changes nothing physical: -inf keeps it out of the plan
        starts = self._tx_starts()
        at = t + HORIZON
        for ahead in (3600, 86_400, HORIZON):  # look a little ahead first: most schedules change within the hour
            nxt = self.profile_set.breakpoints(t, t + ahead, starts, -math.inf)
            if nxt:
                at = nxt[0]
                break
        due = st.clock.to_now(at)
        st.timers.set(TIMER, due, self._boundary)
        return due

    def _boundary(self, now: float) -> None:
        self._purge(now)
        self._apply(now)

    def _purge(self, now: float) -> None:
        """Drop profiles that will never apply again: past validTo, or an Absolute schedule that is over
        (libocpp PR #1054: expired profiles are purged)."""
        t = self.station.clock.wall(now)
        gone = [
            q.profile_id for q in self.profiles.values()
            if (q.valid_to is not None and q.valid_to <= t)
            or (q.kind == "Absolute" and q.duration is not None and q.start_schedule is not None
                and q.start_schedule + q.duration <= t)
        ]
        if gone:
            log.info("expired charging profiles purged: %s", ", ".join(map(str, gone)))
            store = self.station.store
            with store.batch():
                for pid in gone:
                    store.delete(NS, str(pid))
            for pid in gone:
                self.records.pop(pid, None)
                self.profiles.pop(pid, None)
            self._changed()

    # -- views ------------------------------------------------------------------------------------------

    def describe_connector(self, connector_id: int, entry: dict[str, Any], now: float) -> None:
        w = self.limit_w(connector_id, now)
        entry["limitW"] = None if w is None else round(w, 1)

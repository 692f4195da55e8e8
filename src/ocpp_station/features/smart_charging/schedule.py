"""Charging-profile arithmetic: pure functions of the installed profiles and a wall-clock instant.

Theory of operation
-------------------
Every time here is UTC wall-clock seconds since the epoch (OCPP date-times carry
their offset, [ERRATA] 3.10): there is no local time, hence no daylight-saving
jump. Nothing reads a clock; the caller passes ``t`` (or a window ``t0``).

One profile at instant ``t`` ([SPEC] §3.13, §5.16.4, §7.9, §7.13; [ERRATA] 3.7, 3.43, 3.44, 3.79):

- it is *valid* when ``validFrom <= t < validTo`` (an absent bound is open);
- its schedule starts at ``S``: Absolute ⇒ ``startSchedule``; Relative ⇒ the
  start of the connector's transaction (without one, the ``anchor`` the caller
  gives: the composite's start); Recurring ⇒ the latest ``startSchedule + k·P <= t``
  (``k >= 0``, P = 86400 s Daily or 604800 s Weekly): the same clock time (and
  weekday) as ``startSchedule``, not midnight;
- it is *active* when ``S <= t < S + duration`` (no duration: for ever; a
  Recurring one never beyond P, [ERRATA] 3.44);
- its limit is that of the period with the greatest ``startPeriod <= t - S``.

Purposes combine per connector ``c`` ([SPEC] §3.13.3; [ERRATA] 3.8, 3.30, 3.53):

- ``tx(t)``: while ``c`` has a transaction, its active TxProfile of the highest
  stackLevel; else (or when its TxProfiles have run out) the active
  TxDefaultProfile of the highest stackLevel among ``c``'s own and those of
  connector 0, a connector-``c`` profile hiding the connector-0 one of the same
  stackLevel (the connector-0 TxDefaultProfile is a default for each connector);
- ``limit_c(t) = min(ChargePointMax(t), tx(t))`` over what is defined, and never
  above the connector's hardware maximum;
- connector 0 (the grid connection) = ``min(ChargePointMax(t), Σ_c limit_c(t))``.

Units ([ERRATA] 3.69, 3.71, 3.88): ``A`` is the current per phase, ``W`` the total
power; ``P = I · U · n`` with ``U`` the station's nominal voltage and ``n`` the
period's ``numberPhases`` (3 when absent). Limits are compared in watts and
converted to the asked unit at the end, rounded down to 0.1 (the schema's
``multipleOf``), so a converted limit never exceeds the one given.

``minChargingRate`` ([SPEC] §7.13) is the lowest rate the EV can use: when the
connector's limit falls below the minChargingRate of its TxProfile or
TxDefaultProfile in force, the limit is 0 (the EVSE pauses rather than offer a
rate the EV cannot charge at).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ...core.clock import parse_iso

DAY = 86_400
WEEK = 7 * DAY
DEFAULT_PHASES = 3  # [ERRATA] 3.69: numberPhases absent = 3

CP_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
PURPOSES = (CP_MAX, TX_DEFAULT, TX)
KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCY = {"Daily": DAY, "Weekly": WEEK}
UNITS = ("A", "W")


@dataclass(frozen=True, slots=True)
class Period:
    start: int  # startPeriod: seconds from the schedule's start
    limit: float  # in the schedule's unit
    phases: int | None = None  # numberPhases (None: 3)


@dataclass(frozen=True, slots=True)
class Profile:
    """A ChargingProfile as installed on ``connector_id`` ([SPEC] §7.8, §7.13)."""

    profile_id: int  # chargingProfileId
    connector_id: int  # the connector it was set on (0: the charge point)
    stack_level: int
    purpose: str  # ChargePointMaxProfile | TxDefaultProfile | TxProfile
    kind: str  # Absolute | Recurring | Relative
    unit: str  # "A" | "W"
    periods: tuple[Period, ...]  # startPeriod strictly increasing, the first 0
    recurrency: str | None = None  # Daily | Weekly (Recurring only)
    valid_from: float | None = None  # epoch seconds
    valid_to: float | None = None
    start_schedule: float | None = None  # epoch seconds; an Absolute one without it starts when received
    duration: int | None = None  # seconds; None: the last period lasts for ever
    min_rate: float | None = None  # minChargingRate, in ``unit``
    transaction_id: int | None = None
    _starts: tuple[int, ...] = field(default=(), compare=False, repr=False)  # startPeriods, for bisect

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(p.start for p in self.periods))

    @classmethod
    def from_ocpp(cls, connector_id: int, p: Mapping[str, Any], received: float) -> "Profile":
        """From a ChargingProfile payload (already schema-checked); ``received``: wall time it arrived."""
        s = p["chargingSchedule"]
        start = parse_iso(s["startSchedule"]) if s.get("startSchedule") is not None else None
        if start is None and p["chargingProfileKind"] == "Absolute":
            start = float(int(received))  # no anchor given: the schedule starts when it was received
        return cls(
            profile_id=p["chargingProfileId"],
            connector_id=connector_id,
            stack_level=p["stackLevel"],
            purpose=p["chargingProfilePurpose"],
            kind=p["chargingProfileKind"],
            unit=s["chargingRateUnit"],
            periods=tuple(
                Period(q["startPeriod"], float(q["limit"]), q.get("numberPhases")) for q in s["chargingSchedulePeriod"]
            ),
            recurrency=p.get("recurrencyKind"),
            valid_from=parse_iso(p["validFrom"]) if p.get("validFrom") is not None else None,
            valid_to=parse_iso(p["validTo"]) if p.get("validTo") is not None else None,
            start_schedule=start,
            duration=s.get("duration"),
            min_rate=float(s["minChargingRate"]) if s.get("minChargingRate") is not None else None,
            transaction_id=p.get("transactionId"),
        )

    # -- one profile ---------------------------------------------------------------------------

    def valid(self, t: float) -> bool:
        return (self.valid_from is None or self.valid_from <= t) and (self.valid_to is None or t < self.valid_to)

    def start_at(self, t: float, anchor: float) -> float | None:
        """The schedule start S in force at ``t`` (None before the first one); ``anchor``: a Relative one's start."""
        if self.kind == "Relative":
            return anchor
        ss = self.start_schedule
        if ss is None:
            return None
        if self.kind == "Recurring":
            if t < ss:
                return None
            cycle = RECURRENCY[self.recurrency or "Daily"]
            return ss + math.floor((t - ss) / cycle) * cycle
        return ss

    def active_length(self) -> float:
        """How long each run of the schedule lasts (inf: for ever)."""
        length = math.inf if self.duration is None else self.duration
        if self.kind == "Recurring":
            length = min(length, RECURRENCY[self.recurrency or "Daily"])  # [ERRATA] 3.44
        return length

    def period_at(self, t: float, anchor: float) -> Period | None:
        """The period in force at ``t``, or None when the profile is not valid or not active then."""
        if not self.valid(t):
            return None
        s = self.start_at(t, anchor)
        if s is None:
            return None
        offset = t - s
        if offset < 0 or offset >= self.active_length():
            return None
        return self.periods[bisect_right(self._starts, offset) - 1]

    def breakpoints(self, t0: float, t1: float, anchor: float) -> list[float]:
        """Every instant in (t0, t1) at which this profile's value may change."""
        out: list[float] = []
        for b in (self.valid_from, self.valid_to):
            if b is not None:
                out.append(b)
        length = self.active_length()
        if self.kind == "Recurring":
            ss = self.start_schedule
            if ss is None:
                return []
            cycle = RECURRENCY[self.recurrency or "Daily"]
            first = max(0, math.floor((t0 - ss) / cycle))
            last = math.floor((t1 - ss) / cycle)
            runs = [ss + k * cycle for k in range(first, last + 1)]
        else:
            s = self.start_at(t0, anchor)
            runs = [] if s is None else [s]
        for s in runs:
            if s >= t1 or s + length <= t0:
                continue
            out.extend(s + st for st in self._starts if st < length)
            if length != math.inf:
                out.append(s + length)
        return [b for b in out if t0 < b < t1]


# -- combining purposes --------------------------------------------------------------------------------


def to_watts(limit: float, unit: str, phases: int | None, voltage: float) -> float:
    """[ERRATA] 3.69: W is the total power, A the current per phase."""
    return limit if unit == "W" else limit * voltage * (phases or DEFAULT_PHASES)


def from_watts(watts: float, unit: str, phases: int | None, voltage: float) -> float:
    """Watts in ``unit``, rounded down to 0.1 (never above the limit; the schema's multipleOf 0.1)."""
    value = watts if unit == "W" else watts / (voltage * (phases or DEFAULT_PHASES))
    return math.floor(value * 10 + 1e-6) / 10


@dataclass(frozen=True, slots=True)
class Limit:
    watts: float  # total power
    phases: int | None  # numberPhases of the period that set it (None: 3)


@dataclass(slots=True)
class Hardware:
    voltage: float = 230.0  # V, nominal per phase ([hardware] voltage)
    max_current: float = 32.0  # A per phase each connector can deliver ([hardware] max_current)

    @property
    def max_watts(self) -> float:
        return self.max_current * self.voltage * DEFAULT_PHASES


class ProfileSet:
    """The installed profiles, grouped for evaluation: per purpose, highest stackLevel first."""

    def __init__(self, profiles: Iterable[Profile], connectors: Sequence[int], hw: Hardware | None = None) -> None:
        self.hw = hw or Hardware()  # voltage and per-connector maximum
        self.connectors = list(connectors)  # the connector ids (1..N)
        self.profiles = list(profiles)  # every installed profile
        by_stack = lambda ps: sorted(ps, key=lambda p: -p.stack_level)  # noqa: E731
        self.cp_max = by_stack(p for p in self.profiles if p.purpose == CP_MAX)  # connector 0 only
        self.tx: dict[int, list[Profile]] = {}  # connector -> its TxProfiles
        self.tx_default: dict[int, list[Profile]] = {}  # connector -> effective TxDefaultProfiles
        general = {p.stack_level: p for p in self.profiles if p.purpose == TX_DEFAULT and p.connector_id == 0}
        for c in self.connectors:
            self.tx[c] = by_stack(p for p in self.profiles if p.purpose == TX and p.connector_id == c)
            own = {p.stack_level: p for p in self.profiles if p.purpose == TX_DEFAULT and p.connector_id == c}
            self.tx_default[c] = by_stack({**general, **own}.values())  # [SPEC] §3.13.1: own replaces for c

    @staticmethod
    def _winner(ps: list[Profile], t: float, anchor: float) -> tuple[Profile, Period] | None:
        for p in ps:  # highest stackLevel first ([SPEC] §3.13.2)
            q = p.period_at(t, anchor)
            if q is not None:
                return p, q
        return None

    def _watts(self, pq: tuple[Profile, Period]) -> Limit:
        p, q = pq
        return Limit(to_watts(q.limit, p.unit, q.phases, self.hw.voltage), q.phases)

    def cp_max_at(self, t: float, anchor: float) -> Limit | None:
        w = self._winner(self.cp_max, t, anchor)
        return None if w is None else self._watts(w)

    def tx_level_at(self, c: int, t: float, tx_start: float | None, anchor: float) -> tuple[Limit, float] | None:
        """The TxProfile (with a transaction) or TxDefaultProfile limit on ``c`` and its minChargingRate in W."""
        a = tx_start if tx_start is not None else anchor
        w = self._winner(self.tx[c], t, a) if tx_start is not None else None
        if w is None:
            w = self._winner(self.tx_default[c], t, a)  # [ERRATA] 3.8: also during a transaction
        if w is None:
            return None
        lim = self._watts(w)
        p, q = w
        floor = to_watts(p.min_rate, p.unit, q.phases, self.hw.voltage) if p.min_rate is not None else 0.0
        return lim, floor

    def connector_limit(
        self, c: int, t: float, tx_start: float | None, anchor: float, cap: bool = True
    ) -> Limit | None:
        """``limit_c(t)``: min of ChargePointMax and the Tx/TxDefault limit, capped by the hardware (``cap``);
        None when no profile applies and ``cap`` is False."""
        best: Limit | None = Limit(self.hw.max_watts, None) if cap else None
        floor = 0.0
        for lim in (self.cp_max_at(t, anchor), self.tx_level_at(c, t, tx_start, anchor)):
            if isinstance(lim, tuple):
                lim, floor = lim
            if lim is not None and (best is None or lim.watts < best.watts):
                best = lim
        if best is not None and best.watts < floor:
            best = Limit(0.0, best.phases)  # below the EV's minChargingRate: pause ([SPEC] §7.13)
        return best

    def station_limit(self, t: float, tx_starts: Mapping[int, float | None], anchor: float) -> Limit:
        """Connector 0: ``min(ChargePointMax, Σ_c limit_c)`` ([ERRATA] 3.30)."""
        total = 0.0
        for c in self.connectors:
            lim = self.connector_limit(c, t, tx_starts.get(c), anchor)
            total += lim.watts if lim is not None else 0.0
        cp = self.cp_max_at(t, anchor)
        if cp is not None and cp.watts < total:
            return cp
        return Limit(total, None)

    def limit(self, connector_id: int, t: float, tx_starts: Mapping[int, float | None], anchor: float) -> Limit:
        if connector_id == 0:
            return self.station_limit(t, tx_starts, anchor)
        lim = self.connector_limit(connector_id, t, tx_starts.get(connector_id), anchor)
        assert lim is not None
        return lim

    def breakpoints(self, t0: float, t1: float, tx_starts: Mapping[int, float | None], anchor: float) -> list[float]:
        """Every instant in (t0, t1) where some profile's value may change, sorted."""
        out: set[float] = set()
        for p in self.profiles:
            if p.kind != "Relative":
                out.update(p.breakpoints(t0, t1, anchor))
                continue
            # a Relative schedule runs from each connector's transaction start (the anchor without one)
            on = self.connectors if p.connector_id == 0 else [p.connector_id]
            for s in {tx_starts.get(c) for c in on} if p.purpose != CP_MAX else {None}:
                out.update(p.breakpoints(t0, t1, s if s is not None else anchor))
        return sorted(out)

    def composite(
        self,
        connector_id: int,
        t0: float,
        duration: int,
        unit: str,
        tx_starts: Mapping[int, float | None],
    ) -> list[Period]:
        """GetCompositeSchedule ([SPEC] §5.7; [ERRATA] 3.28-3.30): the limits over ``[t0, t0 + duration)`` as
        periods (startPeriod from ``t0``), neighbours with the same (limit, numberPhases) merged; the first at 0.
        ``duration`` 0 still gives the limit in force at ``t0``. A Relative profile without a transaction
        starts at ``t0``."""
        out: list[Period] = []
        for b in [t0, *self.breakpoints(t0, t0 + duration, tx_starts, t0)]:
            lim = self.limit(connector_id, b, tx_starts, t0)
            q = Period(int(round(b - t0)), from_watts(lim.watts, unit, lim.phases, self.hw.voltage), lim.phases)
            if out and (out[-1].limit, out[-1].phases) == (q.limit, q.phases):
                continue
            if out and out[-1].start == q.start:
                out[-1] = q
                continue
            out.append(q)
        return out


def allocate(cap: float | None, wants: Mapping[int, float]) -> dict[int, float]:
    """Share ``cap`` watts among connectors that may each take up to ``wants[c]``: equal shares, what one
    does not use going to the others (water filling); no cap: each gets what it may take."""
    if cap is None:
        return dict(wants)
    out: dict[int, float] = {}
    left = cap
    todo = sorted(wants, key=lambda c: wants[c])
    while todo:
        share = left / len(todo)
        c = todo[0]
        if wants[c] <= share:
            out[c] = wants[c]
            left -= wants[c]
            todo.pop(0)
        else:
            for c in todo:
                out[c] = share
            break
    return out


def periods_json(periods: Sequence[Period]) -> list[dict[str, Any]]:
    """chargingSchedulePeriod entries ([SPEC] §7.14); numberPhases only where a profile gave it."""
    out = []
    for q in periods:
        e: dict[str, Any] = {"startPeriod": q.start, "limit": q.limit}
        if q.phases is not None:
            e["numberPhases"] = q.phases
        out.append(e)
    return out

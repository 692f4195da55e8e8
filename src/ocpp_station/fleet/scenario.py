"""Fleet scenarios (TOML) and the seeded driver that plans what the simulated drivers do.

Scenario file
-------------
Every table and key is optional; the defaults are shown (docs/fleet.md is the reference; see also
``examples/fleet-basic.toml`` and ``examples/fleet-faults.toml``). A mistake raises
:class:`ScenarioError`: one line naming the file, the dotted key path and what was expected, with the
closest valid key for a misspelt one (``config.did_you_mean``)::

    [fleet]
    identity_pattern = "SIM{n:05d}"   # str.format pattern; n = 1..count. Must give every station its own
                                      # identity (so it contains {n...}); printable, no '/', <= 48 chars;
                                      # percent-encoded into the URL (a space becomes %20)
    ramp_rate = 100.0                 # stations started per second
    event_loop = "asyncio"            # or "uvloop" (pip install 'ocpp-station[fast]'): the workers' event loop
    timer_grain = 0.025               # s: real time only, the stations' timers (heartbeats, meter values,
                                      # retries, driver actions) fire on multiples of this, so that one
                                      # wake-up of the event loop serves every station due in it; 0 = exact
    security_profile = 0              # 0..3 ([SEC] A00): 1 = Basic auth with each station's own seeded
                                      # AuthorizationKey, 2 = wss:// + Basic auth, 3 = wss:// with client
                                      # certificates signed by the fleet CA (see fleet/security.py)
    virtual_grain = 0.0               # s: --virtual-time only, the clock jumps to multiples of this, so every
                                      # timer due within it fires in one jump (up to this late) and the
                                      # stations' CALLs of that moment go out together; 0 = to each deadline

    [station]                         # the station template (same meaning as in `run`'s config)
    vendor = "ocpp-station"           # BootNotification.chargePointVendor (<= 20 chars)
    model = "fleet-sim"               # BootNotification.chargePointModel (<= 20 chars)
    firmware_version = "ocpp-station 0.1.0"
    serial_number = "..."             # chargePointSerialNumber (<= 25 chars), none by default
    connectors = 1
    fixed_cable = true
    connector_lock = false
    boot_retry_interval = 30          # s before another BootNotification after a failed one
    profiles = [...]                  # the OCPP feature profiles, as in `run` (default: every implemented one);
                                      # e.g. a [[template]] with ["Core"] for stations without Smart Charging
    meter_save_interval = 5           # s between saves of a running transaction's register (what a power cut
                                      # loses); in virtual time each save is a wake-up: a day-long run of
                                      # many stations goes much faster with a longer interval (e.g. 900)

    [ocpp]                            # initial OCPP configuration keys of every station
    MeterValueSampleInterval = 60     # values may be TOML ints/bools/strings

    [[template]]                      # several station models: zero or more tables, each a template;
    name = "ac-22"                    # without any, [station] + [ocpp] is the one template
    weight = 3.0                      # relative share of the stations (> 0, default 1)
    vendor = "ACME"                   # any key of [station]; unset keys come from [station]
    connectors = 2
    ocpp = { MeterValueSampleInterval = 30 }   # merged over [ocpp]
    #   each station picks its template once, from "<seed>/<identity>/template": the same seed
    #   gives every station the same template

    [driver]                          # what the simulated EV drivers do, per station
    sessions_per_hour = 20.0          # mean session arrival rate per station (Poisson, split over its connectors)
    arrival = { distribution = "exponential" }   # the gap (s) between one session's unplug and the next
    #   plug-in on the same connector. The default exponential has mean connectors * 3600 /
    #   sessions_per_hour; any other distribution (or an exponential with its own mean) gives the gap
    #   from its own parameters, and sessions_per_hour must then be left out
    session_duration = { distribution = "uniform", min = 60, max = 600 }   # seconds of charging
    #   distributions: {distribution="fixed", value=S} | {distribution="uniform", min=, max=}
    #                  {distribution="exponential", mean=S, min=0, max=inf}
    #                  {distribution="normal", mean=, sd=, min=0, max=inf}
    #                  {distribution="lognormal", mu=, sigma=, min=0, max=inf}
    #                  or a plain number (fixed)
    ev_power_w = { min = 3700, max = 22000 }   # EV draw, uniform per session
    id_tags = ["FLEET001", "FLEET002", "FLEET003"]   # one picked per session
    plug_to_card = 2.0                # s between plugging in and presenting the card
    card_to_unplug = 2.0              # s between the stop card and unplugging

    [faults]
    network_drop_probability = 0.0   # per session: the link drops once at a random moment of it
    network_outage = { min = 5, max = 30 }   # s the link stays down after a drop
    power_cut_rate = 0.0             # power cuts per station per hour (Poisson): the link drops and the
                                     # station restarts at once on its in-memory store; open
                                     # transactions are stopped with reason PowerLoss at that boot
    backup_power = 0.0               # fraction (0..1) of the power cuts with backup power: the station
                                     # first stops its transactions (PowerLoss) itself and gives the
                                     # StopTransactions up to 5 s to go out

    [csms]                            # only for --csms builtin (a warning says so with another CSMS)
    boot_interval = 60                # interval of BootNotification.conf (the heartbeat interval)
    error_rate = 0.0                  # fraction of CALLs answered CALLERROR InternalError
    silence_rate = 0.0                # fraction of CALLs not answered at all
    #   error_rate + silence_rate < 1. Which CALLs is drawn from "<seed>/<identity>/<messageId>";
    #   a message id is faulted at most once, so a transaction message retried with its id
    #   (TransactionMessageAttempts, TransactionMessageRetryInterval) goes through
    local_list_fraction = 0.0         # fraction of the stations (drawn from "<seed>/<identity>/local-list") to
    local_list_size = 50              # which the CSMS sends, after their first Accepted boot, SendLocalList
                                      # Full v1: the driver's id_tags plus generated LIST00001... up to this size
    reservation_fraction = 0.0        # fraction of the stations ("<seed>/<identity>/reservation") to which it
    reservation_duration = 300        # sends ReserveNow(connector 1, the first of id_tags) for this many s
                                      # (a session of another idTag on that connector meanwhile is refused)
    smart_charging_fraction = 0.0     # fraction of the stations ("<seed>/<identity>/smart-charging") to which it
                                      # sends, after their first Accepted boot, SetChargingProfile: connector 0,
                                      # stackLevel 0, Recurring Daily from 2025-01-01T00:00Z, these periods
    smart_charging_purpose = "TxDefaultProfile"   # or "ChargePointMaxProfile"
    smart_charging_unit = "W"         # chargingRateUnit of the periods' limits: "W" or "A"
    smart_charging_periods = [{ start = "00:00", limit = 11000 }, { start = "07:00", limit = 7400 },
                              { start = "17:00", limit = 3700 }, { start = "21:00", limit = 11000 }]
                                      # the daily step list: each limit holds from its start (UTC, "HH:MM" or
                                      # seconds) to the next; the first starts at "00:00"
    smart_charging_stagger = 0        # s: each station's schedule starts a seeded 0..stagger s later
                                      # ("<seed>/<identity>/smart-charging-stagger"), so the steps spread out

What happens per connector: after the arrival gap the EV is plugged in,
``plug_to_card`` later the card is presented (Authorize, StartTransaction),
after the session duration the same card is presented again (StopTransaction)
and ``card_to_unplug`` later the EV is unplugged; the next gap starts then.
Every draw comes from a ``random.Random`` seeded with
``"<seed>/<identity>/<connector>"`` (power cuts: ``"<seed>/<identity>/power"``):
the same seed gives the same schedule, whatever the number of workers.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from ..config import IDENTITY_RULE, did_you_mean, identity_ok, ocpp_key_specs
from ..core.configuration import ConfigValueError
from ..core.settings import StationSettings


DEFAULT_PERIODS = ((0, 11000.0), (7 * 3600, 7400.0), (17 * 3600, 3700.0), (21 * 3600, 11000.0))
PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile")  # what the builtin CSMS can send (no TxProfile: no transaction)


class ScenarioError(ValueError):
    """A bad scenario file; the text names the file and the key."""


def _unknown(path: str, key: str, valid: Any, what: str = "unknown key") -> ScenarioError:
    """``<path>: unknown key`` with the valid key closest to ``key`` (the same hint as the station config's),
    or the valid keys when none is close. ``path`` is ``"<file>: <dotted key path>"``, ending in ``key``."""
    valid = list(valid)
    hint = did_you_mean(key, valid) or f" (expected one of: {', '.join(valid)})"
    return ScenarioError(f"{path}: {what}{hint}")


@dataclass(slots=True)
class Distribution:
    kind: str = "uniform"
    params: dict[str, float] = field(default_factory=lambda: {"min": 60.0, "max": 600.0})

    def draw(self, rng: random.Random) -> float:
        p = self.params
        lo, hi = p.get("min", 0.0), p.get("max", math.inf)
        if self.kind == "fixed":
            return p["value"]
        if self.kind == "uniform":
            return rng.uniform(lo, hi)
        if self.kind == "exponential":
            v = rng.expovariate(1.0 / p["mean"]) if p["mean"] > 0 else 0.0
        elif self.kind == "normal":
            v = rng.gauss(p["mean"], p["sd"])
        elif self.kind == "lognormal":
            v = rng.lognormvariate(p["mu"], p["sigma"])
        else:  # pragma: no cover - checked at load
            raise ScenarioError(f"unknown distribution {self.kind!r}")
        return min(max(v, lo), hi)

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.kind, **self.params}


_NEEDS = {"fixed": ("value",), "uniform": ("min", "max"), "exponential": ("mean",), "normal": ("mean", "sd"),
          "lognormal": ("mu", "sigma")}


@dataclass(slots=True)
class Template:
    """One station model of the fleet: [station]-like keys and [ocpp] keys over the scenario's defaults."""

    name: str = "default"
    weight: float = 1.0
    station: dict[str, Any] = field(default_factory=dict)  # StationSettings fields
    ocpp: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, **self.station, "ocpp": self.ocpp}


EVENT_LOOPS = ("asyncio", "uvloop")


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """A new event loop of ``kind`` ([fleet] event_loop): asyncio's own, or uvloop's (the optional ``fast``
    extra; ImportError with what to install when it is missing)."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ImportError("fleet.event_loop = \"uvloop\" needs uvloop: pip install 'ocpp-station[fast]'") from None
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


@dataclass(slots=True)
class Scenario:
    identity_pattern: str = "SIM{n:05d}"
    ramp_rate: float = 100.0
    timer_grain: float = 0.025  # s: timers fire on multiples of this in real time (one loop wake-up for many)
    event_loop: str = "asyncio"  # the workers' event loop: "asyncio" or "uvloop" (the [fast] extra)
    virtual_grain: float = 0.0  # s: virtual time jumps to multiples of this (0: to each deadline)
    security_profile: int = 0  # 0..3: Basic auth (1, 2), TLS (2, 3), client certificates (3); see .security
    pki_dir: str | None = None  # set at start-up (profiles 2, 3): the fleet CA's directory
    ca_file: str | None = None  # --ca-file: the external CSMS's root certificate (PEM)
    station: dict[str, Any] = field(default_factory=dict)  # StationSettings fields ([station]: every template's)
    ocpp: dict[str, str] = field(default_factory=dict)  # [ocpp]: every template's
    templates: list[Template] = field(default_factory=list)  # [[template]]; none: [station] + [ocpp] alone
    sessions_per_hour: float = 20.0
    arrival: Distribution | None = None  # gap between sessions on a connector; None: exponential from the rate
    session_duration: Distribution = field(default_factory=Distribution)
    ev_power_min: float = 3700.0
    ev_power_max: float = 22000.0
    id_tags: list[str] = field(default_factory=lambda: ["FLEET001", "FLEET002", "FLEET003"])
    plug_to_card: float = 2.0
    card_to_unplug: float = 2.0
    drop_probability: float = 0.0
    outage_min: float = 5.0
    outage_max: float = 30.0
    power_cut_rate: float = 0.0  # per station per hour
    backup_power: float = 0.0  # fraction of the power cuts with backup power
    boot_interval: int = 60
    csms_error_rate: float = 0.0  # builtin CSMS: fraction of CALLs answered CALLERROR InternalError
    csms_silence_rate: float = 0.0  # builtin CSMS: fraction of CALLs left unanswered
    csms_local_list_fraction: float = 0.0  # builtin CSMS: fraction of the stations sent a local list
    csms_local_list_size: int = 50  # entries of that list
    csms_reservation_fraction: float = 0.0  # builtin CSMS: fraction of the stations sent a reservation
    csms_reservation_duration: float = 300.0  # s until that reservation expires
    csms_smart_charging_fraction: float = 0.0  # builtin CSMS: fraction of the stations sent a charging profile
    csms_smart_charging_purpose: str = "TxDefaultProfile"  # its chargingProfilePurpose
    csms_smart_charging_unit: str = "W"  # its chargingRateUnit
    csms_smart_charging_periods: list[tuple[int, float]] = field(  # (startPeriod s, limit) of the daily step list
        default_factory=lambda: list(DEFAULT_PERIODS))
    csms_smart_charging_stagger: float = 0.0  # s: the seeded shift of each station's schedule, up to this
    csms_keys: list[str] = field(default_factory=list)  # [csms] keys the file set (they need --csms builtin)

    def identity(self, n: int) -> str:
        return self.identity_pattern.format(n=n)

    def identities(self, count: int) -> list[str]:
        """The identities of stations 1..count; ValueError (without the option's name) if the pattern
        cannot give them: a bad pattern, an identity that is not valid, two stations with one identity."""
        return check_identity_pattern(self.identity_pattern, count)

    def all_templates(self) -> list[Template]:
        return self.templates or [Template()]

    def settings(self, identity: str, template: Template | None = None) -> StationSettings:
        t = template or self.all_templates()[0]
        # the fleet performs no file transfers: its stations do not advertise FirmwareManagement (docs/fleet.md)
        s = StationSettings(identity=identity, ocpp={**self.ocpp, **t.ocpp}, profiles=fleet_profiles())
        s.vendor = "ocpp-station"
        s.model = "fleet-sim"
        for k, v in {**self.station, **t.station}.items():
            setattr(s, k, v)
        return s

    def connectors_of(self, template: Template) -> int:
        return int(template.station.get("connectors", self.station.get("connectors", 1)))

    def transaction_retry_s(self) -> float:
        """Seconds one transaction message may take to get through under the stations' retry policy, the
        longest over the templates: TransactionMessageAttempts (A) attempts of up to MessageTimeout (T)
        each, and retries TransactionMessageRetryInterval (I) x 1, x 2, ... x (A - 1) after the failed
        ones ([SPEC] §3.7.1, [JERRATA] 3.3; core/outbox.py): A * T + I * A * (A - 1) / 2."""
        worst = 0.0
        for tpl in self.all_templates():
            specs = ocpp_key_specs(self.settings(self.identity(1), tpl))
            values = {**self.ocpp, **tpl.ocpp}

            def key(name: str) -> int:
                return int(specs[name].parse(values.get(name, specs[name].default)))

            a, t, i = key("TransactionMessageAttempts"), key("MessageTimeout"), key("TransactionMessageRetryInterval")
            worst = max(worst, a * t + i * a * (a - 1) / 2)
        return worst

    @property
    def csms_faults(self) -> bool:
        return self.csms_error_rate > 0 or self.csms_silence_rate > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity_pattern": self.identity_pattern,
            "ramp_rate": self.ramp_rate,
            "timer_grain": self.timer_grain,
            "event_loop": self.event_loop,
            "virtual_grain": self.virtual_grain,
            "security_profile": self.security_profile,
            "station": self.station,
            "ocpp": self.ocpp,
            "templates": [t.to_dict() for t in self.templates],
            "sessions_per_hour": self.sessions_per_hour,
            "arrival": None if self.arrival is None else self.arrival.to_dict(),
            "session_duration": self.session_duration.to_dict(),
            "ev_power_w": [self.ev_power_min, self.ev_power_max],
            "id_tags": self.id_tags,
            "network_drop_probability": self.drop_probability,
            "network_outage": [self.outage_min, self.outage_max],
            "power_cut_rate": self.power_cut_rate,
            "backup_power": self.backup_power,
            "csms_error_rate": self.csms_error_rate,
            "csms_silence_rate": self.csms_silence_rate,
            "csms_smart_charging": {"fraction": self.csms_smart_charging_fraction,
                                    "purpose": self.csms_smart_charging_purpose,
                                    "unit": self.csms_smart_charging_unit,
                                    "periods": [list(p) for p in self.csms_smart_charging_periods],
                                    "stagger": self.csms_smart_charging_stagger},
        }


def check_identity_pattern(pattern: str, count: int) -> list[str]:
    """The identities ``pattern`` gives stations 1..count, or ValueError saying what is wrong."""
    try:
        ids = [pattern.format(n=n) for n in range(1, count + 1)]
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"bad pattern {pattern!r}: {type(exc).__name__}: {exc}") from None
    for n, ident in enumerate(ids, 1):
        if not identity_ok(ident):
            raise ValueError(f"pattern {pattern!r} gives station {n} the identity {ident!r}; expected {IDENTITY_RULE}")
    if len(set(ids)) < len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise ValueError(f"pattern {pattern!r} gives several stations the identity {dup!r}; "
                         "it needs {n} (e.g. CP{n:04d})")
    return ids


_STATION_FIELDS = {"vendor": str, "model": str, "serial_number": str, "firmware_version": str,
                   "connectors": int, "fixed_cable": bool, "connector_lock": bool, "boot_retry_interval": int,
                   "meter_save_interval": int, "profiles": list}


def _ocpp_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def _num(where: str, v: Any, lo: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo:
        raise ScenarioError(f"{where}: expected a number >= {lo}, got {v!r}")
    return float(v)


def _fraction(where: str, v: Any) -> float:
    p = _num(where, v)
    if p > 1:
        raise ScenarioError(f"{where}: expected 0..1, got {p:g}")
    return p


def _time_of_day(where: str, v: Any) -> int:
    """ "HH:MM", "HH:MM:SS" or a number of seconds -> seconds since midnight (0..86399)."""
    if isinstance(v, str):
        parts = v.split(":")
        if 2 <= len(parts) <= 3 and all(p.isascii() and p.isdigit() and len(p) == 2 for p in parts):
            h, m, sec = (int(p) for p in parts + ["00"] * (3 - len(parts)))
            if h < 24 and m < 60 and sec < 60:
                return h * 3600 + m * 60 + sec
        raise ScenarioError(f'{where}: expected a time of day "HH:MM" or "HH:MM:SS" (UTC), got {v!r}')
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 86400:
        return v
    raise ScenarioError(f'{where}: expected a time of day "HH:MM" or a whole number of seconds 0..86399, got {v!r}')


def _periods(where: str, v: Any) -> list[tuple[int, float]]:
    """The daily step list: [{start = "HH:MM", limit = N}, ...], starting at 00:00 and in time order (a
    schedule's first startPeriod is 0 and its periods come in order, [SPEC] §7.8 ChargingSchedule)."""
    if not isinstance(v, list) or not v or not all(isinstance(p, dict) for p in v):
        raise ScenarioError(f'{where}: expected a non-empty list of tables {{ start = "HH:MM", limit = N }}')
    out: list[tuple[int, float]] = []
    for i, p in enumerate(v, 1):
        at = f"{where}[{i}]"
        _known_keys_at(at, p, ("start", "limit"))
        if "start" not in p or "limit" not in p:
            raise ScenarioError(f"{at}: needs 'start' and 'limit'")
        start = _time_of_day(f"{at}.start", p["start"])
        limit = _num(f"{at}.limit", p["limit"])
        if out and start <= out[-1][0]:
            raise ScenarioError(f"{at}.start: expected a time after the previous period's, got {p['start']!r}")
        out.append((start, limit))
    if out[0][0] != 0:
        raise ScenarioError(f'{where}[1].start: the first period starts at "00:00" (startPeriod 0)')
    if len(out) > 48:
        raise ScenarioError(f"{where}: at most 48 periods, got {len(out)}")
    return out


def _known_keys_at(where: str, body: dict[str, Any], valid: tuple[str, ...]) -> None:
    for k in body:
        if k not in valid:
            raise _unknown(f"{where}.{k}", k, valid)


def _dist(where: str, v: Any) -> Distribution:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Distribution("fixed", {"value": _num(where, v)})
    if not isinstance(v, dict):
        raise ScenarioError(f"{where}: expected a number or a table with 'distribution'")
    kind = v.get("distribution", "uniform")
    if kind not in _NEEDS:
        raise ScenarioError(f"{where}.distribution: expected one of {', '.join(_NEEDS)}, got {kind!r}")
    params = {}
    for k, x in v.items():
        if k == "distribution":
            continue
        if k not in _NEEDS[kind] and k not in ("min", "max"):
            raise _unknown(f"{where}.{k}", k, dict.fromkeys(("distribution",) + _NEEDS[kind] + ("min", "max")),
                           f"unknown key for distribution {kind}")
        params[k] = _num(f"{where}.{k}", x, -math.inf if k in ("mu", "mean") and kind != "exponential" else 0.0)
    for k in _NEEDS[kind]:
        if k not in params:
            raise ScenarioError(f"{where}: distribution {kind} needs {k!r}")
    return Distribution(kind, params)


def _station_keys(where: str, table: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        if k in extra:
            continue
        typ = _STATION_FIELDS.get(k)
        if typ is None:
            raise _unknown(f"{where}.{k}", k, extra + tuple(_STATION_FIELDS))
        if typ is int and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ScenarioError(f"{where}.{k}: expected a positive integer, got {v!r}")
        if not isinstance(v, typ):
            raise ScenarioError(f"{where}.{k}: expected {typ.__name__}, got {v!r}")
        if k == "profiles":
            from ..features import PROFILE_NAMES, implemented_profiles

            if not all(isinstance(p, str) for p in v) or "Core" not in v:
                raise ScenarioError(f'{where}.profiles: expected a list of profile names with "Core", got {v!r}')
            for p in v:
                if p not in implemented_profiles():
                    what = "not implemented" if p in PROFILE_NAMES else "unknown"
                    raise ScenarioError(f"{where}.profiles: {p!r}: {what} (expected some of: "
                                        f"{', '.join(implemented_profiles())})")
            v = tuple(v)
        out[k] = v
    return out


def _ocpp_keys(where: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table of OCPP configuration keys")
    return {k: _ocpp_text(v) for k, v in table.items()}


def _check_ocpp(where: str, sc: Scenario, index: int, tpl: Template) -> None:
    """Every [ocpp] key of a template (its own over the scenario's) against the key registry of a station of
    its shape, as ``run``'s config checks them: an unknown key names the closest one."""
    specs = ocpp_key_specs(sc.settings(sc.identity(1), tpl))
    for name, text in {**sc.ocpp, **tpl.ocpp}.items():
        path = f"{where}: template[{index}].ocpp.{name}" if name in tpl.ocpp else f"{where}: ocpp.{name}"
        spec = specs.get(name)
        if spec is None:
            raise _unknown(path, name, specs, "unknown OCPP configuration key")
        try:
            spec.normalise(text)
        except ConfigValueError as exc:
            raise ScenarioError(f"{path}: {exc}") from None  # the message quotes the value


def _known_keys(where: str, table: str, body: dict[str, Any], valid: tuple[str, ...]) -> None:
    for k in body:  # in the file's order: the first unknown key is the one named
        if k not in valid:
            raise _unknown(f"{where}: {table}.{k}", k, valid)


def parse_scenario(doc: dict[str, Any], where: str = "scenario") -> Scenario:
    sc = Scenario()
    known = ("fleet", "station", "ocpp", "template", "driver", "faults", "csms")
    for t in doc:
        if t not in known:
            raise _unknown(f"{where}: {t}", t, known, "unknown table")
    for t in ("fleet", "station", "ocpp", "driver", "faults", "csms"):
        if not isinstance(doc.get(t, {}), dict):
            raise ScenarioError(f"{where}: {t}: expected a table [{t}]")
    fleet = doc.get("fleet", {})
    _known_keys(where, "fleet", fleet, ("identity_pattern", "ramp_rate", "timer_grain", "virtual_grain",
                                         "security_profile", "event_loop"))
    if "event_loop" in fleet:
        v = fleet["event_loop"]
        if v not in EVENT_LOOPS:
            raise ScenarioError(f"{where}: fleet.event_loop: expected \"asyncio\" or \"uvloop\", got {v!r}")
        sc.event_loop = v
    if "security_profile" in fleet:
        v = fleet["security_profile"]
        if isinstance(v, bool) or not isinstance(v, int) or v not in (0, 1, 2, 3):
            raise ScenarioError(f"{where}: fleet.security_profile: expected 0, 1, 2 or 3, got {v!r}")
        sc.security_profile = v
    if "identity_pattern" in fleet:
        sc.identity_pattern = str(fleet["identity_pattern"])
    try:
        sc.identities(1)
    except ValueError as exc:
        raise ScenarioError(f"{where}: fleet.identity_pattern: {exc}") from None
    if "ramp_rate" in fleet:
        sc.ramp_rate = _num(f"{where}: fleet.ramp_rate", fleet["ramp_rate"], 0.001)
    if "timer_grain" in fleet:
        sc.timer_grain = _num(f"{where}: fleet.timer_grain", fleet["timer_grain"])
        if sc.timer_grain > 1:
            raise ScenarioError(f"{where}: fleet.timer_grain: expected 0..1 s, got {sc.timer_grain:g}")
    if "virtual_grain" in fleet:
        sc.virtual_grain = _num(f"{where}: fleet.virtual_grain", fleet["virtual_grain"])
        if sc.virtual_grain > 60:
            raise ScenarioError(f"{where}: fleet.virtual_grain: expected 0..60 s, got {sc.virtual_grain:g}")
    sc.station = _station_keys(f"{where}: station", doc.get("station", {}))
    sc.ocpp = _ocpp_keys(f"{where}: ocpp", doc.get("ocpp", {}))
    templates = doc.get("template", [])
    if not isinstance(templates, list) or not all(isinstance(t, dict) for t in templates):
        raise ScenarioError(f"{where}: template: expected [[template]] tables")
    for i, t in enumerate(templates, 1):
        tw = f"{where}: template[{i}]"
        tpl = Template(name=str(t.get("name", f"template{i}")))
        if "weight" in t:
            tpl.weight = _num(f"{tw}.weight", t["weight"])
            if tpl.weight <= 0:
                raise ScenarioError(f"{tw}.weight: expected a number > 0, got {t['weight']!r}")
        tpl.station = _station_keys(tw, t, extra=("name", "weight", "ocpp"))
        tpl.ocpp = _ocpp_keys(f"{tw}.ocpp", t.get("ocpp", {}))
        sc.templates.append(tpl)
    drv = doc.get("driver", {})
    if "sessions_per_hour" in drv:
        sc.sessions_per_hour = _num(f"{where}: driver.sessions_per_hour", drv["sessions_per_hour"])
    if "arrival" in drv:
        raw = drv["arrival"]
        if isinstance(raw, dict) and raw.get("distribution") == "exponential" and set(raw) == {"distribution"}:
            sc.arrival = None  # the default: exponential, its mean from sessions_per_hour
        else:
            if "sessions_per_hour" in drv:
                raise ScenarioError(f"{where}: driver.arrival: this distribution sets the gap between sessions "
                                    "itself; leave out driver.sessions_per_hour (or use arrival = "
                                    "{distribution = \"exponential\"} without a mean)")
            sc.arrival = _dist(f"{where}: driver.arrival", raw)
    if "session_duration" in drv:
        sc.session_duration = _dist(f"{where}: driver.session_duration", drv["session_duration"])
    if "ev_power_w" in drv:
        p = drv["ev_power_w"]
        if isinstance(p, dict):
            _known_keys(where, "driver.ev_power_w", p, ("min", "max"))
            sc.ev_power_min = _num(f"{where}: driver.ev_power_w.min", p.get("min", sc.ev_power_min))
            sc.ev_power_max = _num(f"{where}: driver.ev_power_w.max", p.get("max", sc.ev_power_max))
        else:
            sc.ev_power_min = sc.ev_power_max = _num(f"{where}: driver.ev_power_w", p)
    if "id_tags" in drv:
        tags = drv["id_tags"]
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and 0 < len(t) <= 20 for t in tags):
            raise ScenarioError(f"{where}: driver.id_tags: expected a non-empty list of idTags (1-20 chars)")
        sc.id_tags = list(tags)
    for k in ("plug_to_card", "card_to_unplug"):
        if k in drv:
            setattr(sc, k, _num(f"{where}: driver.{k}", drv[k]))
    _known_keys(where, "driver", drv, ("sessions_per_hour", "arrival", "session_duration", "ev_power_w", "id_tags",
                                       "plug_to_card", "card_to_unplug"))
    faults = doc.get("faults", {})
    if "network_drop_probability" in faults:
        sc.drop_probability = _fraction(f"{where}: faults.network_drop_probability", faults["network_drop_probability"])
    if "network_outage" in faults:
        o = faults["network_outage"]
        if isinstance(o, dict):
            _known_keys(where, "faults.network_outage", o, ("min", "max"))
            sc.outage_min = _num(f"{where}: faults.network_outage.min", o.get("min", sc.outage_min))
            sc.outage_max = _num(f"{where}: faults.network_outage.max", o.get("max", sc.outage_max))
        else:
            sc.outage_min = sc.outage_max = _num(f"{where}: faults.network_outage", o)
    if "power_cut_rate" in faults:
        sc.power_cut_rate = _num(f"{where}: faults.power_cut_rate", faults["power_cut_rate"])
    if "backup_power" in faults:
        sc.backup_power = _fraction(f"{where}: faults.backup_power", faults["backup_power"])
    _known_keys(where, "faults", faults, ("network_drop_probability", "network_outage", "power_cut_rate",
                                          "backup_power"))
    csms = doc.get("csms", {})
    if "boot_interval" in csms:
        sc.boot_interval = int(_num(f"{where}: csms.boot_interval", csms["boot_interval"]))
    if "error_rate" in csms:
        sc.csms_error_rate = _fraction(f"{where}: csms.error_rate", csms["error_rate"])
    if "silence_rate" in csms:
        sc.csms_silence_rate = _fraction(f"{where}: csms.silence_rate", csms["silence_rate"])
    if sc.csms_error_rate + sc.csms_silence_rate >= 1:
        raise ScenarioError(f"{where}: csms.error_rate + csms.silence_rate: expected less than 1, got "
                            f"{sc.csms_error_rate + sc.csms_silence_rate:g}")
    if "local_list_fraction" in csms:
        sc.csms_local_list_fraction = _fraction(f"{where}: csms.local_list_fraction", csms["local_list_fraction"])
    if "local_list_size" in csms:
        size = csms["local_list_size"]
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 10_000:
            raise ScenarioError(f"{where}: csms.local_list_size: expected an integer from 0 to 10000, got {size!r}")
        sc.csms_local_list_size = size
    if "reservation_fraction" in csms:
        sc.csms_reservation_fraction = _fraction(f"{where}: csms.reservation_fraction", csms["reservation_fraction"])
    if "reservation_duration" in csms:
        sc.csms_reservation_duration = _num(f"{where}: csms.reservation_duration", csms["reservation_duration"], 1.0)
    if "smart_charging_fraction" in csms:
        sc.csms_smart_charging_fraction = _fraction(f"{where}: csms.smart_charging_fraction",
                                                    csms["smart_charging_fraction"])
    if "smart_charging_purpose" in csms:
        purpose = csms["smart_charging_purpose"]
        if purpose not in PURPOSES:
            raise ScenarioError(f"{where}: csms.smart_charging_purpose: expected one of {', '.join(PURPOSES)}, "
                                f"got {purpose!r}")
        sc.csms_smart_charging_purpose = purpose
    if "smart_charging_unit" in csms:
        unit = csms["smart_charging_unit"]
        if unit not in ("W", "A"):
            raise ScenarioError(f'{where}: csms.smart_charging_unit: expected "W" or "A", got {unit!r}')
        sc.csms_smart_charging_unit = unit
    if "smart_charging_periods" in csms:
        sc.csms_smart_charging_periods = _periods(f"{where}: csms.smart_charging_periods",
                                                  csms["smart_charging_periods"])
    if "smart_charging_stagger" in csms:
        sc.csms_smart_charging_stagger = _num(f"{where}: csms.smart_charging_stagger", csms["smart_charging_stagger"])
        if sc.csms_smart_charging_stagger > 86400:
            raise ScenarioError(f"{where}: csms.smart_charging_stagger: expected 0..86400 s (a day), "
                                f"got {sc.csms_smart_charging_stagger:g}")
    _known_keys(where, "csms", csms, ("boot_interval", "error_rate", "silence_rate", "local_list_fraction",
                                      "local_list_size", "reservation_fraction", "reservation_duration",
                                      "smart_charging_fraction", "smart_charging_purpose", "smart_charging_unit",
                                      "smart_charging_periods", "smart_charging_stagger"))
    sc.csms_keys = sorted(csms)
    # every template must make a valid station: build one (checks the [ocpp] values with the station's own rules)
    from ..assembly import build_station
    from ..store.memory import MemoryStore

    for i, tpl in enumerate(sc.all_templates(), 1):
        _check_ocpp(where, sc, i, tpl)
        try:
            build_station(sc.settings(sc.identity(1), tpl), MemoryStore())
        except Exception as exc:  # ConfigValueError and friends
            which = f"template[{i}] ({tpl.name})" if sc.templates else "the station template"
            raise ScenarioError(f"{where}: {which} is not valid: {exc}") from None
    return sc


def load_scenario(path: str | Path | None) -> Scenario:
    if path is None:
        return parse_scenario({})
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(doc, str(path))


class Planned(NamedTuple):
    """One planned action, ``t`` seconds after the fleet's start."""

    t: float
    index: int  # station number n (1-based)
    connector: int  # 0: the station as a whole (power_cut)
    kind: str  # "plug_in" | "card_start" | "card_stop" | "plug_out" | "drop" | "power_cut"
    arg: Any = None  # plug_in: EV power (W); cards: idTag; drop: outage (s); power_cut: backup power (bool)


class Driver:
    """The seeded planner: a lazy, deterministic schedule of driver actions per station."""

    def __init__(self, scenario: Scenario, seed: int | str) -> None:
        self.scenario = scenario
        self.seed = seed

    def start_offset(self, index: int) -> float:
        """When station ``index`` (1-based) is started, from the ramp rate."""
        return (index - 1) / self.scenario.ramp_rate

    def template(self, index: int) -> Template:
        """The template station ``index`` is built from: a weighted draw from ``"<seed>/<identity>/template"``."""
        ts = self.scenario.all_templates()
        if len(ts) == 1:
            return ts[0]
        rng = random.Random(f"{self.seed}/{self.scenario.identity(index)}/template")
        return rng.choices(ts, weights=[t.weight for t in ts])[0]

    def connector_plan(self, index: int, connector: int, connectors: int | None = None) -> Iterator[Planned]:
        sc = self.scenario
        if connectors is None:
            connectors = sc.connectors_of(self.template(index))
        rng = random.Random(f"{self.seed}/{sc.identity(index)}/{connector}")
        arrival = sc.arrival
        rate = sc.sessions_per_hour / 3600.0 / connectors  # sessions per second on this connector
        if arrival is None and rate <= 0:
            return
        t = self.start_offset(index)
        while True:
            gap = rng.expovariate(rate) if arrival is None else arrival.draw(rng)
            t += max(gap, 1e-3)  # a zero gap with zero-length sessions would never move on
            power = round(rng.uniform(sc.ev_power_min, sc.ev_power_max))
            tag = sc.id_tags[rng.randrange(len(sc.id_tags))]
            duration = sc.session_duration.draw(rng)
            drop = rng.random() < sc.drop_probability if sc.drop_probability > 0 else False
            yield Planned(t, index, connector, "plug_in", power)
            t_card = t + sc.plug_to_card
            yield Planned(t_card, index, connector, "card_start", tag)
            if drop:
                at = t_card + rng.uniform(0, duration)
                yield Planned(at, index, connector, "drop", rng.uniform(sc.outage_min, sc.outage_max))
            t = t_card + duration
            yield Planned(t, index, connector, "card_stop", tag)
            t += sc.card_to_unplug
            yield Planned(t, index, connector, "plug_out", None)

    def power_plan(self, index: int) -> Iterator[Planned]:
        """Power cuts of station ``index``: Poisson, ``power_cut_rate`` per hour; a ``backup_power``
        fraction of them with backup power."""
        sc = self.scenario
        if sc.power_cut_rate <= 0:
            return
        rng = random.Random(f"{self.seed}/{sc.identity(index)}/power")
        t = self.start_offset(index)
        while True:
            t += rng.expovariate(sc.power_cut_rate / 3600.0)
            backup = rng.random() < sc.backup_power if sc.backup_power > 0 else False
            yield Planned(t, index, 0, "power_cut", backup)

    def station_plan(self, index: int) -> Iterator[Planned]:
        """Every action of station ``index`` (its connectors', its power cuts), in time order."""
        n = self.scenario.connectors_of(self.template(index))
        return heapq.merge(self.power_plan(index), *(self.connector_plan(index, c, n) for c in range(1, n + 1)))

    def planned(self, count: int, until: float) -> list[Planned]:
        """The whole schedule of ``count`` stations up to ``until`` seconds (tests, --dry-run)."""
        out: list[Planned] = []
        for n in range(1, count + 1):
            for ev in self.station_plan(n):
                if ev.t >= until:
                    break
                out.append(ev)
        out.sort()
        return out


def fleet_profiles() -> tuple[str, ...]:
    """The profiles of a fleet station unless its scenario says otherwise: every implemented profile but
    FirmwareManagement, whose transfers the fleet does not perform."""
    from ..features import implemented_profiles

    return tuple(p for p in implemented_profiles() if p != "FirmwareManagement")

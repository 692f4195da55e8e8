"""Fleet scenarios (TOML) and the seeded driver that plans what the simulated drivers do.

Scenario file
-------------
Every table and key is optional; the defaults are shown (see ``examples/fleet-basic.toml``)::

    [fleet]
    identity_pattern = "SIM{n:05d}"   # str.format pattern; n = 1..count
    ramp_rate = 100.0                 # stations started per second

    [station]                         # the station template (same meaning as in `run`'s config)
    vendor = "ocpp-station"           # BootNotification.chargePointVendor (<= 20 chars)
    model = "fleet-sim"               # BootNotification.chargePointModel (<= 20 chars)
    firmware_version = "ocpp-station 0.1.0"
    connectors = 1
    fixed_cable = true

    [ocpp]                            # initial OCPP configuration keys of every station
    MeterValueSampleInterval = 60     # values may be TOML ints/bools/strings

    [driver]                          # what the simulated EV drivers do, per station
    sessions_per_hour = 20.0          # mean session arrival rate per station (Poisson)
    session_duration = { distribution = "uniform", min = 60, max = 600 }   # seconds of charging
    #   distributions: {distribution="fixed", value=S} | {distribution="uniform", min=, max=}
    #                  {distribution="exponential", mean=S, min=0, max=inf}
    #                  {distribution="lognormal", mu=, sigma=, min=0, max=inf}
    ev_power_w = { min = 3700, max = 22000 }   # EV draw, uniform per session
    id_tags = ["FLEET001", "FLEET002", "FLEET003"]   # one picked per session
    plug_to_card = 2.0                # s between plugging in and presenting the card
    card_to_unplug = 2.0              # s between the stop card and unplugging

    [faults]
    network_drop_probability = 0.0   # per session: the link drops once at a random moment of it
    network_outage = { min = 5, max = 30 }   # s the link stays down after a drop

    [csms]                            # only for --csms builtin
    boot_interval = 60                # interval of BootNotification.conf (the heartbeat interval)

What happens per connector: after an exponential gap (mean ``connectors * 3600 /
sessions_per_hour``) the EV is plugged in, ``plug_to_card`` later the card is
presented (Authorize, StartTransaction), after the session duration the same card
is presented again (StopTransaction) and ``card_to_unplug`` later the EV is
unplugged; the next gap starts then. Every draw comes from a ``random.Random``
seeded with ``"<seed>/<identity>/<connector>"``: the same seed gives the same
schedule, whatever the number of workers.
"""

from __future__ import annotations

import heapq
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from ..core.settings import StationSettings


class ScenarioError(ValueError):
    """A bad scenario file; the text names the file and the key."""


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
            v = rng.expovariate(1.0 / p["mean"])
        elif self.kind == "lognormal":
            v = rng.lognormvariate(p["mu"], p["sigma"])
        else:  # pragma: no cover - checked at load
            raise ScenarioError(f"unknown distribution {self.kind!r}")
        return min(max(v, lo), hi)


_NEEDS = {"fixed": ("value",), "uniform": ("min", "max"), "exponential": ("mean",), "lognormal": ("mu", "sigma")}


@dataclass(slots=True)
class Scenario:
    identity_pattern: str = "SIM{n:05d}"
    ramp_rate: float = 100.0
    station: dict[str, Any] = field(default_factory=dict)  # StationSettings fields
    ocpp: dict[str, str] = field(default_factory=dict)
    sessions_per_hour: float = 20.0
    session_duration: Distribution = field(default_factory=Distribution)
    ev_power_min: float = 3700.0
    ev_power_max: float = 22000.0
    id_tags: list[str] = field(default_factory=lambda: ["FLEET001", "FLEET002", "FLEET003"])
    plug_to_card: float = 2.0
    card_to_unplug: float = 2.0
    drop_probability: float = 0.0
    outage_min: float = 5.0
    outage_max: float = 30.0
    boot_interval: int = 60

    def identity(self, n: int) -> str:
        return self.identity_pattern.format(n=n)

    def settings(self, identity: str) -> StationSettings:
        s = StationSettings(identity=identity, ocpp=dict(self.ocpp))
        s.vendor = "ocpp-station"
        s.model = "fleet-sim"
        for k, v in self.station.items():
            setattr(s, k, v)
        return s

    @property
    def connectors(self) -> int:
        return int(self.station.get("connectors", 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity_pattern": self.identity_pattern,
            "ramp_rate": self.ramp_rate,
            "station": self.station,
            "ocpp": self.ocpp,
            "sessions_per_hour": self.sessions_per_hour,
            "session_duration": {"distribution": self.session_duration.kind, **self.session_duration.params},
            "ev_power_w": [self.ev_power_min, self.ev_power_max],
            "id_tags": self.id_tags,
            "network_drop_probability": self.drop_probability,
            "network_outage": [self.outage_min, self.outage_max],
        }


_STATION_FIELDS = {"vendor": str, "model": str, "serial_number": str, "firmware_version": str,
                   "connectors": int, "fixed_cable": bool, "connector_lock": bool, "boot_retry_interval": int}


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


def _dist(where: str, v: Any) -> Distribution:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Distribution("fixed", {"value": float(v)})
    if not isinstance(v, dict):
        raise ScenarioError(f"{where}: expected a number or a table with 'distribution'")
    kind = v.get("distribution", "uniform")
    if kind not in _NEEDS:
        raise ScenarioError(f"{where}.distribution: expected one of {', '.join(_NEEDS)}, got {kind!r}")
    params = {}
    for k, x in v.items():
        if k != "distribution":
            params[k] = _num(f"{where}.{k}", x, -math.inf if k == "mu" else 0.0)
    for k in _NEEDS[kind]:
        if k not in params:
            raise ScenarioError(f"{where}: distribution {kind} needs {k!r}")
    return Distribution(kind, params)


def parse_scenario(doc: dict[str, Any], where: str = "scenario") -> Scenario:
    sc = Scenario()
    known = {"fleet", "station", "ocpp", "driver", "faults", "csms"}
    for t in doc:
        if t not in known:
            raise ScenarioError(f"{where}: unknown table [{t}] (expected {', '.join(sorted(known))})")
    fleet = doc.get("fleet", {})
    if "identity_pattern" in fleet:
        sc.identity_pattern = str(fleet["identity_pattern"])
    try:
        sc.identity(1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ScenarioError(f"{where}: fleet.identity_pattern: bad pattern {sc.identity_pattern!r}: {exc}") from None
    if "ramp_rate" in fleet:
        sc.ramp_rate = _num(f"{where}: fleet.ramp_rate", fleet["ramp_rate"], 0.001)
    for k, v in doc.get("station", {}).items():
        typ = _STATION_FIELDS.get(k)
        if typ is None:
            raise ScenarioError(f"{where}: station.{k}: unknown key (expected {', '.join(_STATION_FIELDS)})")
        if typ is int and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ScenarioError(f"{where}: station.{k}: expected a positive integer, got {v!r}")
        if not isinstance(v, typ):
            raise ScenarioError(f"{where}: station.{k}: expected {typ.__name__}, got {v!r}")
        sc.station[k] = v
    sc.ocpp = {k: _ocpp_text(v) for k, v in doc.get("ocpp", {}).items()}
    drv = doc.get("driver", {})
    if "sessions_per_hour" in drv:
        sc.sessions_per_hour = _num(f"{where}: driver.sessions_per_hour", drv["sessions_per_hour"])
    if "session_duration" in drv:
        sc.session_duration = _dist(f"{where}: driver.session_duration", drv["session_duration"])
    if "ev_power_w" in drv:
        p = drv["ev_power_w"]
        if isinstance(p, dict):
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
    unknown = set(drv) - {"sessions_per_hour", "session_duration", "ev_power_w", "id_tags", "plug_to_card", "card_to_unplug"}
    if unknown:
        raise ScenarioError(f"{where}: driver.{sorted(unknown)[0]}: unknown key")
    faults = doc.get("faults", {})
    if "network_drop_probability" in faults:
        p = _num(f"{where}: faults.network_drop_probability", faults["network_drop_probability"])
        if p > 1:
            raise ScenarioError(f"{where}: faults.network_drop_probability: expected 0..1, got {p}")
        sc.drop_probability = p
    if "network_outage" in faults:
        o = faults["network_outage"]
        if isinstance(o, dict):
            sc.outage_min = _num(f"{where}: faults.network_outage.min", o.get("min", sc.outage_min))
            sc.outage_max = _num(f"{where}: faults.network_outage.max", o.get("max", sc.outage_max))
        else:
            sc.outage_min = sc.outage_max = _num(f"{where}: faults.network_outage", o)
    csms = doc.get("csms", {})
    if "boot_interval" in csms:
        sc.boot_interval = int(_num(f"{where}: csms.boot_interval", csms["boot_interval"]))
    # the template must make a valid station: build one (checks the [ocpp] values with the station's own rules)
    from ..core.station import Station
    from ..store.memory import MemoryStore

    try:
        Station(sc.settings(sc.identity(1)), MemoryStore())
    except Exception as exc:  # ConfigValueError and friends
        raise ScenarioError(f"{where}: the station template is not valid: {exc}") from None
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
    """One planned driver action, ``t`` seconds after the fleet's start."""

    t: float
    index: int  # station number n (1-based)
    connector: int
    kind: str  # "plug_in" | "card_start" | "card_stop" | "plug_out" | "drop"
    arg: Any = None  # plug_in: EV power (W); cards: idTag; drop: outage (s)


class Driver:
    """The seeded planner: a lazy, deterministic schedule of driver actions per station."""

    def __init__(self, scenario: Scenario, seed: int | str) -> None:
        self.scenario = scenario
        self.seed = seed

    def start_offset(self, index: int) -> float:
        """When station ``index`` (1-based) is started, from the ramp rate."""
        return (index - 1) / self.scenario.ramp_rate

    def connector_plan(self, index: int, connector: int) -> Iterator[Planned]:
        sc = self.scenario
        rng = random.Random(f"{self.seed}/{sc.identity(index)}/{connector}")
        rate = sc.sessions_per_hour / 3600.0 / sc.connectors  # sessions per second on this connector
        if rate <= 0:
            return
        t = self.start_offset(index)
        while True:
            t += rng.expovariate(rate)
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

    def station_plan(self, index: int) -> Iterator[Planned]:
        """Every connector's actions of station ``index``, in time order."""
        return heapq.merge(*(self.connector_plan(index, c) for c in range(1, self.scenario.connectors + 1)))

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

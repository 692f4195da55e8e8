"""A stand-in for the Smart Charging feature, for the tests of what makes a limit visible (the HMI's chart,
the fleet's limit series): the same interface as the real module (profile "SmartCharging",
``limit_w(connector_id, now)``, ``limitW`` in each connector's entry of the station document), with the
least behaviour behind it.

It accepts a SetChargingProfile whose schedule is Absolute or Recurring Daily (the rest: Rejected) and keeps
the last one; ``limit_w`` is that schedule's period at ``now`` (A as 3 phases of 230 V), or ``fixed[cid]``
when a test set one. ``install(monkeypatch)`` registers it under "SmartCharging" in ``features._PROFILES``, as
the real module is registered, so that every station built from ``[station] profiles`` gets it.
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.clock import parse_iso
from ocpp_station.features.base import Feature

VOLTS = 230.0 * 3


class FakeSmartCharging(Feature):
    profile = "SmartCharging"

    def __init__(self, station: Any) -> None:
        super().__init__(station)
        self.fixed: dict[int, float | None] = {}  # connector id -> a limit set by the test (W)
        self.profile_doc: dict[str, Any] | None = None  # the last SetChargingProfile's csChargingProfiles
        self.start = 0.0  # its startSchedule (epoch s)

    def handlers(self):
        return {"SetChargingProfile": self._set}

    def _set(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        prof = payload["csChargingProfiles"]
        sched = prof["chargingSchedule"]
        daily = prof["chargingProfileKind"] == "Recurring" and prof.get("recurrencyKind") == "Daily"
        if not (daily or prof["chargingProfileKind"] == "Absolute") or "startSchedule" not in sched:
            return {"status": "Rejected"}
        self.profile_doc = prof
        self.start = parse_iso(sched["startSchedule"])
        return {"status": "Accepted"}

    def limit_w(self, connector_id: int, now: float) -> float | None:
        if connector_id in self.fixed:
            return self.fixed[connector_id]
        prof = self.profile_doc
        if prof is None:
            return None
        sched = prof["chargingSchedule"]
        t = self.station.clock.wall(now) - self.start
        if prof["chargingProfileKind"] == "Recurring":
            t %= 86400.0
        if t < 0:
            return None
        limit = None
        for p in sched["chargingSchedulePeriod"]:
            if p["startPeriod"] <= t:
                limit = p["limit"]
        if limit is None:
            return None
        return float(limit) * (VOLTS if sched["chargingRateUnit"] == "A" else 1.0)

    def describe_connector(self, connector_id: int, entry: dict[str, Any], now: float) -> None:
        entry["limitW"] = self.limit_w(connector_id, now)


def install(monkeypatch: Any) -> None:
    """Register the fake under "SmartCharging", the way features/__init__.py registers a profile."""
    from ocpp_station import features

    monkeypatch.setitem(features._PROFILES, "SmartCharging", lambda: [FakeSmartCharging])

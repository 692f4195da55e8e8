"""GetConfiguration and ChangeConfiguration ([SPEC] §5.3, §5.8; spec §2.3)."""

from __future__ import annotations

from typing import Any

from ...core.commands import SetPingInterval
from ...ocpp.rpc import ErrorCode, OcppError
from ..base import Feature


class ConfigurationFeature(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        station.config.on_change("WebSocketPingInterval").append(
            lambda _n, v: station.command(SetPingInterval(v))
        )

    def handlers(self):
        return {"GetConfiguration": self.get_configuration, "ChangeConfiguration": self.change_configuration}

    def get_configuration(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        keys = payload.get("key") or []
        limit = self.station.config["GetConfigurationMaxKeys"]
        if len(keys) > limit:
            raise OcppError(
                ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
                f"{len(keys)} keys requested; GetConfigurationMaxKeys is {limit}",
            )
        known, unknown = self.station.config.get_configuration(keys)
        out: dict[str, Any] = {"configurationKey": known}
        if unknown:
            out["unknownKey"] = unknown
        return out

    def change_configuration(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        return {"status": self.station.config.change(payload["key"], payload["value"])}

"""Commands from the core to the runtime (imperative: what to do)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SetPingInterval:
    seconds: int  # WebSocketPingInterval; 0 disables pings


@dataclass(frozen=True, slots=True)
class Reboot:
    kind: str  # "Soft" | "Hard": restart the station (new boot, same data_dir)


@dataclass(frozen=True, slots=True)
class Reconnect:
    reason: str  # drop the websocket and connect again


Command = SetPingInterval | Reboot | Reconnect

"""The shape of a feature module: its keys, the CSMS actions it answers, and the hooks it reacts to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..core.configuration import KeySpec
from ..core.events import Event
from ..core.settings import StationSettings

if TYPE_CHECKING:
    from ..core.station import Station


class Feature:
    profile = "Core"  # the OCPP feature profile this module belongs to

    def __init__(self, station: "Station") -> None:
        self.station = station  # the facade: config, connectors, timers, send queues

    @staticmethod
    def keys(settings: StationSettings) -> list[KeySpec]:
        """Configuration keys this feature adds to the Core table."""
        return []

    def handlers(self) -> dict[str, Callable[[dict[str, Any], float], dict[str, Any]]]:
        """CSMS action -> handler(payload, now) returning the confirmation payload."""
        return {}

    # hooks, called on every feature in order; all optional
    def on_start(self, now: float) -> None: ...
    def on_connected(self, now: float) -> None: ...
    def on_disconnected(self, now: float) -> None: ...
    def on_accepted(self, now: float) -> None: ...
    def on_event(self, event: Event, now: float) -> None: ...
    def on_call_sent(self, now: float) -> None: ...
    def after_call(self, action: str, now: float) -> None:
        """A CSMS CALL of ``action`` was answered (its confirmation is queued ahead of anything sent now)."""

    for _hook in (on_event, on_call_sent, after_call):
        _hook.empty_hook = True  # type: ignore[attr-defined]  # the station skips it (Station._overrides)
    del _hook

    def describe(self, doc: dict[str, Any], now: float) -> None:
        """Add to the control API's station document."""

    def describe_connector(self, connector_id: int, entry: dict[str, Any], now: float) -> None:
        """Add to a connector's entry in the station document."""

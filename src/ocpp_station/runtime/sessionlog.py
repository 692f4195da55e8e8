"""The session steps at INFO, for a station maker reading ``run``'s log.

Three sources, so that a step shows whether the station is online or not:

- the hardware and driver inputs fed to the station (cable, card, EV, faults): :meth:`SessionLog.event`;
- the OCPP conversation (the CSMS's authorization answers, StartTransaction with the transactionId it
  gave, StopTransaction with its reason and meterStop): :meth:`SessionLog.frame`, a FrameLog listener;
- the connectors' state after each step (status and errorCode, an idTag authorized for a session and the
  session's end, also offline): :meth:`SessionLog.state`, fed the station's state document.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from ..core.events import (
    CablePlugged, CableUnplugged, CardPresented, EVStateChanged, Event, FaultCleared, FaultDetected,
)

log = logging.getLogger("ocpp_station.session")


class SessionLog:
    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}  # uid of a CALL out -> (action, payload)
        self._connectors: dict[int, tuple[Any, ...]] = {}  # connectorId -> (status, errorCode, info, idTag)

    # -- inputs ----------------------------------------------------------------------------

    def event(self, ev: Event) -> None:
        info = self.log.info
        if isinstance(ev, CablePlugged):
            info("connector %s: cable plugged in", ev.connector_id)
        elif isinstance(ev, CableUnplugged):
            side = {"ev": " at the EV", "station": " at the station"}.get(ev.side, "")
            info("connector %s: cable unplugged%s", ev.connector_id, side)
        elif isinstance(ev, CardPresented):
            at = f" at connector {ev.connector_id}" if ev.connector_id is not None else ""
            info("card %s presented%s", ev.id_tag, at)
        elif isinstance(ev, EVStateChanged):
            power = f" ({ev.power_w:g} W)" if ev.charging and ev.power_w is not None else ""
            info("connector %s: EV %s%s", ev.connector_id, "charging" if ev.charging else "suspended", power)
        elif isinstance(ev, FaultDetected):
            extra = f" ({ev.info})" if ev.info else ""
            self.log.warning("connector %s: fault %s%s", ev.connector_id, ev.error_code, extra)
        elif isinstance(ev, FaultCleared):
            info("connector %s: fault cleared", ev.connector_id)

    # -- the OCPP conversation -------------------------------------------------------------

    def frame(self, rec: Any) -> None:
        if rec.action not in ("Authorize", "StartTransaction", "StopTransaction") or rec.unique_id is None:
            return
        try:
            msg = orjson.loads(rec.text)
        except orjson.JSONDecodeError:
            return
        if rec.kind == "CALL" and rec.direction == "out":
            payload = msg[3] if len(msg) > 3 and isinstance(msg[3], dict) else {}
            self._calls[rec.unique_id] = (rec.action, payload)
            if len(self._calls) > 100:
                self._calls.pop(next(iter(self._calls)))
            if rec.action == "StopTransaction":
                self.log.info("transaction %s: StopTransaction sent, reason %s, meterStop %s Wh",
                              payload.get("transactionId"), payload.get("reason", "Local"), payload.get("meterStop"))
            return
        if rec.direction != "in" or rec.kind not in ("CALLRESULT", "CALLERROR"):
            return
        action, sent = self._calls.pop(rec.unique_id, (rec.action, {}))
        if rec.kind == "CALLERROR":
            return  # the station's own log says what failed and what it does about it
        answer = msg[2] if len(msg) > 2 and isinstance(msg[2], dict) else {}
        status = (answer.get("idTagInfo") or {}).get("status")
        if action == "Authorize":
            self.log.info("card %s: %s (Authorize)", sent.get("idTag"), status)
        elif action == "StartTransaction":
            self.log.info("connector %s: transaction %s started for idTag %s (%s), meterStart %s Wh",
                          sent.get("connectorId"), answer.get("transactionId"), sent.get("idTag"), status,
                          sent.get("meterStart"))
        elif action == "StopTransaction":
            self.log.info("transaction %s: stop acknowledged by the CSMS", sent.get("transactionId"))

    # -- the connectors --------------------------------------------------------------------

    def state(self, doc: dict[str, Any]) -> None:
        for c in doc.get("connectors", ()):
            cid = c["connectorId"]
            now = (c.get("status"), c.get("errorCode"), c.get("info"), c.get("idTag"))
            before = self._connectors.get(cid)
            self._connectors[cid] = now
            if before == now:
                continue
            if before is None or before[:3] != now[:3]:
                if now[0] == "Faulted" or now[1] not in (None, "NoError"):
                    extra = f" ({now[2]})" if now[2] else ""
                    self.log.warning("connector %s: %s, %s%s", cid, now[0], now[1], extra)
                elif before is not None:
                    self.log.info("connector %s: %s", cid, now[0])
            if before is not None and before[3] != now[3]:
                if before[3] is not None:
                    self.log.info("connector %s: session of idTag %s over", cid, before[3])
                if now[3] is not None:
                    self.log.info("connector %s: idTag %s authorized", cid, now[3])

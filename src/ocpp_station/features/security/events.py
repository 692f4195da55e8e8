"""Security events ([SEC] A04, §8 "Security events"): the security log and SecurityEventNotification.

Every event gets one line in the security log (A04.FR.04) and is sent to the CSMS, never before the
BootNotification is Accepted (libocpp #984):

* a *critical* event goes into the persisted transaction-message queue: it is in the store before
  anything else happens, survives restarts and kill -9, is retried after a CALLERROR or a timeout
  like a transaction message and delivered in order (A04.FR.01/02 "guaranteed delivery");
* any other event is queued in memory and sent once Accepted (the white paper only asks to log them;
  OCTT TC_077/TC_078 expect InvalidChargePointCertificate and InvalidCentralSystemCertificate on the
  wire, digest §10 item 14, and a CSMS learns more from the rest than it loses).

``techInfo`` is cut at 255 characters (schema) and never holds a key, a password or a certificate.
"""

from __future__ import annotations

from typing import Any

from ...core.outbox import Request
from .files import SecurityFiles

# [SEC] §8: every type, the critical ones marked (spelling of the white paper's table and libocpp)
CRITICAL = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)
TYPES = CRITICAL | {
    "FailedToAuthenticateAtCentralSystem",
    "CentralSystemFailedToAuthenticate",
    "ReconfigurationOfSecurityParameters",
    "InvalidMessages",
    "AttemptedReplayAttacks",
    "InvalidFirmwareSignature",
    "InvalidFirmwareSigningCertificate",
    "InvalidCentralSystemCertificate",
    "InvalidChargePointCertificate",
    "InvalidTLSVersion",
    "InvalidTLSCipherSuite",
}

ACTION = "SecurityEventNotification"
QUEUE_TX = "security"  # the ``tx`` of critical events in the transaction-message queue


class SecurityEvents:
    def __init__(self, station: Any, files: SecurityFiles) -> None:
        self.station = station  # the facade: timestamps, both send queues
        self.files = files  # the security log
        self.raised: list[dict[str, Any]] = []  # the events of this boot (type, timestamp, techInfo), for tests

    def raise_event(self, kind: str, now: float, tech_info: str | None = None) -> None:
        assert kind in TYPES, kind
        st = self.station
        payload: dict[str, Any] = {"type": kind, "timestamp": st.timestamp(now)}
        if tech_info:
            payload["techInfo"] = " ".join(tech_info.split())[:255]
        self.files.append_log(
            f"{payload['timestamp']} {kind}{' (critical)' if kind in CRITICAL else ''}"
            + (f": {payload['techInfo']}" if "techInfo" in payload else "")
        )
        self.raised.append(payload)
        if kind in CRITICAL:
            st.send_transaction_message(ACTION, payload, QUEUE_TX)  # persisted when this returns
        else:
            st.send(Request(ACTION, payload))

    def log(self, now: float, text: str) -> None:
        """A line in the security log that is not an event (e.g. a password change, never its value)."""
        self.files.append_log(f"{self.station.timestamp(now)} {text}")

"""The OCPP 1.6 actions, who sends them and which feature profile they belong to ([SPEC] §4-§6).

Includes the actions of the 1.6 security extension (whitepaper edition 3).
"""

from __future__ import annotations

from enum import Enum


class Direction(Enum):
    CP_TO_CSMS = "cp->csms"
    CSMS_TO_CP = "csms->cp"
    BOTH = "both"


_CP = Direction.CP_TO_CSMS
_CS = Direction.CSMS_TO_CP

# action -> (direction, feature profile)
ACTIONS: dict[str, tuple[Direction, str]] = {
    # Core
    "Authorize": (_CP, "Core"),
    "BootNotification": (_CP, "Core"),
    "ChangeAvailability": (_CS, "Core"),
    "ChangeConfiguration": (_CS, "Core"),
    "ClearCache": (_CS, "Core"),
    "DataTransfer": (Direction.BOTH, "Core"),
    "GetConfiguration": (_CS, "Core"),
    "Heartbeat": (_CP, "Core"),
    "MeterValues": (_CP, "Core"),
    "RemoteStartTransaction": (_CS, "Core"),
    "RemoteStopTransaction": (_CS, "Core"),
    "Reset": (_CS, "Core"),
    "StartTransaction": (_CP, "Core"),
    "StatusNotification": (_CP, "Core"),
    "StopTransaction": (_CP, "Core"),
    "UnlockConnector": (_CS, "Core"),
    # Firmware Management
    "GetDiagnostics": (_CS, "FirmwareManagement"),
    "DiagnosticsStatusNotification": (_CP, "FirmwareManagement"),
    "FirmwareStatusNotification": (_CP, "FirmwareManagement"),
    "UpdateFirmware": (_CS, "FirmwareManagement"),
    # Local Auth List Management
    "GetLocalListVersion": (_CS, "LocalAuthListManagement"),
    "SendLocalList": (_CS, "LocalAuthListManagement"),
    # Reservation
    "CancelReservation": (_CS, "Reservation"),
    "ReserveNow": (_CS, "Reservation"),
    # Smart Charging
    "ClearChargingProfile": (_CS, "SmartCharging"),
    "GetCompositeSchedule": (_CS, "SmartCharging"),
    "SetChargingProfile": (_CS, "SmartCharging"),
    # Remote Trigger
    "TriggerMessage": (_CS, "RemoteTrigger"),
    # Security extension
    "CertificateSigned": (_CS, "Security"),
    "DeleteCertificate": (_CS, "Security"),
    "ExtendedTriggerMessage": (_CS, "Security"),
    "GetInstalledCertificateIds": (_CS, "Security"),
    "GetLog": (_CS, "Security"),
    "InstallCertificate": (_CS, "Security"),
    "LogStatusNotification": (_CP, "Security"),
    "SecurityEventNotification": (_CP, "Security"),
    "SignCertificate": (_CP, "Security"),
    "SignedFirmwareStatusNotification": (_CP, "Security"),
    "SignedUpdateFirmware": (_CS, "Security"),
}

# Transaction-related messages: queued offline, retried, delivered in order ([SPEC] §3.7, [ERRATA] 3.15)
TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})


def is_known(action: str) -> bool:
    return action in ACTIONS


def sent_by_csms(action: str) -> bool:
    d = ACTIONS.get(action)
    return d is not None and d[0] in (_CS, Direction.BOTH)


def sent_by_cp(action: str) -> bool:
    d = ACTIONS.get(action)
    return d is not None and d[0] in (_CP, Direction.BOTH)

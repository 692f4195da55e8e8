"""Events from the hardware and the runtime into the core (past tense: what happened)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CablePlugged:
    connector_id: int  # cable inserted at both ends (EV connected)


@dataclass(frozen=True, slots=True)
class CableUnplugged:
    connector_id: int
    side: str = "both"  # "ev" | "station" | "both"


@dataclass(frozen=True, slots=True)
class CardPresented:
    id_tag: str  # as read by the RFID reader
    connector_id: int | None = None  # the connector the reader belongs to, if known


@dataclass(frozen=True, slots=True)
class EVStateChanged:
    connector_id: int
    charging: bool  # True: the EV draws power; False: the EV pauses (SuspendedEV)
    power_w: float | None = None  # what the EV would draw when charging


@dataclass(frozen=True, slots=True)
class FaultDetected:
    connector_id: int  # 0 = the charge point as a whole
    error_code: str  # ChargePointErrorCode, e.g. "GroundFailure"
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class FaultCleared:
    connector_id: int


@dataclass(frozen=True, slots=True)
class FirmwareDownloaded:
    job: str  # the DownloadFirmware command's job
    ok: bool  # the whole file is in data_dir
    error: str | None = None  # why not, for the log


@dataclass(frozen=True, slots=True)
class FirmwareInstalled:
    job: str  # the InstallFirmware command's job
    ok: bool  # the installer accepted the image
    version: str | None = None  # the new firmwareVersion, when the installer knows it
    error: str | None = None  # why not, for the log


@dataclass(frozen=True, slots=True)
class FirmwareVerified:
    job: str  # the VerifyFirmware command's job
    ok: bool  # the signature verifies with the signing certificate's key
    error: str | None = None  # why not, for the log and the security event


@dataclass(frozen=True, slots=True)
class DiagnosticsUploaded:
    job: str  # the UploadDiagnostics command's job
    ok: bool  # the archive is at the location
    error: str | None = None  # why not, for the log


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """An attempt to open the link to the CSMS failed (reported by the runtime, not hardware)."""

    cause: str  # "auth" (HTTP 401/403), "certificate" (the CSMS's TLS certificate was refused),
    #             "tls_version", "cipher", "tls" (another TLS failure), "network" (anything else)
    detail: str = ""  # what the runtime knows, one line (never a secret)


Event = (
    CablePlugged | CableUnplugged | CardPresented | EVStateChanged | FaultDetected | FaultCleared
    | FirmwareDownloaded | FirmwareInstalled | FirmwareVerified | DiagnosticsUploaded | ConnectFailed
)

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


@dataclass(frozen=True, slots=True)
class DownloadFirmware:
    job: str  # names the transfer; the FirmwareDownloaded event carries it back
    location: str  # the UpdateFirmware location (ftp, ftps, http or https URL)
    resume: bool = False  # a partial file of this job may be there (after a restart): continue it


@dataclass(frozen=True, slots=True)
class InstallFirmware:
    job: str  # the downloaded file of this job; the FirmwareInstalled event carries the result


@dataclass(frozen=True, slots=True)
class DiscardFirmware:
    job: str  # the job is over: its files (partial or complete) may go


@dataclass(frozen=True, slots=True)
class UploadDiagnostics:
    job: str  # names the transfer; the DiagnosticsUploaded event carries it back
    location: str  # the GetDiagnostics location: a directory URL
    file_name: str  # the archive's name, as given in GetDiagnostics.conf
    start_time: float | None = None  # wall-clock epoch seconds: log lines from then on (None: all)
    stop_time: float | None = None  # and up to then (None: up to now)
    log_type: str = "DiagnosticsLog"  # "DiagnosticsLog": the diagnostics archive; "SecurityLog": the security log


@dataclass(frozen=True, slots=True)
class VerifyFirmware:
    job: str  # the downloaded file of this job; the FirmwareVerified event carries the result
    certificate: str  # PEM: the signing certificate (checked against the ManufacturerRootCertificates already)
    signature: str  # base64: the signature over the whole file, SHA-256


Command = (
    SetPingInterval | Reboot | Reconnect | DownloadFirmware | InstallFirmware | DiscardFirmware | UploadDiagnostics
    | VerifyFirmware
)

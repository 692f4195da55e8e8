"""The station's fixed settings (identity, boot data, hardware shape): what the config file gives the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class SecuritySettings:
    """The ``[security]`` table: the 1.6 security extension's initial profile and its files (docs/security.md).

    A path of None keeps that item in memory only (tests, the fleet); ``run`` fills every path in, by default
    under ``<data_dir>/security/``."""

    profile: int = 0  # initial SecurityProfile (a value the CSMS raised later, kept in the store, wins)
    csms_root_ca: Path | None = None  # PEM bundle: the installed CentralSystemRootCertificates
    manufacturer_root_ca: Path | None = None  # PEM bundle: the installed ManufacturerRootCertificates
    cert: Path | None = None  # PEM: the station's certificate (leaf first, then its sub-CAs), profile 3
    key: Path | None = None  # PEM: the station's private key (mode 0600), profile 3
    log: Path | None = None  # the security log (one line per security event)
    # L01.FR.20: a station with secure firmware update answers the legacy UpdateFirmware NotSupported; true keeps
    # it working (a build certified for TC_044_x instead of TC_080/081, digest §10 item 23)
    legacy_update_firmware: bool = False


@dataclass(slots=True)
class StationSettings:
    identity: str = "CP001"  # charge point identity, appended to the CSMS URL
    vendor: str = "CROCUS INC"  # BootNotification.chargePointVendor (<= 20)
    model: str = "AE100K-C1XS-MO-1C"  # BootNotification.chargePointModel (<= 20)
    serial_number: str | None = None  # chargePointSerialNumber (<= 25)
    firmware_version: str | None = "ocpp-station 0.1.0"  # firmwareVersion (<= 50)
    connectors: int = 1  # physical connectors (NumberOfConnectors)
    fixed_cable: bool = True  # True: UnlockConnector answers NotSupported
    connector_lock: bool = False  # a lock exists (sockets without fixed cable)
    ocpp: dict[str, str] = field(default_factory=dict)  # initial OCPP key values ([ocpp] table)
    boot_retry_interval: int = 30  # s before a new BootNotification when the CSMS gives interval 0 or fails
    max_frame_bytes: int = 512 * 1024  # frames above this are refused unparsed
    profiles: tuple[str, ...] | None = None  # OCPP feature profiles ([station] profiles); None = all implemented
    voltage: float = 230.0  # V, nominal phase-to-neutral voltage ([hardware] voltage): A <-> W of charging limits
    max_current: float = 32.0  # A per phase a connector can deliver ([hardware] max_current)
    meter_save_interval: float = 5.0  # s between saves of a running transaction's energy register (power-cut bound)
    security: SecuritySettings | None = None  # the security extension ([security]); None = not part of this station

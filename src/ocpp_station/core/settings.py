"""The station's fixed settings (identity, boot data, hardware shape): what the config file gives the core."""

from __future__ import annotations

from dataclasses import dataclass, field


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

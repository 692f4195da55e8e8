"""The Core profile's configuration keys ([SPEC] §9.1 with [ERRATA]; spec §2.4).

Defaults are the configuration table of the certified station
(docs/seed-station.md), read as docs/configuration.md says where that table
is damaged; the key table there is generated from this registry.
R/RW flags follow spec §2.4 (what OCTT TC_019 checks).
"""

from __future__ import annotations

from .configuration import KeySpec

# [SPEC] §9.1.7: ConnectorPhaseRotation values
PHASE_ROTATIONS = frozenset({"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"})


def _phase_rotation_item(item: str) -> bool:
    # "RST" (whole station) or "<connector>.<rotation>", e.g. "0.RST", "1.RTS"
    if "." in item:
        n, _, rot = item.partition(".")
        return n.isdigit() and rot in PHASE_ROTATIONS
    return item in PHASE_ROTATIONS


def authorization_key_ok(text: str) -> bool:
    """AuthorizationKey: 16 to 20 bytes ([SEC] A00.FR.205/304) written as hex, at most 40 hex digits
    ([JERRATA] 3.12), so 32 to 40 hex digits, an even number."""
    return 32 <= len(text) <= 40 and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)


def core_keys(
    *,
    connectors: int,
    fixed_cable: bool,
    measurand_ok,
    feature_profiles: str,
) -> list[KeySpec]:
    """Key specs of the Core profile for a station of this shape.

    ``measurand_ok(item)`` says whether the meter can report a measurand
    (e.g. "Energy.Active.Import.Register", "Voltage.L1"); a *Data list with any
    other item is Rejected as a whole ([SPEC] §3.16.4, [ERRATA] 3.13).
    """
    measurands = dict(kind="csl", item_check=measurand_ok)
    return [
        KeySpec("AllowOfflineTxForUnknownId", "bool", "true"),
        KeySpec("AuthorizationCacheEnabled", "bool", "true"),
        KeySpec("AuthorizeRemoteTxRequests", "bool", "true"),
        KeySpec("BlinkRepeat", "int", "5", minimum=0),
        KeySpec("ClockAlignedDataInterval", "int", "0", minimum=0),
        KeySpec("ConnectionTimeOut", "int", "60", minimum=0),
        KeySpec("ConnectorPhaseRotation", "csl", "RST", item_check=_phase_rotation_item),
        KeySpec("ConnectorPhaseRotationMaxLength", "int", "1", readonly=True),
        KeySpec("GetConfigurationMaxKeys", "int", "19", readonly=True, minimum=1),
        KeySpec("HeartbeatInterval", "int", "10", minimum=0),
        KeySpec("LightIntensity", "int", "0", minimum=0, maximum=100),
        KeySpec("LocalAuthorizeOffline", "bool", "true"),
        KeySpec("LocalPreAuthorize", "bool", "false"),
        KeySpec("MaxEnergyOnInvalidId", "int", "0", minimum=0),
        KeySpec("MessageTimeout", "int", "30", minimum=1),  # [ERRATA] 3.83
        KeySpec("MeterValuesAlignedData", default="Energy.Active.Import.Register", max_items=10, **measurands),
        KeySpec("MeterValuesAlignedDataMaxLength", "int", "10", readonly=True),
        KeySpec("MeterValuesSampledData", default="Energy.Active.Import.Register", max_items=10, **measurands),
        KeySpec("MeterValuesSampledDataMaxLength", "int", "10", readonly=True),
        KeySpec("MeterValueSampleInterval", "int", "20", minimum=0),
        KeySpec("MinimumStatusDuration", "int", "0", minimum=0),
        KeySpec("NumberOfConnectors", "int", str(connectors), readonly=True),
        KeySpec("ResetRetries", "int", "3", minimum=0),
        KeySpec("StopTransactionMaxMeterValues", "int", "500", readonly=True, minimum=2),  # [ERRATA] 3.91
        KeySpec("StopTransactionOnEVSideDisconnect", "bool", "false"),
        KeySpec("StopTransactionOnInvalidId", "bool", "false"),
        KeySpec("StopTxnAlignedData", default="Energy.Active.Import.Register", max_items=10, **measurands),
        KeySpec("StopTxnAlignedDataMaxLength", "int", "10", readonly=True),
        KeySpec("StopTxnSampledData", default="Energy.Active.Import.Register", max_items=10, **measurands),
        KeySpec("StopTxnSampledDataMaxLength", "int", "10", readonly=True),
        KeySpec("SupportedFeatureProfiles", "csl", feature_profiles, readonly=True),
        KeySpec("SupportedFeatureProfilesMaxLength", "int", "10", readonly=True),
        KeySpec("TransactionMessageAttempts", "int", "3", minimum=1),
        KeySpec("TransactionMessageRetryInterval", "int", "60", minimum=0),
        # [ERRATA] 3.84/3.85: R or RW; with a fixed cable always false and not changeable
        KeySpec("UnlockConnectorOnEVSideDisconnect", "bool", "false", readonly=fixed_cable),
        KeySpec("WebSocketPingInterval", "int", "10", minimum=0),  # [JERRATA] 3.11: negative -> Rejected
        KeySpec("AuthorizationKey", "str", "", check=authorization_key_ok, write_only=True),  # [OCPPJ] §6.2.2
    ]

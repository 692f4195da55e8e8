"""Feature modules, one per concern of an OCPP 1.6 feature profile.

Which profiles a station has is configuration (``[station] profiles``):
:func:`features_for` turns the list into the feature classes, in hook order.
"""

from __future__ import annotations

# [SPEC] §3.3, §9.1.29: the profile names SupportedFeatureProfiles uses, in the spec's order
PROFILE_NAMES = (
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)


def _core() -> list[type]:
    from .core.authorization import Authorization
    from .core.availability import Availability
    from .core.boot import Boot
    from .core.configuration import ConfigurationFeature
    from .core.data_transfer import DataTransfer
    from .core.heartbeat import Heartbeat
    from .core.metering import Metering
    from .core.remote import Remote
    from .core.reset import Reset
    from .core.status import StatusReporting
    from .core.transactions import Transactions
    from .core.unlock import Unlock

    return [
        StatusReporting,
        Boot,
        Heartbeat,
        ConfigurationFeature,
        DataTransfer,
        Authorization,
        Transactions,
        Metering,
        Availability,
        Remote,
        Unlock,
        Reset,
    ]


def _firmware() -> list[type]:
    from .diagnostics import Diagnostics
    from .firmware import Firmware

    return [Firmware, Diagnostics]


def _local_auth_list() -> list[type]:
    from .local_list import LocalAuthList

    return [LocalAuthList]


def _reservation() -> list[type]:
    from .reservation import Reservations

    return [Reservations]


def _smart_charging() -> list[type]:
    from .smart_charging import SmartCharging

    return [SmartCharging]


def _remote_trigger() -> list[type]:
    from .trigger import RemoteTrigger

    return [RemoteTrigger]


# profile -> its feature classes (hook order within the profile); a profile not here is not implemented yet
_PROFILES = {
    "Core": _core,
    "FirmwareManagement": _firmware,
    "LocalAuthListManagement": _local_auth_list,
    "Reservation": _reservation,
    "SmartCharging": _smart_charging,
    "RemoteTrigger": _remote_trigger,
}


def implemented_profiles() -> list[str]:
    """The profiles the code implements, in the spec's order: the default of ``[station] profiles``."""
    return [p for p in PROFILE_NAMES if p in _PROFILES]


def features_for(profiles: list[str] | tuple[str, ...] | None = None) -> list[type]:
    """The feature classes of a station with ``profiles`` (None: every implemented profile), in hook order."""
    chosen = implemented_profiles() if profiles is None else [p for p in PROFILE_NAMES if p in profiles]
    unknown = set(profiles or ()) - set(_PROFILES)
    if unknown:
        raise ValueError(f"feature profile not implemented: {', '.join(sorted(unknown))}")
    if "Core" not in chosen:
        raise ValueError('a station needs the "Core" profile')
    classes: list[type] = []
    for p in chosen:
        classes += _PROFILES[p]()
    if "LocalAuthListManagement" not in chosen:
        from .local_list import LocalListAbsent

        classes.append(LocalListAbsent)
    if "Reservation" not in chosen:
        from .reservation import ReservationAbsent

        classes.append(ReservationAbsent)
    return classes


def default_features() -> list[type]:
    """The features of a station with every implemented profile, in hook order."""
    return features_for(None)

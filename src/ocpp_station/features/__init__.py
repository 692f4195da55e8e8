"""Feature modules, one per concern of an OCPP 1.6 feature profile."""

from __future__ import annotations


def default_features() -> list[type]:
    """The features of a station, in hook order."""
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

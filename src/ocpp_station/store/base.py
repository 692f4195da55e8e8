"""The Store protocol.

Namespaces used by the station (each owned by one module):

=================  ===========================================  =======================
namespace          key -> value                                 owner
=================  ===========================================  =======================
config             OCPP key -> value string (CSMS changes)      core.configuration
availability       connector id -> "Operative"/"Inoperative"    features.availability
auth_cache         idTag (upper case) -> IdTagInfo              features.authorization
transactions       local tx id -> open transaction record       features.transactions
finishing          connector id -> True (session ended, cable   features.transactions
                   still in: Finishing after a reboot)
registration       "acceptedOnce" -> True (ever Accepted)       features.boot
charging_profiles  chargingProfileId -> {connectorId,           features.smart_charging
                   profile, received, tx}
firmware           "job" -> the update under way;               features.firmware
                   "version" -> the version it installed
diagnostics        "job" -> the upload under way                features.diagnostics
meta               name -> value                                core.station
=================  ===========================================  =======================

Queues (ordered by an increasing sequence number): ``outbox`` holds the
transaction-related messages not yet acknowledged by the CSMS.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol


class Store(Protocol):
    durable: bool  # True when writes survive a power cut

    def get(self, ns: str, key: str) -> Any | None: ...

    def put(self, ns: str, key: str, value: Any) -> None: ...

    def delete(self, ns: str, key: str) -> None: ...

    def items(self, ns: str) -> dict[str, Any]: ...

    def clear(self, ns: str) -> None: ...

    def queue_append(self, queue: str, value: Any) -> int: ...

    def queue_items(self, queue: str) -> list[tuple[int, Any]]: ...

    def queue_update(self, queue: str, seq: int, value: Any) -> None: ...

    def queue_delete(self, queue: str, seq: int) -> None: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group writes into one atomic commit (one fsync)."""
        ...

    def close(self) -> None: ...

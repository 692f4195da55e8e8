"""CSMS faults of a fleet scenario ([csms] error_rate / silence_rate), drawn from the seed.

The builtin CSMS (:mod:`.csms_main`) applies them; each fleet worker keeps a twin fed with the CALLs its
stations send, so that virtual time does not wait for an answer that will not come.
"""

from __future__ import annotations

import hashlib
from typing import Any

FAULT_DESCRIPTION = "fault injected by the fleet scenario (csms.error_rate)"  # errorDescription of its CALLERRORs


class CsmsFaults:
    """Which CALLs the builtin CSMS answers with CALLERROR InternalError ("error") or not at all ("silence").

    The draw is a hash of ``"<seed>/<identity>/<messageId>"``: it does not depend on when or in which
    order the CSMS reads the stations' frames. A message id is faulted at most once: a transaction
    message the station retries with the same id ([SPEC] §3.7.1: TransactionMessageAttempts,
    TransactionMessageRetryInterval) is answered the next time, so every transaction gets through.
    The fleet keeps a twin of this state per worker, fed with the CALLs its stations send, to know
    which CALLs will stay unanswered (virtual time does not wait for those)."""

    def __init__(self, seed: Any, error_rate: float, silence_rate: float) -> None:
        self.seed = seed
        self.error_rate = error_rate
        self.silence_rate = silence_rate
        self._faulted: dict[str, set[str]] = {}  # identity -> message ids already faulted once

    def __bool__(self) -> bool:
        return self.error_rate > 0 or self.silence_rate > 0

    def draw(self, identity: str, unique_id: str) -> float:
        h = hashlib.blake2b(f"{self.seed}/{identity}/{unique_id}".encode(), digest_size=8).digest()
        return int.from_bytes(h, "big") / 2.0**64

    def decide(self, identity: str, unique_id: str) -> str | None:
        """The fault for this CALL ("error", "silence" or None); call once per CALL received."""
        done = self._faulted.get(identity)
        if done is not None and unique_id in done:
            return None
        u = self.draw(identity, unique_id)
        fault = "error" if u < self.error_rate else "silence" if u < self.error_rate + self.silence_rate else None
        if fault is not None:
            self._faulted.setdefault(identity, set()).add(unique_id)
        return fault

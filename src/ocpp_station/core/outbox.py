"""What we send next, and the persisted queue of transaction-related messages ([SPEC] §3.7, §4.7-4.10).

Two queues feed the one-CALL-at-a-time session:

* ``requests``: messages that need not survive a restart (StatusNotification,
  Authorize, Heartbeat, DataTransfer...). In memory. They go first: the spec
  lets non-transaction messages overtake the transaction queue ([SPEC] §3.7).
* the transaction-message queue (StartTransaction, MeterValues,
  StopTransaction): each message is written to the store *before* anything
  that depends on it is acknowledged, delivered in order, kept while offline
  (being offline never counts as an attempt), retried after a CALLERROR or a
  timeout TransactionMessageRetryInterval × n later, and dropped after
  TransactionMessageAttempts failures ([SPEC] §3.7.1, [JERRATA] 3.3).
  A message keeps its message id across retries.

A request may be *held* (``Request.hold``): it stays in its queue, overtaken
by what follows, while its hold says so. StatusNotification uses it to wait
for the StopTransaction of its connector (features.core.status).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..store.base import Store

log = logging.getLogger(__name__)

QUEUE = "outbox"


@dataclass(slots=True)
class Request:
    action: str  # e.g. "StatusNotification"
    payload: dict[str, Any]  # the request payload
    on_answer: Callable[[dict[str, Any], float], None] | None = None  # CALLRESULT payload, now
    on_failure: Callable[[Any, float], None] | None = None  # CallError or None (timeout / link lost), now
    allowed_before_accepted: bool = False  # BootNotification, or a message triggered while Pending
    hold: Callable[[], bool] | None = None  # not sent while this returns True


@dataclass(slots=True)
class TxMessage:
    seq: int  # store sequence number: the queue order
    unique_id: str  # message id, kept across retries
    action: str  # StartTransaction | MeterValues | StopTransaction
    payload: dict[str, Any]
    tx: str  # local transaction id the message belongs to
    connector_id: int | None = None  # the transaction's connector (None in records written before it was kept)
    attempts: int = 0  # failed attempts so far (CALLERROR / timeout while connected)
    not_before: float = 0.0  # `now` before which it is not retried

    def record(self) -> dict[str, Any]:
        return {
            "unique_id": self.unique_id,
            "action": self.action,
            "payload": self.payload,
            "tx": self.tx,
            "connector_id": self.connector_id,
            "attempts": self.attempts,
            "not_before": self.not_before,
        }


@dataclass(slots=True)
class TxHandlers:
    on_answer: Callable[[TxMessage, dict[str, Any], float], None]
    on_dropped: Callable[[TxMessage, float], None] = lambda m, now: None


class TransactionQueue:
    def __init__(self, store: Store) -> None:
        self._store = store  # persists every message before append() returns
        self._queue: deque[TxMessage] = deque(  # in order of seq
            TxMessage(seq, **rec) for seq, rec in store.queue_items(QUEUE)
        )
        self.handlers: dict[str, TxHandlers] = {}  # action -> what to do with its answers
        self.dropped = 0  # messages given up after TransactionMessageAttempts

    def __len__(self) -> int:
        return len(self._queue)

    def __iter__(self):
        return iter(self._queue)

    def append(
        self, unique_id: str, action: str, payload: dict[str, Any], tx: str, connector_id: int | None = None
    ) -> TxMessage:
        msg = TxMessage(0, unique_id, action, payload, tx, connector_id)
        msg.seq = self._store.queue_append(QUEUE, msg.record())
        self._queue.append(msg)
        return msg

    def head(self, now: float) -> TxMessage | None:
        if self._queue and self._queue[0].not_before <= now:
            return self._queue[0]
        return None

    def stop_pending(self, connector_id: int) -> bool:
        """A StopTransaction of a transaction on this connector (or on an unknown one) is still queued."""
        return any(m.action == "StopTransaction" and m.connector_id in (connector_id, None) for m in self._queue)

    def next_retry(self) -> float | None:
        if self._queue and self._queue[0].not_before > 0:
            return self._queue[0].not_before
        return None

    def answered(self, msg: TxMessage, payload: dict[str, Any], now: float) -> None:
        # one commit: a power cut can never leave the message gone but its effect (e.g. the
        # transactionId on the open transaction and on later queued messages) unwritten
        with self._store.batch():
            self._remove(msg)
            h = self.handlers.get(msg.action)
            if h:
                h.on_answer(msg, payload, now)

    def failed(self, msg: TxMessage, now: float, max_attempts: int, retry_interval: int) -> bool:
        """Count a failed attempt; returns True when the message was dropped."""
        msg.attempts += 1
        if msg.attempts >= max_attempts:
            log.warning("%s %s dropped after %d attempts", msg.action, msg.unique_id, msg.attempts)
            with self._store.batch():
                self._remove(msg)
                self.dropped += 1
                h = self.handlers.get(msg.action)
                if h:
                    h.on_dropped(msg, now)
            return True
        msg.not_before = now + retry_interval * msg.attempts  # interval × n
        self._store.queue_update(QUEUE, msg.seq, msg.record())
        return False

    def update_payloads(self, tx: str, patch: Callable[[TxMessage], bool]) -> None:
        """Rewrite queued messages of transaction ``tx`` (e.g. to fill in the transactionId)."""
        for msg in self._queue:
            if msg.tx == tx and patch(msg):
                self._store.queue_update(QUEUE, msg.seq, msg.record())

    def _remove(self, msg: TxMessage) -> None:
        try:
            self._queue.remove(msg)
        except ValueError:
            pass
        self._store.queue_delete(QUEUE, msg.seq)


@dataclass(slots=True)
class Requests:
    """The in-memory queue of non-transaction messages."""

    items: deque[Request] = field(default_factory=deque)

    def append(self, req: Request) -> None:
        self.items.append(req)

    def discard(self, predicate: Callable[[Request], bool]) -> list[Request]:
        gone = [r for r in self.items if predicate(r)]
        self.items = deque(r for r in self.items if not predicate(r))
        return gone

    def pop(self, accepted: bool) -> Request | None:
        for r in self.items:
            if (accepted or r.allowed_before_accepted) and (r.hold is None or not r.hold()):
                self.items.remove(r)
                return r
        return None

"""In-memory Store: the simulator's and the unit tests' store (nothing survives the process)."""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterator


class MemoryStore:
    durable = False

    def __init__(self) -> None:
        self._kv: dict[str, dict[str, Any]] = {}  # namespace -> key -> value
        self._queues: dict[str, dict[int, Any]] = {}  # queue -> seq -> value (insertion ordered)
        self._seq = 0  # last sequence number handed out
        self._in_batch = False  # True while inside batch()

    def get(self, ns: str, key: str) -> Any | None:
        v = self._kv.get(ns, {}).get(key)
        return copy.deepcopy(v) if isinstance(v, (dict, list)) else v

    def put(self, ns: str, key: str, value: Any) -> None:
        self._kv.setdefault(ns, {})[key] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    def delete(self, ns: str, key: str) -> None:
        self._kv.get(ns, {}).pop(key, None)

    def items(self, ns: str) -> dict[str, Any]:
        return copy.deepcopy(self._kv.get(ns, {}))

    def clear(self, ns: str) -> None:
        self._kv.pop(ns, None)

    def queue_append(self, queue: str, value: Any) -> int:
        self._seq += 1
        self._queues.setdefault(queue, {})[self._seq] = copy.deepcopy(value)
        return self._seq

    def queue_items(self, queue: str) -> list[tuple[int, Any]]:
        return [(s, copy.deepcopy(v)) for s, v in self._queues.get(queue, {}).items()]

    def queue_update(self, queue: str, seq: int, value: Any) -> None:
        q = self._queues.get(queue, {})
        if seq in q:
            q[seq] = copy.deepcopy(value)

    def queue_delete(self, queue: str, seq: int) -> None:
        self._queues.get(queue, {}).pop(seq, None)

    @contextmanager
    def batch(self) -> Iterator[None]:
        # all-or-nothing like SqliteStore.batch: an exception undoes every write since the outermost batch began
        if self._in_batch:
            yield
            return
        snapshot = (copy.deepcopy(self._kv), copy.deepcopy(self._queues), self._seq)
        self._in_batch = True
        try:
            yield
        except BaseException:
            self._kv, self._queues, self._seq = snapshot
            raise
        finally:
            self._in_batch = False

    def close(self) -> None:
        pass

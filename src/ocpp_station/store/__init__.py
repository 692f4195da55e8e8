"""Persistence: a small namespaced key-value store plus ordered queues.

``Store`` is the protocol the core writes through (synchronously: a write has
returned before the core acknowledges anything that depends on it). Two
implementations: :class:`~.sqlite.SqliteStore` (a file under ``data_dir``)
and :class:`~.memory.MemoryStore` (simulator and unit tests).
"""

from .base import Store
from .memory import MemoryStore

__all__ = ["Store", "MemoryStore"]

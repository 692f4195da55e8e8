"""SQLite Store under ``data_dir`` (stdlib sqlite3).

Durability: the database runs in WAL mode with ``synchronous=FULL``, so every
commit is fsynced before ``put``/``queue_append`` returns; a power cut after
that loses nothing. Writes inside :meth:`batch` share one commit.
Schema changes go through :data:`MIGRATIONS`; ``PRAGMA user_version`` holds
the applied version.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import orjson

DB_NAME = "station.sqlite"

# version n is reached by running MIGRATIONS[n - 1]
MIGRATIONS: list[str] = [
    # 1: namespaced key-value rows and ordered queues
    """
    CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key));
    CREATE TABLE queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, value BLOB NOT NULL);
    CREATE INDEX queue_name ON queue (name, seq);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreVersionError(RuntimeError):
    pass


class SqliteStore:
    durable = True

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / DB_NAME  # the database file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._batch_depth = 0  # > 0 while inside batch()
        try:
            self._migrate()
        except BaseException:
            self._db.close()  # the caller gets no handle to close it
            raise

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: schema version {version} is newer than this program's {SCHEMA_VERSION}"
            )
        for n in range(version, SCHEMA_VERSION):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in filter(None, (s.strip() for s in MIGRATIONS[n].split(";"))):
                    self._db.execute(stmt)
                self._db.execute(f"PRAGMA user_version={n + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    # -- writes go through here so a batch shares one commit -------------------------

    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        if self._batch_depth:
            return self._db.execute(sql, args)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cur = self._db.execute(sql, args)
            self._db.execute("COMMIT")
            return cur
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self._batch_depth:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._batch_depth = 1
        try:
            yield
        except BaseException:
            self._batch_depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._batch_depth = 0
        self._db.execute("COMMIT")

    # -- key-value ---------------------------------------------------------------------

    def get(self, ns: str, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM kv WHERE ns=? AND key=?", (ns, key)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, ns: str, key: str, value: Any) -> None:
        self._write(
            "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
            (ns, key, orjson.dumps(value)),
        )

    def delete(self, ns: str, key: str) -> None:
        self._write("DELETE FROM kv WHERE ns=? AND key=?", (ns, key))

    def items(self, ns: str) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM kv WHERE ns=? ORDER BY key", (ns,)).fetchall()
        return {k: orjson.loads(v) for k, v in rows}

    def clear(self, ns: str) -> None:
        self._write("DELETE FROM kv WHERE ns=?", (ns,))

    # -- queues ------------------------------------------------------------------------

    def queue_append(self, queue: str, value: Any) -> int:
        cur = self._write("INSERT INTO queue (name, value) VALUES (?, ?)", (queue, orjson.dumps(value)))
        return int(cur.lastrowid)

    def queue_items(self, queue: str) -> list[tuple[int, Any]]:
        rows = self._db.execute("SELECT seq, value FROM queue WHERE name=? ORDER BY seq", (queue,)).fetchall()
        return [(s, orjson.loads(v)) for s, v in rows]

    def queue_update(self, queue: str, seq: int, value: Any) -> None:
        self._write("UPDATE queue SET value=? WHERE name=? AND seq=?", (orjson.dumps(value), queue, seq))

    def queue_delete(self, queue: str, seq: int) -> None:
        self._write("DELETE FROM queue WHERE name=? AND seq=?", (queue, seq))

    def close(self) -> None:
        self._db.close()

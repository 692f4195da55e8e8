"""store: one contract, two implementations (MemoryStore, SqliteStore)."""

from __future__ import annotations

import sqlite3

import pytest

from ocpp_station.store import MemoryStore, Store
from ocpp_station.store.sqlite import DB_NAME, MIGRATIONS, SCHEMA_VERSION, SqliteStore, StoreVersionError


class Boom(Exception):
    pass


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path):
    s = SqliteStore(tmp_path)
    yield s
    s.close()


# -- contract, both implementations ----------------------------------------------------------


def test_durable_flag(store):
    assert store.durable is isinstance(store, SqliteStore)
    s: Store = store  # satisfies the protocol (static check; runtime no-op)
    assert s is store


def test_get_missing_is_none(store):
    assert store.get("config", "nope") is None
    assert store.items("config") == {}


def test_put_get_overwrite_per_namespace(store):
    store.put("config", "HeartbeatInterval", "60")
    store.put("meta", "HeartbeatInterval", 7)
    assert store.get("config", "HeartbeatInterval") == "60"
    assert store.get("meta", "HeartbeatInterval") == 7
    store.put("config", "HeartbeatInterval", "120")
    assert store.get("config", "HeartbeatInterval") == "120"
    assert store.get("meta", "HeartbeatInterval") == 7


@pytest.mark.parametrize(
    "value",
    ["text", "", 0, -3, 1.5, True, False, [1, "a", None], {"idTagInfo": {"status": "Accepted", "expiryDate": None}}, {}, []],
)
def test_values_round_trip(store, value):
    store.put("auth_cache", "TAG", value)
    got = store.get("auth_cache", "TAG")
    assert got == value and type(got) is type(value)


def test_stored_values_are_copies(store):
    v = {"a": [1]}
    store.put("transactions", "1", v)
    v["a"].append(2)
    got = store.get("transactions", "1")
    assert got == {"a": [1]}
    got["a"].append(3)
    assert store.get("transactions", "1") == {"a": [1]}
    store.items("transactions")["1"]["a"].append(4)
    assert store.get("transactions", "1") == {"a": [1]}


def test_delete(store):
    store.put("availability", "1", "Inoperative")
    store.put("availability", "2", "Operative")
    store.delete("availability", "1")
    assert store.get("availability", "1") is None
    assert store.items("availability") == {"2": "Operative"}
    store.delete("availability", "1")  # deleting a missing key is a no-op
    store.delete("nowhere", "x")
    assert store.items("availability") == {"2": "Operative"}


def test_items_and_clear_per_namespace(store):
    store.put("config", "A", "1")
    store.put("config", "B", "2")
    store.put("meta", "A", "m")
    assert store.items("config") == {"A": "1", "B": "2"}
    assert store.items("meta") == {"A": "m"}
    store.clear("config")
    assert store.items("config") == {}
    assert store.get("config", "A") is None
    assert store.items("meta") == {"A": "m"}
    store.clear("never-used")
    store.put("config", "C", "3")
    assert store.items("config") == {"C": "3"}


def test_queue_append_increasing_seq_and_order(store):
    seqs = [store.queue_append("outbox", {"n": n}) for n in range(5)]
    assert all(isinstance(s, int) for s in seqs)
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert store.queue_items("outbox") == [(s, {"n": n}) for n, s in enumerate(seqs)]
    assert store.queue_items("other") == []


def test_queues_are_separate(store):
    a1 = store.queue_append("outbox", "a1")
    b1 = store.queue_append("other", "b1")
    a2 = store.queue_append("outbox", "a2")
    assert a1 < b1 < a2
    assert store.queue_items("outbox") == [(a1, "a1"), (a2, "a2")]
    assert store.queue_items("other") == [(b1, "b1")]
    store.queue_delete("other", a1)  # wrong queue: no effect
    store.queue_update("other", a2, "x")
    assert store.queue_items("outbox") == [(a1, "a1"), (a2, "a2")]


def test_queue_update_and_delete(store):
    s1 = store.queue_append("outbox", {"action": "StartTransaction", "attempts": 0})
    s2 = store.queue_append("outbox", {"action": "MeterValues", "attempts": 0})
    s3 = store.queue_append("outbox", {"action": "StopTransaction", "attempts": 0})
    store.queue_update("outbox", s2, {"action": "MeterValues", "attempts": 1})
    assert store.queue_items("outbox") == [
        (s1, {"action": "StartTransaction", "attempts": 0}),
        (s2, {"action": "MeterValues", "attempts": 1}),
        (s3, {"action": "StopTransaction", "attempts": 0}),
    ]  # update keeps the position
    store.queue_delete("outbox", s1)
    store.queue_delete("outbox", s1)  # twice: no-op
    store.queue_update("outbox", 10_000, "ghost")  # missing seq: no-op, not an insert
    assert [s for s, _ in store.queue_items("outbox")] == [s2, s3]
    s4 = store.queue_append("outbox", "later")
    assert s4 > s3  # seq never goes back, even after deletes
    store.queue_delete("outbox", s4)
    assert store.queue_append("outbox", "again") > s4


def test_batch_commits_all_writes(store):
    with store.batch():
        store.put("transactions", "1", {"meterStart": 10})
        seq = store.queue_append("outbox", {"action": "StartTransaction"})
        store.put("meta", "last", 1)
        assert store.get("transactions", "1") == {"meterStart": 10}  # visible inside the batch
    assert store.get("transactions", "1") == {"meterStart": 10}
    assert store.queue_items("outbox") == [(seq, {"action": "StartTransaction"})]
    assert store.get("meta", "last") == 1


def test_batch_rolls_back_on_exception(store):
    store.put("config", "keep", "1")
    s0 = store.queue_append("outbox", "before")
    with pytest.raises(Boom):
        with store.batch():
            store.put("config", "keep", "changed")
            store.put("config", "new", "2")
            store.delete("config", "keep")
            store.queue_append("outbox", "inside")
            store.queue_update("outbox", s0, "updated")
            raise Boom()
    assert store.items("config") == {"keep": "1"}
    assert store.queue_items("outbox") == [(s0, "before")]
    # the store is usable afterwards, and writes are not stuck in a transaction
    with store.batch():
        store.put("config", "after", "3")
    s1 = store.queue_append("outbox", "after")
    assert s1 > s0
    if isinstance(store, MemoryStore):
        assert s1 == s0 + 1  # the sequence number handed out inside the batch was taken back too
    assert store.items("config") == {"keep": "1", "after": "3"}


def test_nested_batch_rolls_back_everything(store):
    with pytest.raises(Boom):
        with store.batch():
            store.put("meta", "outer", 1)
            with store.batch():
                store.put("meta", "inner", 2)
                raise Boom()
    assert store.items("meta") == {}
    with store.batch():
        store.put("meta", "outer", 1)
        with store.batch():
            store.put("meta", "inner", 2)
    assert store.items("meta") == {"outer": 1, "inner": 2}


# -- SqliteStore only ------------------------------------------------------------------------


def test_sqlite_batch_writes_nothing_to_disk_on_exception(tmp_path):
    s = SqliteStore(tmp_path)
    try:
        with pytest.raises(Boom):
            with s.batch():
                s.put("config", "k", "v")
                s.queue_append("outbox", 1)
                raise Boom()
    finally:
        s.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    try:
        assert db.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM queue").fetchone()[0] == 0
    finally:
        db.close()


def test_sqlite_batch_is_one_transaction_seen_by_other_connections(tmp_path):
    s = SqliteStore(tmp_path)
    other = sqlite3.connect(tmp_path / DB_NAME)
    try:
        with s.batch():
            s.put("config", "a", "1")
            s.put("config", "b", "2")
            # not committed yet: another connection sees nothing
            assert other.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 0
        assert other.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 2
        # outside a batch every write is committed before it returns
        s.put("config", "c", "3")
        assert other.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 3
    finally:
        other.close()
        s.close()


def test_sqlite_persists_across_close_and_reopen(tmp_path):
    s = SqliteStore(tmp_path)
    s.put("config", "HeartbeatInterval", "60")
    s.put("auth_cache", "TAG", {"status": "Accepted"})
    s1 = s.queue_append("outbox", {"action": "StartTransaction"})
    s2 = s.queue_append("outbox", {"action": "StopTransaction"})
    s.close()

    s = SqliteStore(tmp_path)
    try:
        assert s.get("config", "HeartbeatInterval") == "60"
        assert s.items("auth_cache") == {"TAG": {"status": "Accepted"}}
        assert s.queue_items("outbox") == [(s1, {"action": "StartTransaction"}), (s2, {"action": "StopTransaction"})]
        assert s.queue_append("outbox", "next") > s2
        assert s.schema_version == SCHEMA_VERSION
    finally:
        s.close()


def test_sqlite_creates_data_dir(tmp_path):
    d = tmp_path / "a" / "b"
    s = SqliteStore(d)
    try:
        assert s.path == d / DB_NAME
        assert s.path.is_file()
    finally:
        s.close()


def test_sqlite_wal_and_synchronous_full(sqlite_store, tmp_path):
    assert sqlite_store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL (per connection)
    assert sqlite_store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db = sqlite3.connect(tmp_path / DB_NAME)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    finally:
        db.close()


def test_sqlite_schema_version(sqlite_store, tmp_path):
    assert SCHEMA_VERSION == len(MIGRATIONS)
    assert sqlite_store.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(tmp_path / DB_NAME)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"kv", "queue"} <= tables
    finally:
        db.close()


def test_sqlite_reopen_does_not_rerun_migrations(tmp_path):
    SqliteStore(tmp_path).close()
    s = SqliteStore(tmp_path)  # CREATE TABLE would fail if migration 1 ran again
    try:
        assert s.schema_version == len(MIGRATIONS)
    finally:
        s.close()


def test_sqlite_newer_schema_version_raises(tmp_path):
    SqliteStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreVersionError):
        SqliteStore(tmp_path)
    # the file was left as it was
    db = sqlite3.connect(tmp_path / DB_NAME)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    finally:
        db.close()


def test_sqlite_newer_schema_version_on_fresh_file_raises(tmp_path):
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    with pytest.raises(StoreVersionError):
        SqliteStore(tmp_path)


def test_sqlite_version_error_closes_the_connection(tmp_path, monkeypatch):
    import ocpp_station.store.sqlite as sqlite_mod

    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    opened = []
    real_connect = sqlite3.connect

    def spy(*a, **kw):
        opened.append(real_connect(*a, **kw))
        return opened[-1]

    monkeypatch.setattr(sqlite_mod.sqlite3, "connect", spy)
    with pytest.raises(StoreVersionError):
        SqliteStore(tmp_path)
    assert len(opened) == 1
    with pytest.raises(sqlite3.ProgrammingError):  # closed: the caller had no handle to close it
        opened[0].execute("SELECT 1")

"""core/outbox.py: the persisted transaction-message queue and the held requests."""

from ocpp_station.core.outbox import QUEUE, Request, Requests, TransactionQueue
from ocpp_station.store import MemoryStore


def test_a_stop_remembers_its_connector_across_a_restart_and_an_older_record_holds_every_connector():
    store = MemoryStore()
    q = TransactionQueue(store)
    q.append("a", "StopTransaction", {"transactionId": 1}, "tx1", connector_id=2)
    again = TransactionQueue(store)  # the station restarted on the same store
    assert [m.connector_id for m in again] == [2]
    assert again.stop_pending(2) and not again.stop_pending(1)
    # a record written before the connector was kept: its connector is unknown, so it counts for each
    store.queue_append(QUEUE, {"unique_id": "b", "action": "StopTransaction", "payload": {}, "tx": "tx0",
                               "attempts": 0, "not_before": 0.0})
    old = TransactionQueue(store)
    assert old.stop_pending(1) and old.stop_pending(2)


def test_a_held_request_is_overtaken_until_its_hold_lets_go():
    held = [True]
    r = Requests()
    r.append(Request("StatusNotification", {"connectorId": 1}, hold=lambda: held[0]))
    r.append(Request("Heartbeat", {}))
    assert r.pop(True).action == "Heartbeat"
    assert r.pop(True) is None
    held[0] = False
    assert r.pop(True).action == "StatusNotification"
    assert r.pop(True) is None

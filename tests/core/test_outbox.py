"""The transaction-message queue at core level: delivery in chronological order after a connection loss, and the
retries of a message the CSMS fails to process ([SPEC] §3.7, §3.7.1; [JERRATA] 3.3; [ERRATA] 3.18; spec §2.7).
OCTT case TC_036. Also the queue and the held requests as data structures."""

from datetime import datetime

import pytest
from charging import ACCEPTED, booted, card, expect_status, plug, sn

from ocpp_station.core.outbox import QUEUE, Request, Requests, TransactionQueue
from ocpp_station.store import MemoryStore


def _t(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _charging(h, tx_id: int = 1) -> None:
    """Plug, card, Authorize; StatusNotification(Charging) and StartTransaction answered."""
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    h.respond_unordered({"StatusNotification": {}, "StartTransaction": {"transactionId": tx_id,
                                                                        "idTagInfo": {"status": "Accepted"}}})
    h.no_call()


# -- TC_036: what was queued offline goes first, in order -----------------------------------------------------------


def test_tc_036_cs_connection_loss_during_transaction_all_queued_values_first():
    """TC_036_CS Connection Loss During Transaction: the MeterValues sampled offline are all sent on reconnect, in
    chronological order, before any value sampled after it (even one sampled while the queue is still being
    emptied), spaced by MeterValueSampleInterval, with the transactionId, context Sample.Periodic and format Raw
    (or omitted) ([SPEC] §3.7: new transaction messages wait until the queue is empty; [OCPPLAB] p47)."""
    interval = 10
    h = booted(MeterValueSampleInterval=interval)
    _charging(h, tx_id=36)
    started = h.now
    mv = h.advance_to_next_call()
    assert mv.action == "MeterValues" and mv.at == started + interval
    h.reply(h.take(), {})
    h.disconnect()
    h.advance(35)  # offline: samples at +20, +30, +40 wait in the queue
    assert [m.action for m in h.station.tx_queue] == ["MeterValues"] * 3
    h.connect()  # at +45; no BootNotification on a reconnect ([OCPPJ] §5.4)
    got = [h.take("MeterValues")]
    h.advance(6)  # the CSMS is slow: a new sample (+50) is taken while the queued ones are not all out
    h.reply(got[0], {})
    while len(got) < 5:
        c = h.advance_to_next_call()
        got.append(h.take("MeterValues"))
        h.reply(c, {})
    h.no_call()
    stamps = [_t(c.payload["meterValue"][0]["timestamp"]) - started for c in got]
    assert stamps == [20, 30, 40, 50, 60]  # +20..+40 queued, then +50 (sampled at +50) and +60
    assert [c.at - started for c in got] == [45, 51, 51, 51, 60]
    for c in got:
        assert c.payload["connectorId"] == 1 and c.payload["transactionId"] == 36
        [entry] = c.payload["meterValue"]
        for v in entry["sampledValue"]:
            assert v.get("context", "Sample.Periodic") == "Sample.Periodic"
            assert v.get("format", "Raw") == "Raw"
        assert entry["sampledValue"][0].get("measurand", "Energy.Active.Import.Register") == \
            "Energy.Active.Import.Register"
        assert entry["sampledValue"][0]["unit"] == "Wh"
    energies = [int(c.payload["meterValue"][0]["sampledValue"][0]["value"]) for c in got]
    assert energies == sorted(energies) and len(set(energies)) == 5
    assert all(c.action != "BootNotification" for c in h.log[-6:])


# -- TransactionMessageAttempts / TransactionMessageRetryInterval ------------------------------------------------------


def _fail(h, call, how: str, message_timeout: int) -> None:
    """The CSMS fails to process ``call``: a CALLERROR at once, or no answer until MessageTimeout passes."""
    if how == "error":
        h.reply_error(call, "InternalError")
    else:
        h.advance(message_timeout)


@pytest.mark.parametrize("how", ["error", "timeout"])
def test_retry_n_waits_n_times_the_interval_then_the_message_is_dropped(how):
    """A transaction message the CSMS fails to process (CALLERROR, or no answer within MessageTimeout) is sent again
    TransactionMessageRetryInterval x n seconds after the n-th failure, with the same message id, until
    TransactionMessageAttempts transmissions have failed; then it is dropped and the next queued message goes at
    once ([SPEC] §3.7.1: attempts 3, interval 60 -> wait 60 s, then 120 s, then discard). A StartTransaction dropped
    that way leaves its transaction with transactionId -1 in the later messages ([ERRATA] 3.18)."""
    timeout = 30
    h = booted(MeterValueSampleInterval=0, TransactionMessageAttempts=3, TransactionMessageRetryInterval=60,
               MessageTimeout=timeout)
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    assert sn(h.respond("StatusNotification", {})) == (1, "Charging", "NoError")
    first = h.take("StartTransaction")
    card(h, "TAG1")  # stopped while its StartTransaction is not yet processed: the StopTransaction waits behind
    h.no_call()
    _fail(h, first, how, timeout)
    assert sn(h.respond("StatusNotification", {})) == (1, "Finishing", "NoError")  # not transaction-related
    sent = [first]
    for n in (1, 2):  # retry n comes 60 x n seconds after the n-th failure, not a moment sooner
        failed_at = h.now
        h.advance(60 * n - 0.001)
        h.no_call()
        h.advance(0.001)
        retry = h.take("StartTransaction")
        assert retry.at == failed_at + 60 * n
        assert retry.unique_id == first.unique_id and retry.payload == first.payload
        sent.append(retry)
        _fail(h, retry, how, timeout)
    # the third transmission failed: dropped; the StopTransaction follows at once, with transactionId -1
    assert len(sent) == 3
    stop = h.take("StopTransaction")
    assert stop.at == h.now
    assert stop.payload["transactionId"] == -1 and stop.payload["reason"] == "Local"
    h.reply(stop, {})
    assert len(h.station.tx_queue) == 0
    assert h.station.tx_queue.dropped == 1
    h.advance(1000)
    h.no_call()  # nothing is sent again


def _start_then_stop(h) -> tuple:
    """Plug, card, Authorize, Charging; the StartTransaction is taken unanswered and the transaction stopped behind
    it (Finishing answered): returns the StartTransaction call."""
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    assert sn(h.respond("StatusNotification", {})) == (1, "Charging", "NoError")
    start = h.take("StartTransaction")
    card(h, "TAG1")
    return start


def test_the_next_message_after_a_drop_has_attempts_of_its_own():
    """TransactionMessageAttempts=2: the StartTransaction fails twice and is dropped; the StopTransaction behind it
    goes at once and its first failure is retried TransactionMessageRetryInterval x 1 later, not dropped: the count
    is per message ([SPEC] §3.7.1)."""
    h = booted(MeterValueSampleInterval=0, TransactionMessageAttempts=2, TransactionMessageRetryInterval=5)
    start = _start_then_stop(h)
    h.reply_error(start, "InternalError")
    h.respond("StatusNotification", {})  # Finishing
    h.advance(5)
    h.reply_error(h.take("StartTransaction"), "InternalError")
    stop = h.take("StopTransaction")  # at once
    assert stop.at == h.now
    failed_at = h.now
    h.reply_error(stop, "InternalError")
    again = h.advance_to_next_call()
    assert again.action == "StopTransaction" and again.unique_id == stop.unique_id
    assert again.at == failed_at + 5
    h.reply(h.take(), {})
    assert h.station.tx_queue.dropped == 1 and len(h.station.tx_queue) == 0


def test_being_offline_never_counts_as_an_attempt():
    """A transaction message in flight when the link drops is not a failed attempt: even with
    TransactionMessageAttempts=1 it is sent again, with the same id, as soon as the link is back ([SPEC] §3.7;
    spec §2.7)."""
    h = booted(MeterValueSampleInterval=0, TransactionMessageAttempts=1, TransactionMessageRetryInterval=60)
    start = _start_then_stop(h)
    h.disconnect()  # the StartTransaction gets no answer
    h.advance(300)
    h.connect()
    assert sn(h.respond("StatusNotification", {})) == (1, "Finishing", "NoError")
    again = h.take("StartTransaction")
    assert again.unique_id == start.unique_id and again.at == h.now
    h.reply(again, {"transactionId": 4, "idTagInfo": {"status": "Accepted"}})
    stop = h.respond("StopTransaction", {})
    assert stop.payload["transactionId"] == 4
    assert h.station.tx_queue.dropped == 0


# -- the queue and the held requests as data structures ----------------------------------


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

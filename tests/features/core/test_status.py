"""StatusNotification reporting at core level: the timestamp is the time of the change, whenever it is sent
([SPEC] §4.9, §6.47 timestamp "the time for which the status is reported"; [ERRATA] 3.19); and a connector
reported free only after the StopTransaction of a session that ended offline ([SPEC] §3.7)."""

from charging import ACCEPTED, booted, card, expect_status, plug, start_charging, unplug
from harness import T0

from ocpp_station.core.clock import iso


def test_timestamp_is_the_time_of_the_change_not_the_end_of_minimum_status_duration():
    """MinimumStatusDuration delays the report, not the time it carries."""
    h = booted(MinimumStatusDuration=10)
    h.advance(5)
    plug(h)
    changed = h.now
    h.advance(10)
    prep = expect_status(h, 1, "Preparing")
    assert prep.at == changed + 10
    assert prep.payload["timestamp"] == iso(changed) == "2026-01-01T00:00:05.000Z"
    h.no_call()


def test_timestamp_after_an_offline_period_is_the_time_of_the_change():
    """A status that changed while offline is sent on reconnect with the time it changed, not the reconnect time."""
    h = booted()
    h.disconnect()
    h.advance(100)
    plug(h)
    changed = h.now
    h.advance(50)  # within ConnectionTimeOut (60 s): still Preparing
    h.connect()
    prep = expect_status(h, 1, "Preparing")
    assert prep.at == changed + 50
    assert prep.payload["timestamp"] == iso(changed) == iso(T0 + 100)
    h.no_call()


def test_timestamp_of_the_latest_change_when_several_happen_within_minimum_status_duration():
    """Only the last of several quick changes is reported, with its own time."""
    h = booted(MinimumStatusDuration=10)
    plug(h)
    h.advance(5)
    unplug(h)
    h.advance(3)
    plug(h)
    changed = h.now
    h.advance(10)
    prep = expect_status(h, 1, "Preparing")
    assert prep.payload["timestamp"] == iso(changed)
    h.no_call()


def test_after_a_reconnect_the_stop_of_a_session_ended_offline_goes_before_the_connector_is_reported_available():
    """A session stopped and unplugged while offline: on reconnect its queued MeterValues and StopTransaction reach
    the CSMS before StatusNotification(Available), so the CSMS never sees the connector free beside a transaction
    it still thinks is running. Non-transaction messages may otherwise overtake the queue ([SPEC] §3.7)."""
    h = booted(MeterValueSampleInterval=10, ClockAlignedDataInterval=0)
    start_charging(h, tx_id=7)
    h.disconnect()
    h.advance(25)  # two MeterValues queued offline
    card(h, "TAG1")  # the driver stops: StopTransaction(Local) queued, Finishing not reported (offline)
    h.advance(5)
    unplug(h)  # Available
    h.no_call()
    h.connect()
    got = []
    while h.calls:
        c = h.calls[0]
        got.append((c.action, c.payload.get("status"), c.payload.get("reason")))
        h.respond(c.action, ACCEPTED if c.action == "StopTransaction" else {})
    assert got == [
        ("MeterValues", None, None),
        ("MeterValues", None, None),
        ("StopTransaction", None, "Local"),
        ("StatusNotification", "Available", None),
    ]


def test_available_waits_for_an_unanswered_stop_and_finishing_does_not():
    """Online: the stop's Finishing may go before its StopTransaction (OCTT: either order), but the Available of a
    quick unplug waits until the StopTransaction is answered; a StopTransaction that fails is retried first."""
    h = booted(TransactionMessageRetryInterval=5, TransactionMessageAttempts=3)
    start_charging(h, tx_id=8)
    card(h, "TAG1")
    assert [c.action for c in h.calls] == ["StatusNotification"]  # Finishing first
    assert h.respond("StatusNotification", {}).payload["status"] == "Finishing"
    stop = h.take("StopTransaction")
    unplug(h)  # Available: held behind the StopTransaction in flight
    h.no_call()
    h.reply_error(stop)  # one failed attempt: the StopTransaction comes again after 5 s
    h.no_call()
    h.advance(5)
    stop = h.take("StopTransaction")
    h.no_call()
    h.reply(stop, {})
    assert h.respond("StatusNotification", {}).payload["status"] == "Available"
    h.no_call()

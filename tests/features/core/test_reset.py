"""Reset and power loss at core level ([SPEC] §5.14, §4.10; TC_013-016, TC_032_2)."""

from harness import CoreHarness

from ocpp_station.core.commands import Reboot
from ocpp_station.core.events import CardPresented
from ocpp_station.store import MemoryStore


def _charging(h: CoreHarness) -> int:
    h.feed(h.hardware.plug_in(1, h.now))
    h.respond("StatusNotification", {})
    h.event(CardPresented("TAG1", 1))
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted"}})
    h.respond_unordered(
        {"StartTransaction": {"transactionId": 42, "idTagInfo": {"status": "Accepted"}}, "StatusNotification": {}}
    )
    return 42


def test_tc_016_cs_soft_reset_stops_transactions_then_reboots():
    h = CoreHarness()
    h.boot()
    _charging(h)
    assert h.csms_conf("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert h.station.commands() == []  # not before the StopTransaction is delivered
    assert h.station.commands() == []  # not before the StopTransaction is delivered
    got = h.respond_unordered({"StopTransaction": {}, "StatusNotification": {}})
    assert got["StopTransaction"].payload["reason"] == "SoftReset"
    assert got["StopTransaction"].payload["transactionId"] == 42
    assert "idTag" not in got["StopTransaction"].payload  # the station itself stops it
    assert got["StatusNotification"].payload["status"] == "Finishing"
    h.advance(0.2)
    assert h.station.commands() == [Reboot("Soft")]


def test_tc_015_cs_hard_reset_reboots_at_once_and_keeps_the_stop_queued():
    store = MemoryStore()
    h = CoreHarness(store=store)
    h.boot()
    _charging(h)
    h.csms_call("Reset", {"type": "Hard"})
    h.advance(0)
    assert h.station.commands() == [Reboot("Hard")]
    # the reboot: a new Station on the same store delivers the StopTransaction after Accepted
    h2 = CoreHarness(store=store)
    h2.hardware.connectors[1].ev_plugged = True
    h2.start()
    h2.respond("BootNotification", h2.boot_conf())
    s = [h2.respond("StatusNotification", {}) for _ in range(2)]
    assert [x.payload["connectorId"] for x in s] == [0, 1]
    stop = h2.take("StopTransaction")
    assert stop.payload["reason"] == "HardReset" and stop.payload["transactionId"] == 42


def test_tc_032_2_cs_power_loss_stops_the_open_transaction_after_boot():
    store = MemoryStore()
    h = CoreHarness(store=store, MeterValueSampleInterval=10, HeartbeatInterval=0)
    h.boot(interval=0)  # no heartbeats in the way
    _charging(h)
    h.advance(10)
    mv = h.respond("MeterValues", {})
    last = int(mv.payload["meterValue"][0]["sampledValue"][0]["value"])
    # power cut: the process is gone; a new station boots on the same store
    h2 = CoreHarness(store=store, now=h.now + 60)
    h2.start()
    h2.respond("BootNotification", h2.boot_conf())
    h2.answer_all("StatusNotification")
    stop = h2.take("StopTransaction")
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["transactionId"] == 42
    assert stop.payload["meterStop"] == last  # the last meter value known before the cut
    assert stop.payload["timestamp"] == mv.payload["meterValue"][0]["timestamp"]


def test_silent_csms_card_handled_by_offline_rules_after_message_timeout():
    """A card presented while the CSMS does not answer is decided by the offline rules after
    MessageTimeout: the driver is never blocked longer than that."""
    h = CoreHarness(MessageTimeout=5, AllowOfflineTxForUnknownId=True)
    h.boot()
    h.feed(h.hardware.plug_in(1, h.now))
    h.respond("StatusNotification", {})
    h.event(CardPresented("NEW1", 1))
    h.take("Authorize")  # never answered
    h.advance(4.999)
    assert h.station.connector(1).status.value == "Preparing"
    h.advance(0.001)
    assert h.station.connector(1).status.value == "Charging"
    got = h.respond_unordered(
        {"StatusNotification": {}, "StartTransaction": {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}}
    )
    assert got["StartTransaction"].payload["idTag"] == "NEW1"

"""Reset and power loss at core level ([SPEC] §5.14, §4.10; TC_013-016, TC_032_2)."""

import pytest
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


def _reboot_statuses(h: CoreHarness, interval: int = 10) -> list[tuple]:
    """BootNotification Accepted after a reboot: (connectorId, status) of the StatusNotifications that follow."""
    h.respond("BootNotification", h.boot_conf(interval=interval))
    return [
        (c.payload["connectorId"], c.payload["status"])
        for c in (h.respond("StatusNotification", {}) for _ in range(h.settings.connectors + 1))
    ]


def test_tc_016_cs_soft_reset_stops_transactions_then_reboots():
    """TC_016_CS Soft Reset with transaction: Reset.conf Accepted, StopTransaction(SoftReset) + Finishing before the
    reboot; after it, connector 1 is still Finishing while the cable is in, Available once it is out ([SPEC] §5.14,
    §4.10; spec §2.5)."""
    store = MemoryStore()
    h = CoreHarness(store=store)
    h.boot()
    _charging(h)
    assert h.csms_conf("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert h.station.commands() == []  # not before the StopTransaction is delivered
    got = h.respond_unordered({"StopTransaction": {}, "StatusNotification": {}})
    assert got["StopTransaction"].payload["reason"] == "SoftReset"
    assert got["StopTransaction"].payload["transactionId"] == 42
    assert "idTag" not in got["StopTransaction"].payload  # the station itself stops it
    assert (got["StatusNotification"].payload["connectorId"], got["StatusNotification"].payload["status"]) == (
        1, "Finishing")
    h.advance(0.2)
    assert h.station.commands() == [Reboot("Soft")]
    h2 = CoreHarness(store=store, now=h.now + 5)
    h2.start()
    assert _reboot_statuses(h2) == [(0, "Available"), (1, "Finishing")]
    h2.no_call()  # the StopTransaction was delivered before the reboot
    h2.feed(h2.hardware.plug_out(1, "ev", h2.now))
    assert (h2.respond("StatusNotification", {}).payload["status"]) == "Available"
    h2.no_call()


def test_tc_015_cs_hard_reset_reboots_at_once_and_keeps_the_stop_queued():
    """TC_015_CS Hard Reset with transaction: Reset.conf Accepted, reboot at once; after it connector 1 reports
    Finishing (the cable is still in) and the StopTransaction(HardReset) is delivered ([SPEC] §5.14; spec §2.5)."""
    store = MemoryStore()
    h = CoreHarness(store=store)
    h.boot()
    _charging(h)
    assert h.csms_call("Reset", {"type": "Hard"})[2] == {"status": "Accepted"}
    h.advance(0)
    assert h.station.commands() == [Reboot("Hard")]
    # the reboot: a new Station on the same store (and the same hardware, cable still in)
    h2 = CoreHarness(store=store)
    h2.start()
    assert _reboot_statuses(h2) == [(0, "Available"), (1, "Finishing")]
    stop = h2.take("StopTransaction")
    assert stop.payload["reason"] == "HardReset" and stop.payload["transactionId"] == 42


def test_tc_032_2_cs_power_loss_stops_the_open_transaction_after_boot():
    """TC_032_2_CS Power failure without backup power: after the boot, connector 1 is Finishing (the session ended,
    the cable is in) and StopTransaction(PowerLoss) carries the last known meter value and its time, with
    Transaction.Begin and Transaction.End in transactionData ([SPEC] §4.10; [ERRATA] 3.14, 4.25; spec §2.5)."""
    store = MemoryStore()
    h = CoreHarness(store=store, MeterValueSampleInterval=10, HeartbeatInterval=0)
    h.boot(interval=0)  # no heartbeats in the way
    _charging(h)
    h.advance(10)
    mv = h.respond("MeterValues", {})
    last = int(mv.payload["meterValue"][0]["sampledValue"][0]["value"])
    at = mv.payload["meterValue"][0]["timestamp"]
    # power cut: the process is gone; a new station boots on the same store
    h2 = CoreHarness(store=store, now=h.now + 60)
    h2.start()
    assert _reboot_statuses(h2) == [(0, "Available"), (1, "Finishing")]
    stop = h2.take("StopTransaction")
    assert stop.payload["reason"] == "PowerLoss"
    assert stop.payload["transactionId"] == 42
    assert stop.payload["meterStop"] == last  # the last meter value known before the cut
    assert stop.payload["timestamp"] == at
    data = stop.payload["transactionData"]
    assert [d["sampledValue"][0]["context"] for d in data] == ["Transaction.Begin", "Sample.Periodic",
                                                                "Transaction.End"]
    assert data[-1] == {
        "timestamp": at,
        "sampledValue": [{"value": str(last), "context": "Transaction.End", "format": "Raw",
                          "measurand": "Energy.Active.Import.Register", "unit": "Wh", "location": "Outlet"}],
    }


def test_power_loss_with_the_cable_pulled_while_down_comes_back_available():
    """The cable left while the station was down: the session is over, connector 1 is Available after the boot and
    nothing remembers it as Finishing (spec §2.5). Its Available goes out only after the StopTransaction(PowerLoss):
    the CSMS never sees the connector free beside the transaction it thinks is running."""
    store = MemoryStore()
    h = CoreHarness(store=store)
    h.boot()
    _charging(h)
    h.hardware.plug_out(1, "ev", h.now)  # no station to see it: the power is off
    h2 = CoreHarness(store=store, now=h.now + 60)
    h2.start()
    h2.respond("BootNotification", h2.boot_conf())
    calls = [h2.respond(h2.calls[0].action, {}) for _ in range(3)]
    assert [(c.action, c.payload.get("connectorId"), c.payload.get("status")) for c in calls] == [
        ("StatusNotification", 0, "Available"), ("StopTransaction", None, None), ("StatusNotification", 1, "Available")]
    assert calls[1].payload["reason"] == "PowerLoss"
    h2.no_call()
    assert store.items("finishing") == {}


def test_finishing_after_a_stop_survives_a_power_cut_until_the_cable_is_out():
    """A session stopped locally, the cable still in, then a power cut: Finishing again after the boot, not
    Preparing (spec §2.5: Finishing until the user acts)."""
    store = MemoryStore()
    h = CoreHarness(store=store, HeartbeatInterval=0)
    h.boot(interval=0)  # no heartbeats in the way
    _charging(h)
    h.event(CardPresented("TAG1", 1))
    h.respond_unordered({"StopTransaction": {}, "StatusNotification": {}})
    h2 = CoreHarness(store=store, now=h.now + 60, HeartbeatInterval=0)
    h2.start()
    assert _reboot_statuses(h2, interval=0) == [(0, "Available"), (1, "Finishing")]
    h2.no_call()
    h2.advance(3600)  # no ConnectionTimeOut: Finishing is not Preparing
    h2.no_call()
    h2.feed(h2.hardware.plug_out(1, "ev", h2.now))
    assert h2.respond("StatusNotification", {}).payload["status"] == "Available"
    h3 = CoreHarness(store=store, now=h2.now + 60)
    h3.start()
    assert _reboot_statuses(h3) == [(0, "Available"), (1, "Available")]


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


# -- once a reset is accepted nothing new starts until the reboot ([SPEC] §5.14) -------------------------------------


def test_soft_reset_grace_window_refuses_remote_starts_and_cards():
    """While StopTransaction(SoftReset) is unanswered the station is on its way down: RemoteStartTransaction is
    Rejected and a card is not authorized, so no transaction starts that the reboot would cut ([SPEC] §5.14)."""
    h = CoreHarness(AuthorizeRemoteTxRequests=False)
    h.boot()
    _charging(h)
    assert h.csms_conf("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    first = h.take()  # StopTransaction or StatusNotification(Finishing), not answered yet
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}) == {"status": "Rejected"}
    assert h.csms_conf("RemoteStartTransaction", {"idTag": "REMOTE1"}) == {"status": "Rejected"}
    h.event(CardPresented("TAG2", 1))
    h.reply(first, {})
    h.reply(h.take(), {})
    h.no_call()
    assert {c.action for c in h.log[-2:]} == {"StopTransaction", "StatusNotification"}
    h.advance(0.2)
    assert h.station.commands() == [Reboot("Soft")]
    assert [c.action for c in h.log].count("StartTransaction") == 1
    assert [c.action for c in h.log].count("Authorize") == 1  # only the one before the reset
    assert h.station.connector(1).status.value == "Finishing"


@pytest.mark.parametrize("plugged", [True, False])
def test_authorization_decided_after_a_soft_reset_was_accepted_starts_nothing(plugged):
    """A card presented before the reset, its Authorize.conf after it: no Preparing, no StartTransaction."""
    h = CoreHarness()
    h.boot()
    if plugged:
        h.feed(h.hardware.plug_in(1, h.now))
        h.respond("StatusNotification", {})
    h.event(CardPresented("TAG1", 1))
    a = h.take("Authorize")
    assert h.csms_conf("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    h.reply(a, {"idTagInfo": {"status": "Accepted"}})
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx is None
    assert h.station.connector(1).status.value == ("Preparing" if plugged else "Available")
    h.advance(0.2)
    assert h.station.commands() == [Reboot("Soft")]
    h.no_call()


def test_hard_reset_refuses_remote_starts_until_the_reboot():
    """A hard reset reboots at once; a RemoteStartTransaction that arrives before the runtime has rebooted is
    Rejected and starts nothing ([SPEC] §5.14)."""
    h = CoreHarness(AuthorizeRemoteTxRequests=False)
    h.boot()
    h.feed(h.hardware.plug_in(1, h.now))
    h.respond("StatusNotification", {})
    assert h.csms_conf("Reset", {"type": "Hard"}) == {"status": "Accepted"}
    h.advance(0)
    assert h.station.commands() == [Reboot("Hard")]
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}) == {"status": "Rejected"}
    h.event(CardPresented("TAG1", 1))
    h.advance(1)
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx is None

"""Boot sequence at core level, stepping `now` (TC_001_CS, TC_002_CS; [SPEC] §4.2, [ERRATA] 3.22)."""

import pytest

from harness import CoreHarness


def test_tc_001_cs_cold_boot():
    """TC_001_CS: first Boot Rejected with an interval; nothing is sent or answered until it passes;
    the second Boot is Accepted; StatusNotification for connector 0 and each connector; heartbeats
    every interval of the accepted conf."""
    h = CoreHarness()
    h.start()
    boot1 = h.take("BootNotification")
    assert boot1.payload["chargePointVendor"] == "CROCUS INC"
    assert boot1.payload["chargePointModel"] == "AE100K-C1XS-MO-1C"
    h.reply(boot1, h.boot_conf("Rejected", interval=20))
    # while Rejected: a CSMS CALL is not answered and nothing is sent
    assert h.csms_call("GetConfiguration", {}) is None
    h.advance(19.999)
    h.no_call()
    h.advance(0.001)
    boot2 = h.take("BootNotification")
    assert boot2.at == boot1.at + 20
    h.reply(boot2, h.boot_conf("Accepted", interval=7))
    s0 = h.respond("StatusNotification", {})
    s1 = h.respond("StatusNotification", {})
    h.no_call()
    assert (s0.payload["connectorId"], s0.payload["status"], s0.payload["errorCode"]) == (0, "Available", "NoError")
    assert (s1.payload["connectorId"], s1.payload["status"], s1.payload["errorCode"]) == (1, "Available", "NoError")
    assert h.station.config["HeartbeatInterval"] == 7
    times = []
    for _ in range(3):
        hb = h.advance_to_next_call()
        times.append(hb.at)
        h.respond("Heartbeat", {"currentTime": "2026-01-01T00:01:00Z"})
    assert times[1] - times[0] == 7 and times[2] - times[1] == 7
    assert times[0] - s1.at == 7


def test_tc_002_cs_cold_boot_pending():
    """TC_002_CS: Boot Pending; GetConfiguration and ChangeConfiguration answered while Pending,
    no own request; a new Boot after the interval; then Accepted, statuses and heartbeats."""
    h = CoreHarness()
    h.start()
    boot1 = h.take("BootNotification")
    h.reply(boot1, h.boot_conf("Pending", interval=15))
    conf = h.csms_conf("GetConfiguration", {})
    assert any(k["key"] == "HeartbeatInterval" for k in conf["configurationKey"])
    assert h.csms_conf("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}) == {
        "status": "Accepted"
    }
    h.advance(14.9)
    h.no_call()
    h.advance(0.1)
    boot2 = h.take("BootNotification")
    assert boot2.at - boot1.at == 15
    h.reply(boot2, h.boot_conf("Accepted", interval=5))
    statuses = [h.respond("StatusNotification", {}) for _ in range(2)]
    assert [s.payload["connectorId"] for s in statuses] == [0, 1]
    assert all(s.payload["status"] == "Available" for s in statuses)
    hb = h.advance_to_next_call()
    assert hb.action == "Heartbeat" and hb.at - statuses[-1].at == 5
    assert h.station.config["MeterValueSampleInterval"] == 30


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
def test_reconnect_while_pending_or_rejected_waits_out_the_interval(status):
    """Pending / Rejected: the interval is the minimum wait before the next BootNotification ([SPEC] §4.2;
    spec §2.2); a link that drops and comes back does not cut it short."""
    h = CoreHarness()
    h.start()
    boot1 = h.take("BootNotification")
    h.reply(boot1, h.boot_conf(status, interval=60))
    h.advance(10)
    h.disconnect()
    h.advance(5)
    h.connect()
    h.no_call()
    h.advance(44.999)
    h.no_call()
    h.advance(0.001)
    boot2 = h.take("BootNotification")
    assert boot2.at - boot1.at == 60


def test_reconnect_after_the_interval_passed_offline_sends_boot_at_once():
    """The Pending interval ran out while the link was down: BootNotification as soon as it is back."""
    h = CoreHarness()
    h.start()
    h.reply(h.take("BootNotification"), h.boot_conf("Pending", interval=20))
    h.disconnect()
    h.advance(30)
    h.no_call()
    h.connect()
    assert h.take("BootNotification").at == h.now


def test_boot_interval_zero_uses_own_retry_interval():
    h = CoreHarness()
    h.settings.boot_retry_interval = 42
    h.start()
    h.reply(h.take("BootNotification"), h.boot_conf("Pending", interval=0))
    h.advance(41.9)
    h.no_call()
    h.advance(0.1)
    h.take("BootNotification")


def test_boot_retried_after_timeout_and_callerror():
    h = CoreHarness(MessageTimeout=5)
    h.settings.boot_retry_interval = 10
    h.start()
    b1 = h.take("BootNotification")
    h.advance(5)  # MessageTimeout passes without an answer
    h.no_call()
    h.advance(10)
    b2 = h.take("BootNotification")
    assert b2.unique_id != b1.unique_id
    h.reply_error(b2, "InternalError")
    h.advance(10)
    h.take("BootNotification")


def test_nothing_but_boot_before_accepted_and_no_boot_after_reconnect():
    h = CoreHarness()
    h.boot()
    h.disconnect()
    h.advance(30)
    h.connect()
    h.no_call()  # a reconnect is not a reboot ([OCPPJ] §5.4): no BootNotification, no unchanged status


def test_clock_is_set_from_current_time():
    h = CoreHarness()
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": "2030-05-01T12:00:00Z"})
    assert h.station.timestamp(h.now).startswith("2030-05-01T12:00:00.000")
    h.advance(1.5)
    assert h.station.timestamp(h.now) == "2030-05-01T12:00:01.500Z"


@pytest.mark.parametrize(
    "current_time, expected",
    [
        ("2030-05-01T12:00:00", "2030-05-01T12:00:00.000Z"),  # no zone: UTC
        ("2030-05-01T12:00:00+0000", "2030-05-01T12:00:00.000Z"),
        ("2030-05-01T14:00:00+02:00", "2030-05-01T12:00:00.000Z"),
        ("2030-05-01T12:00:00.123456Z", "2030-05-01T12:00:00.123Z"),
        ("2030-05-01t12:00:00z", "2030-05-01T12:00:00.000Z"),
    ],
)
def test_boot_accepted_with_any_iso_8601_current_time(current_time, expected):
    """[ERRATA] 3.10: a currentTime with an offset, fractions or no zone registers the station and sets the
    clock; what the station sends stays UTC with milliseconds and Z."""
    h = CoreHarness()
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": current_time})
    assert h.station.registration == "Accepted"
    for cid in (0, 1):
        c = h.respond("StatusNotification", {})
        assert (c.payload["connectorId"], c.payload["timestamp"]) == (cid, expected)
    h.no_call()


def test_boot_with_garbage_current_time_is_retried_not_accepted():
    h = CoreHarness()
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": "yesterday"})
    assert h.station.registration != "Accepted"
    h.no_call()
    c = h.advance_to_next_call()
    assert c.action == "BootNotification"

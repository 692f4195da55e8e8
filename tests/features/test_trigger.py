"""Remote Trigger at core level: TriggerMessage ([SPEC] §5.17, §7.44; [ERRATA] 3.35, 3.46; OCTT TC_054, TC_055)."""

import pytest
from charging import booted, plug, start_charging

from harness import CoreHarness


def trigger(h, message, connector_id=None):
    payload = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    uid = f"trig-{len(h.raw_out)}"
    h.station.receive(f'[2,"{uid}","TriggerMessage",{__import__("json").dumps(payload)}]', h.now)
    h._collect()
    answer = h.answers.pop(uid)
    return answer, h.raw_out.index(answer)


def test_conf_goes_out_before_the_triggered_message():
    h = booted()
    answer, at = trigger(h, "Heartbeat")
    assert answer[2] == {"status": "Accepted"}
    hb = h.take("Heartbeat")
    sent = [f for f in h.raw_out if f[0] == 2 and f[1] == hb.unique_id][0]
    assert h.raw_out.index(sent) > at  # [SPEC] §5.17: the conf first
    h.reply(hb, {"currentTime": "2026-06-01T00:00:00Z"})
    assert h.station.clock.wall(h.now) >= 1780272000  # the triggered Heartbeat syncs the clock like any other


def test_status_notification_for_one_connector_skips_minimum_status_duration():
    h = booted(MinimumStatusDuration=60)
    answer, _ = trigger(h, "StatusNotification", 1)
    assert answer[2] == {"status": "Accepted"}
    sn = h.take("StatusNotification")
    assert (sn.payload["connectorId"], sn.payload["status"]) == (1, "Available")


def test_status_notification_without_connector_is_connector_0_and_every_connector():
    h = booted()
    trigger(h, "StatusNotification")
    got = [h.respond("StatusNotification", {}).payload["connectorId"] for _ in range(2)]
    assert got == [0, 1]
    h.no_call()


def test_status_notification_for_connector_0_is_the_charge_point():
    h = booted()
    assert trigger(h, "StatusNotification", 0)[0][2] == {"status": "Accepted"}
    assert h.take("StatusNotification").payload["connectorId"] == 0


def test_meter_values_carry_the_sampled_measurands_with_context_trigger_and_the_transaction():
    h = booted(MeterValuesSampledData="Energy.Active.Import.Register,Power.Active.Import")
    start_charging(h, tx_id=42)
    answer, _ = trigger(h, "MeterValues", 1)
    assert answer[2] == {"status": "Accepted"}
    mv = h.take("MeterValues")
    assert mv.payload["connectorId"] == 1
    assert mv.payload["transactionId"] == 42
    values = mv.payload["meterValue"][0]["sampledValue"]
    assert [v["measurand"] for v in values] == ["Energy.Active.Import.Register", "Power.Active.Import"]
    assert {v["context"] for v in values} == {"Trigger"}  # [ERRATA] 3.46


def test_meter_values_without_transaction_have_no_transaction_id():
    h = booted()
    trigger(h, "MeterValues", 1)
    mv = h.take("MeterValues")
    assert "transactionId" not in mv.payload
    assert mv.payload["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"


@pytest.mark.parametrize("cid", [2, 4352])
def test_tc_055_meter_values_for_a_missing_connector_is_rejected(cid):
    h = booted()
    assert trigger(h, "MeterValues", cid)[0][2] == {"status": "Rejected"}
    h.no_call()


def test_connector_id_is_ignored_where_it_does_not_matter():
    h = booted()
    assert trigger(h, "Heartbeat", 9)[0][2] == {"status": "Accepted"}
    h.take("Heartbeat")


def test_firmware_and_diagnostics_status_without_firmware_management_are_not_implemented():
    from ocpp_station.core.settings import StationSettings

    h = booted(StationSettings(profiles=("Core", "RemoteTrigger")))
    for what in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        assert trigger(h, what)[0][2] == {"status": "NotImplemented"}
    h.no_call()


def test_firmware_and_diagnostics_status_with_firmware_management_are_idle():
    h = booted()  # every implemented profile, FirmwareManagement among them
    for what in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
        assert trigger(h, what)[0][2] == {"status": "Accepted"}
        assert h.respond(what, {}).payload == {"status": "Idle"}  # [SPEC] §4.4/§4.5: nothing under way
    h.no_call()


def test_boot_notification_after_accepted_is_rejected():
    h = booted()
    assert trigger(h, "BootNotification")[0][2] == {"status": "Rejected"}  # [ERRATA] 3.35
    h.no_call()


def test_boot_notification_while_pending_is_sent_at_once():
    h = CoreHarness()
    h.start()
    h.respond("BootNotification", h.boot_conf("Pending", 300))
    h.advance(10)
    h.no_call()
    assert trigger(h, "BootNotification")[0][2] == {"status": "Accepted"}
    h.take("BootNotification")


def test_unknown_requested_message_is_a_property_constraint_violation():
    h = booted()
    answer, _ = trigger(h, "SecurityEventNotification")
    assert answer[0] == 4 and answer[2] in ("PropertyConstraintViolation", "TypeConstraintViolation")

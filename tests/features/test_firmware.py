"""Firmware update at core level: UpdateFirmware, FirmwareStatusNotification, retrieveDate, retries, the wait for
transactions, the reboot and Installed after it, a restart mid-download ([SPEC] §5.19; [ERRATA] 3.47-3.49, 3.63;
OCTT TC_044_1-3). The runtime's transfers are played by feeding the events it would send."""

from charging import booted, expect_status, run, start_charging

from harness import CoreHarness

from ocpp_station.core.clock import iso
from ocpp_station.core.commands import DiscardFirmware, DownloadFirmware, InstallFirmware, Reboot
from ocpp_station.core.events import FirmwareDownloaded, FirmwareInstalled
from ocpp_station.store.sqlite import SqliteStore

T0 = 1767225600.0
URL = "http://127.0.0.1:8000/firmware/fw-2.0.bin"


def update(h, location=URL, in_s=0, **extra):
    payload = {"location": location, "retrieveDate": iso(T0 + (h.now - T0) + in_s), **extra}
    assert h.csms_conf("UpdateFirmware", payload) == {}
    h.advance(0)  # a timer due now fires (the runtime's timer loop does at once)


def commands(h, kind=None):
    got = h.station.commands()
    return [c for c in got if kind is None or isinstance(c, kind)]


def fw_status(h, status):
    c = h.respond("FirmwareStatusNotification", {})
    assert c.payload == {"status": status}
    return c


def test_waits_for_retrieve_date_then_downloads_installs_and_reboots():
    h = booted()
    update(h, in_s=120, retries=0)
    h.advance(119.9)
    h.no_call()
    assert commands(h, DownloadFirmware) == []
    h.advance(0.1)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    assert (dl.location, dl.resume) == (URL, False)
    h.event(FirmwareDownloaded(dl.job, True))
    fw_status(h, "Downloaded")
    expect_status(h, 1, "Unavailable")  # [ERRATA] 3.49: no charging during the installation
    fw_status(h, "Installing")
    [inst] = commands(h, InstallFirmware)
    assert inst.job == dl.job
    h.event(FirmwareInstalled(dl.job, True, version="2.0"))
    h.advance(0.1)
    got = commands(h)
    assert DiscardFirmware(dl.job) in got and Reboot("Hard") in got
    h.no_call()  # Installed only after the reboot

    # the reboot: a new station on the same store
    h2 = CoreHarness(h.settings, store=h.store, now=h.now)
    h2.start()
    boot = h2.respond("BootNotification", h2.boot_conf())
    assert boot.payload["firmwareVersion"] == "2.0"
    got = [h2.respond(h2.calls[0].action, {}) for _ in range(3)]
    assert [c.action for c in got].count("StatusNotification") == 2
    assert [c.payload for c in got if c.action == "FirmwareStatusNotification"] == [{"status": "Installed"}]
    assert [c.payload["status"] for c in got if c.action == "StatusNotification"] == ["Available", "Available"]
    h2.no_call()
    assert h2.store.get("firmware", "job") is None


def test_retrieve_date_in_the_past_starts_at_once():
    h = booted()
    update(h, in_s=-3600)
    fw_status(h, "Downloading")


def test_download_retries_then_fails_with_one_downloading_and_one_download_failed():
    h = booted()
    update(h, retries=2, retryInterval=30)
    fw_status(h, "Downloading")
    attempts = []
    for i in range(3):
        [dl] = commands(h, DownloadFirmware)
        attempts.append(h.now)
        h.event(FirmwareDownloaded(dl.job, False, "connection refused"))
        if i < 2:
            h.advance(29.9)
            assert commands(h, DownloadFirmware) == []
            h.advance(0.1)
    assert [round(a - attempts[0], 3) for a in attempts] == [0, 30, 60]
    fw_status(h, "DownloadFailed")  # TC_044_2
    h.no_call()
    assert h.station.connector(1).status.value == "Available"  # the old firmware stays, the station works
    assert h.store.get("firmware", "job") is None


def test_retries_zero_is_one_attempt():
    h = booted()
    update(h, retries=0)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, False, "404 Not Found"))
    fw_status(h, "DownloadFailed")
    h.advance(600)
    assert commands(h, DownloadFirmware) == []


def test_installation_failed_restores_the_connectors():
    h = booted()
    update(h, retries=0)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    fw_status(h, "Downloaded")
    expect_status(h, 1, "Unavailable")
    fw_status(h, "Installing")
    h.event(FirmwareInstalled(dl.job, False, error="image refused"))
    got = h.respond_unordered({"FirmwareStatusNotification": {}, "StatusNotification": {}})
    assert got["FirmwareStatusNotification"].payload == {"status": "InstallationFailed"}  # TC_044_3
    assert got["StatusNotification"].payload["status"] == "Available"
    assert Reboot("Hard") not in commands(h)


def test_installation_waits_for_the_running_transaction():
    h = booted()
    start_charging(h, tx_id=7)
    update(h, retries=0)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    fw_status(h, "Downloaded")
    run(h, 300)  # the session goes on: only its MeterValues
    h.no_call()
    assert commands(h, InstallFirmware) == []
    assert h.station.state(h.now)["firmware"]["waitingFor"] == [1]
    assert h.csms_conf("RemoteStopTransaction", {"transactionId": 7}) == {"status": "Accepted"}
    got = []
    while h.calls:
        c = h.take()
        got.append((c.action, c.payload.get("status") or c.payload.get("reason")))
        h.reply(c, {"idTagInfo": {"status": "Accepted"}} if c.action == "StopTransaction" else {})
    assert ("StopTransaction", "Remote") in got
    h.advance(1)  # the installation looks again at the connectors (at once on the next hook, or within 1 s)
    while h.calls:
        c = h.respond(h.calls[0].action, {})
        got.append((c.action, c.payload.get("status")))
    # Installing once the transaction has ended; the connector's Unavailable waits for its StopTransaction
    assert got == [("StatusNotification", "Finishing"), ("FirmwareStatusNotification", "Installing"),
                   ("StopTransaction", "Remote"), ("StatusNotification", "Unavailable")]
    assert len(commands(h, InstallFirmware)) == 1


def test_new_sessions_do_not_start_while_the_installation_waits():
    from ocpp_station.core.events import CardPresented
    from ocpp_station.core.settings import StationSettings

    h = booted(StationSettings(connectors=2))
    start_charging(h, cid=1, tx_id=7)
    update(h, retries=0)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    fw_status(h, "Downloaded")
    expect_status(h, 2, "Unavailable")  # the idle connector at once
    h.feed(h.hardware.plug_in(2, h.now))
    h.event(CardPresented("TAG2", 2))
    h.no_call()  # Unavailable: no Authorize, no session


def test_trigger_reports_idle_then_the_current_status():
    h = booted()
    assert h.csms_conf("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {"status": "Accepted"}
    fw_status(h, "Idle")
    update(h, retries=0)
    fw_status(h, "Downloading")
    h.csms_conf("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    fw_status(h, "Downloading")


def test_unsupported_scheme_fails_the_download():
    h = booted()
    update(h, location="gopher://127.0.0.1/fw.bin", retries=3)
    fw_status(h, "Downloading")
    fw_status(h, "DownloadFailed")
    assert commands(h, DownloadFirmware) == []


def test_bad_retrieve_date_is_a_callerror_and_stores_nothing():
    h = booted()
    ans = h.csms_call("UpdateFirmware", {"location": URL, "retrieveDate": "yesterday"})
    assert ans[0] == 4 and ans[2] in ("FormationViolation", "PropertyConstraintViolation", "TypeConstraintViolation")
    assert h.store.get("firmware", "job") is None
    ans = h.csms_call("UpdateFirmware", {"location": URL, "retrieveDate": iso(T0), "retries": -1})
    assert ans[0] == 4 and ans[2] == "PropertyConstraintViolation"
    assert h.store.get("firmware", "job") is None


def test_power_cut_mid_download_resumes_after_restart_and_tells_the_csms(tmp_path):
    store = SqliteStore(tmp_path / "station.db")
    h = booted(store=store)
    update(h, retries=1)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    store.close()  # the power goes during the download

    store = SqliteStore(tmp_path / "station.db")
    h2 = CoreHarness(h.settings, store=store, now=h.now + 60)
    h2.start()
    h2.respond("BootNotification", h2.boot_conf())
    got = [h2.respond(h2.calls[0].action, {}) for _ in range(3)]
    assert [c.payload for c in got if c.action == "FirmwareStatusNotification"] == [{"status": "Downloading"}]
    [again] = commands(h2, DownloadFirmware)
    assert (again.job, again.resume) == (dl.job, True)  # the same file, continued
    h2.event(FirmwareDownloaded(dl.job, True))
    fw_status(h2, "Downloaded")
    store.close()


def test_firmware_version_comes_from_the_store_after_any_boot():
    h = booted()
    h.store.put("firmware", "version", "3.1")
    h2 = CoreHarness(h.settings, store=h.store, now=h.now)
    h2.start()
    assert h2.take("BootNotification").payload["firmwareVersion"] == "3.1"


def test_supported_file_transfer_protocols_key():
    h = booted()
    conf = h.csms_conf("GetConfiguration", {"key": ["SupportedFileTransferProtocols", "SupportedFeatureProfiles"]})
    values = {k["key"]: k for k in conf["configurationKey"]}
    assert values["SupportedFileTransferProtocols"] == {
        "key": "SupportedFileTransferProtocols", "readonly": True, "value": "FTP,FTPS,HTTP,HTTPS"}
    assert "FirmwareManagement" in values["SupportedFeatureProfiles"]["value"].split(",")


def test_without_the_profile_update_firmware_is_not_supported():
    from ocpp_station.core.settings import StationSettings

    h = booted(StationSettings(profiles=("Core",)))
    ans = h.csms_call("UpdateFirmware", {"location": URL, "retrieveDate": iso(T0)})
    assert ans[0] == 4 and ans[2] == "NotSupported"


def test_a_failed_download_leaves_the_running_transaction_alone():
    h = booted()
    start_charging(h, tx_id=9)
    update(h, retries=0)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, False, "disk full writing /data/firmware/x.bin.part"))
    fw_status(h, "DownloadFailed")
    h.no_call()
    assert h.station.connector(1).status.value == "Charging"
    assert h.station.feature["Transactions"].cond[1].tx.transaction_id == 9


def test_a_second_update_replaces_a_scheduled_one_and_is_ignored_once_started():
    h = booted()
    update(h, in_s=600, location="http://a/1.bin")
    update(h, in_s=60, location="http://a/2.bin", retries=0)
    h.advance(60)
    fw_status(h, "Downloading")
    [dl] = commands(h, DownloadFirmware)
    assert dl.location == "http://a/2.bin"
    update(h, location="http://a/3.bin")  # under way: the running update goes on
    h.advance(600)
    assert commands(h, DownloadFirmware) == []
    h.event(FirmwareDownloaded(dl.job, True))
    fw_status(h, "Downloaded")
    assert h.store.get("firmware", "job")["location"] == "http://a/2.bin"


def test_a_result_of_another_job_is_ignored():
    h = booted()
    update(h, retries=0)
    fw_status(h, "Downloading")
    h.event(FirmwareDownloaded("fw-other", True), FirmwareInstalled("fw-other", True, "9"))
    h.no_call()
    assert h.store.get("firmware", "version") is None

"""GetDiagnostics at core level: fileName, DiagnosticsStatusNotification Uploading / Uploaded / UploadFailed,
retries as re-tries, a second request restarting the cycle, a restart mid-upload ([SPEC] §5.9; [ERRATA] 3.31,
3.50; OCTT TC_045_1-2). The runtime's uploads are played by feeding the events it would send."""

from charging import booted

from harness import CoreHarness

from ocpp_station.core.clock import iso
from ocpp_station.core.commands import UploadDiagnostics
from ocpp_station.core.events import DiagnosticsUploaded
from ocpp_station.store.sqlite import SqliteStore

T0 = 1767225600.0
URL = "ftp://user:pass@127.0.0.1:2121/diagnostics"


def uploads(h):
    return [c for c in h.station.commands() if isinstance(c, UploadDiagnostics)]


def diag_status(h, status):
    assert h.respond("DiagnosticsStatusNotification", {}).payload == {"status": status}


def test_file_name_in_the_conf_then_uploading_uploaded():
    h = booted()
    conf = h.csms_conf("GetDiagnostics", {"location": URL, "startTime": iso(T0 - 3600), "stopTime": iso(T0)})
    name = conf["fileName"]
    assert name.startswith("diagnostics-CP001-") and name.endswith(".zip") and len(name) <= 255
    [up] = uploads(h)
    assert (up.location, up.file_name, up.start_time, up.stop_time) == (URL, name, T0 - 3600, T0)
    diag_status(h, "Uploading")
    h.event(DiagnosticsUploaded(up.job, True))
    diag_status(h, "Uploaded")  # TC_045_1
    h.no_call()
    assert h.store.get("diagnostics", "job") is None


def test_retries_zero_is_one_attempt_with_uploading_first():
    h = booted()
    h.csms_conf("GetDiagnostics", {"location": URL, "retries": 0, "retryInterval": 5})
    [up] = uploads(h)
    diag_status(h, "Uploading")
    h.event(DiagnosticsUploaded(up.job, False, "login refused"))
    diag_status(h, "UploadFailed")  # TC_045_2
    h.advance(60)
    assert uploads(h) == []
    h.no_call()


def test_retries_are_re_tries_retry_interval_apart_without_repeated_uploading():
    h = booted()
    h.csms_conf("GetDiagnostics", {"location": URL, "retries": 2, "retryInterval": 10})
    diag_status(h, "Uploading")
    times = []
    for i in range(3):
        [up] = uploads(h)
        times.append(h.now)
        h.event(DiagnosticsUploaded(up.job, False, "refused"))
        if i < 2:
            h.advance(9.9)
            assert uploads(h) == []
            h.no_call()  # [ERRATA] 3.50, libocpp #459: no second Uploading
            h.advance(0.1)
    assert [t - times[0] for t in times] == [0, 10, 20]
    diag_status(h, "UploadFailed")


def test_a_second_request_restarts_the_cycle_and_ignores_the_old_result():
    h = booted()
    h.csms_conf("GetDiagnostics", {"location": URL})
    [old] = uploads(h)
    diag_status(h, "Uploading")
    h.csms_conf("GetDiagnostics", {"location": URL + "2"})
    [new] = uploads(h)
    diag_status(h, "Uploading")
    h.event(DiagnosticsUploaded(old.job, True))
    h.no_call()
    h.event(DiagnosticsUploaded(new.job, True))
    diag_status(h, "Uploaded")


def test_trigger_idle_then_uploading():
    h = booted()
    h.csms_conf("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    diag_status(h, "Idle")
    h.csms_conf("GetDiagnostics", {"location": URL})
    diag_status(h, "Uploading")
    h.csms_conf("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    diag_status(h, "Uploading")


def test_unsupported_scheme_is_uploading_then_upload_failed():
    h = booted()
    conf = h.csms_conf("GetDiagnostics", {"location": "scp://127.0.0.1/x"})
    assert "fileName" in conf
    diag_status(h, "Uploading")
    diag_status(h, "UploadFailed")
    assert uploads(h) == []


def test_bad_start_time_is_a_callerror_and_stores_nothing():
    h = booted()
    ans = h.csms_call("GetDiagnostics", {"location": URL, "retryInterval": -5})
    assert ans[0] == 4 and ans[2] == "PropertyConstraintViolation"
    assert h.store.get("diagnostics", "job") is None
    h.no_call()


def test_restart_mid_upload_tries_again_and_tells_the_csms(tmp_path):
    store = SqliteStore(tmp_path / "station.db")
    h = booted(store=store)
    conf = h.csms_conf("GetDiagnostics", {"location": URL, "retries": 0})
    [up] = uploads(h)
    store.close()

    store = SqliteStore(tmp_path / "station.db")
    h2 = CoreHarness(h.settings, store=store, now=h.now + 30)
    h2.start()
    h2.respond("BootNotification", h2.boot_conf())
    got = [h2.respond(h2.calls[0].action, {}) for _ in range(3)]
    assert [c.payload for c in got if c.action == "DiagnosticsStatusNotification"] == [{"status": "Uploading"}]
    [again] = uploads(h2)
    assert (again.job, again.file_name) == (up.job, conf["fileName"])
    h2.event(DiagnosticsUploaded(up.job, True))
    diag_status(h2, "Uploaded")
    store.close()

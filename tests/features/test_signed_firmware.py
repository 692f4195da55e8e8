"""Signed firmware (SignedUpdateFirmware, [SEC] L01) and GetLog ([SEC] N01) at core level (manual `now`), and the
signature check of the runtime (ECDSA, RSA PKCS#1 v1.5, RSA-PSS over SHA-256)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ocpp_station.core.commands import DiscardFirmware, DownloadFirmware, InstallFirmware, Reboot, UploadDiagnostics, VerifyFirmware
from ocpp_station.core.events import DiagnosticsUploaded, FirmwareDownloaded, FirmwareInstalled, FirmwareVerified
from ocpp_station.core.settings import SecuritySettings, StationSettings
from ocpp_station.features.security import certificates as certs
from ocpp_station.runtime.filejobs import verify_file
from ocpp_station.store import MemoryStore
from harness import CoreHarness
from pki import CA, DAY, NOW, pem

SIG = base64.b64encode(b"x" * 64).decode()  # the core never looks into it: the runtime verifies


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def harness(store=None, legacy: bool = False, **kw) -> tuple[CoreHarness, CA]:
    st = StationSettings(security=SecuritySettings(legacy_update_firmware=legacy))
    h = CoreHarness(st, store=store, now=NOW.timestamp(), **kw)
    root = CA("Manufacturer Root")
    h.station.feature["Security"].files.write("manufacturer_root_ca", root.pem)
    return h, root


def boot(h: CoreHarness) -> None:
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": _iso(h.now)})
    for _ in range(h.settings.connectors + 1):
        h.respond("StatusNotification", {})
    assert h.respond("SecurityEventNotification", {}).payload["type"] == "StartupOfTheDevice"
    h.no_call()


def signing_cert(root: CA, **kw) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return pem(root.issue(key.public_key(), "Firmware Signer", **kw))


def request(cert: str, request_id: int = 7, retrieve: float | None = None, install: float | None = None,
            **extra) -> dict:
    fw = {"location": "http://files.example/fw.bin", "retrieveDateTime": _iso(retrieve if retrieve is not None else NOW.timestamp() - 60),
          "signingCertificate": cert, "signature": SIG}
    if install is not None:
        fw["installDateTime"] = _iso(install)
    return {"requestId": request_id, "firmware": fw, **extra}


def cmds(h: CoreHarness, kind) -> list:
    return [c for c in h.station.commands() if isinstance(c, kind)]


def drain(h: CoreHarness) -> list[tuple[str, dict]]:
    """Every CALL sent so far (and those their answers let out), each answered {}."""
    out = []
    while h.calls:
        call = h.take()
        h.reply(call, {})
        out.append((call.action, call.payload))
    return out


def signed(h: CoreHarness, got: list | None = None) -> list[dict]:
    """The SignedFirmwareStatusNotifications sent (the other CALLs answered too)."""
    return [p for a, p in (drain(h) if got is None else got) if a == "SignedFirmwareStatusNotification"]


def events(got: list) -> list[str]:
    return [p["type"] for a, p in got if a == "SecurityEventNotification"]


def test_signed_update_goes_through_every_status_with_the_request_id():
    h, root = harness()
    boot(h)
    assert h.csms_conf("SignedUpdateFirmware", request(signing_cert(root))) == {"status": "Accepted"}
    h.advance(0)
    [dl] = cmds(h, DownloadFirmware)
    assert signed(h) == [{"status": "Downloading", "requestId": 7}]
    h.event(FirmwareDownloaded(dl.job, True))
    [v] = cmds(h, VerifyFirmware)
    assert v.job == dl.job and v.signature == SIG
    assert cmds(h, InstallFirmware) == []  # L01.FR.04: nothing installed before the signature verifies
    h.event(FirmwareVerified(dl.job, True))
    [inst] = cmds(h, InstallFirmware)
    sent = [p["status"] for p in signed(h)]
    assert sent == ["Downloaded", "SignatureVerified", "Installing"]
    h.event(FirmwareInstalled(inst.job, True, "2.0.0"))
    assert signed(h) == [{"status": "InstallRebooting", "requestId": 7}]
    h.advance(0.2)
    assert any(isinstance(c, Reboot) for c in h.station.commands())
    assert h.station.store.get("firmware", "job")["state"] == "Installed"


def test_installed_and_firmware_updated_once_after_the_reboot():
    store = MemoryStore()
    h, root = harness(store=store)
    boot(h)
    h.csms_conf("SignedUpdateFirmware", request(signing_cert(root)))
    h.advance(0)
    [dl] = cmds(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    h.event(FirmwareVerified(dl.job, True))
    [inst] = cmds(h, InstallFirmware)
    h.event(FirmwareInstalled(inst.job, True, "2.0.0"))
    # a new boot on the same store: the new image
    h2 = CoreHarness(h.settings, store=store, now=h.now + 5)
    h2.station.feature["Security"].files.write("manufacturer_root_ca", root.pem)
    h2.start()
    boot_call = h2.take("BootNotification")
    assert boot_call.payload["firmwareVersion"] == "2.0.0"
    h2.reply(boot_call, {"status": "Accepted", "interval": 10, "currentTime": _iso(h2.now)})
    got = drain(h2)
    assert signed(h2, got) == [{"status": "Installed", "requestId": 7}]
    assert events(got).count("FirmwareUpdated") == 1
    assert store.get("firmware", "job") is None
    # ExtendedTriggerMessage after Installed: Idle without requestId (L01.FR.28)
    assert h2.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {"status": "Accepted"}
    assert signed(h2) == [{"status": "Idle"}]


def test_invalid_signature_raises_the_event_and_installs_nothing():
    h, root = harness()
    boot(h)
    h.csms_conf("SignedUpdateFirmware", request(signing_cert(root)))
    h.advance(0)
    [dl] = cmds(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    h.event(FirmwareVerified(dl.job, False, "the signature does not verify"))
    got = drain(h)
    assert [p["status"] for p in signed(h, got)] == ["Downloading", "Downloaded", "InvalidSignature"]
    assert events(got) == ["InvalidFirmwareSignature"]
    done = h.station.commands()
    assert not any(isinstance(c, InstallFirmware) for c in done)
    assert [type(c) for c in done] == [VerifyFirmware, DiscardFirmware]
    assert h.station.store.get("firmware", "job") is None


@pytest.mark.parametrize("case", ["untrusted", "expired", "malformed", "no_root"])
def test_bad_signing_certificate_is_invalid_certificate(case):
    h, root = harness()
    boot(h)
    if case == "untrusted":
        cert = signing_cert(CA("Another Root"))
    elif case == "expired":
        cert = signing_cert(root, not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    elif case == "malformed":
        cert = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    else:
        cert = signing_cert(root)
        h.station.feature["Security"].files.write("manufacturer_root_ca", "")
    assert h.csms_conf("SignedUpdateFirmware", request(cert)) == {"status": "InvalidCertificate"}
    assert events(drain(h)) == ["InvalidFirmwareSigningCertificate"]
    h.advance(1)
    assert cmds(h, DownloadFirmware) == []  # nothing stored, nothing started
    assert h.station.store.get("firmware", "job") is None


def test_the_manufacturer_root_itself_is_accepted_as_signing_certificate():
    h, root = harness()
    boot(h)
    assert h.csms_conf("SignedUpdateFirmware", request(root.pem)) == {"status": "Accepted"}


def test_download_scheduled_and_install_scheduled_wait_for_their_dates():
    h, root = harness()
    boot(h)
    t = h.now
    h.csms_conf("SignedUpdateFirmware", request(signing_cert(root), retrieve=t + 60, install=t + 300))
    assert signed(h) == [{"status": "DownloadScheduled", "requestId": 7}]
    h.advance(59)
    assert cmds(h, DownloadFirmware) == []
    h.advance(1)
    [dl] = cmds(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    h.event(FirmwareVerified(dl.job, True))
    assert [p["status"] for p in signed(h)] == ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"]
    h.advance(200)
    assert cmds(h, InstallFirmware) == []
    h.advance(40)
    assert len(cmds(h, InstallFirmware)) == 1
    assert [p["status"] for p in signed(h)] == ["Installing"]


def test_a_new_signed_update_cancels_the_one_under_way():
    h, root = harness()
    boot(h)
    h.csms_conf("SignedUpdateFirmware", request(signing_cert(root), request_id=1))
    h.advance(0)
    [dl] = cmds(h, DownloadFirmware)
    assert h.csms_conf("SignedUpdateFirmware", request(signing_cert(root), request_id=2)) == {"status": "AcceptedCanceled"}
    assert [c.job for c in cmds(h, DiscardFirmware)] == [dl.job]
    h.advance(0)
    [dl2] = cmds(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))  # the cancelled one's result: ignored
    assert cmds(h, VerifyFirmware) == []
    assert [p["requestId"] for p in signed(h)] == [1, 2]


def test_legacy_update_firmware_is_not_supported_with_the_security_extension():
    h, _ = harness()
    boot(h)
    out = h.csms_call("UpdateFirmware", {"location": "http://x/fw.bin", "retrieveDate": _iso(h.now)})
    assert out[0] == 4 and out[2] == "NotSupported"  # L01.FR.20
    assert h.station.store.get("firmware", "job") is None
    h2, _ = harness(legacy=True)
    boot(h2)
    assert h2.csms_conf("UpdateFirmware", {"location": "http://x/fw.bin", "retrieveDate": _iso(h2.now)}) == {}


def test_extended_trigger_repeats_the_last_signed_status():
    h, root = harness()
    boot(h)
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {"status": "Accepted"}
    assert signed(h) == [{"status": "Idle"}]
    h.csms_conf("SignedUpdateFirmware", request(signing_cert(root), request_id=9))
    h.advance(0)
    signed(h)
    h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    assert signed(h) == [{"status": "Downloading", "requestId": 9}]


# -- GetLog -------------------------------------------------------------------------------------


def get_log(kind: str = "SecurityLog", request_id: int = 3, location: str = "http://files.example/logs", **extra):
    return {"logType": kind, "requestId": request_id, "log": {"remoteLocation": location}, **extra}


def logs(h: CoreHarness) -> list[dict]:
    return [p for a, p in drain(h) if a == "LogStatusNotification"]


@pytest.mark.parametrize("kind", ["SecurityLog", "DiagnosticsLog"])
def test_get_log_uploads_with_the_request_id(kind):
    h, _ = harness()
    boot(h)
    conf = h.csms_conf("GetLog", get_log(kind))
    assert conf["status"] == "Accepted" and conf["filename"].endswith(".log" if kind == "SecurityLog" else ".zip")
    [up] = cmds(h, UploadDiagnostics)
    assert up.log_type == kind and up.file_name == conf["filename"]
    h.event(DiagnosticsUploaded(up.job, True))
    assert logs(h) == [{"status": "Uploading", "requestId": 3}, {"status": "Uploaded", "requestId": 3}]


@pytest.mark.parametrize("error, status", [("login refused by 127.0.0.1:21 for user 'x': 530", "PermissionDenied"),
                                           ("HTTP 403 Forbidden for http://x/y", "PermissionDenied"),
                                           ("cannot connect to x:80: refused", "UploadFailure")])
def test_get_log_failure_after_the_retries(error, status):
    h, _ = harness()
    boot(h)
    h.csms_conf("GetLog", get_log(retries=1, retryInterval=10))
    [up] = cmds(h, UploadDiagnostics)
    h.event(DiagnosticsUploaded(up.job, False, error))
    h.advance(10)
    [up2] = cmds(h, UploadDiagnostics)
    h.event(DiagnosticsUploaded(up2.job, False, error))
    assert logs(h) == [{"status": "Uploading", "requestId": 3}, {"status": status, "requestId": 3}]


@pytest.mark.parametrize("location, status", [("sftp://x/y", "NotSupportedOperation"), ("not a url", "BadMessage")])
def test_get_log_location_it_cannot_use(location, status):
    h, _ = harness()
    boot(h)
    assert h.csms_conf("GetLog", get_log(location=location))["status"] == "Accepted"
    assert cmds(h, UploadDiagnostics) == []
    assert logs(h) == [{"status": status, "requestId": 3}]


def test_a_new_get_log_cancels_the_upload_and_trigger_reports_it():
    h, _ = harness()
    boot(h)
    h.csms_conf("GetLog", get_log(request_id=1))
    [up] = cmds(h, UploadDiagnostics)
    assert h.csms_conf("GetLog", get_log(request_id=2))["status"] == "AcceptedCanceled"
    [up2] = cmds(h, UploadDiagnostics)
    h.event(DiagnosticsUploaded(up.job, True))  # the cancelled one: ignored
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})["status"] == "Accepted"
    h.event(DiagnosticsUploaded(up2.job, True))
    assert logs(h) == [{"status": "Uploading", "requestId": 1}, {"status": "Uploading", "requestId": 2},
                       {"status": "Uploading", "requestId": 2}, {"status": "Uploaded", "requestId": 2}]
    h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    assert logs(h) == [{"status": "Idle"}]  # N01.FR.12: Idle only when triggered, without requestId


def test_get_log_survives_a_restart():
    store = MemoryStore()
    h, _ = harness(store=store)
    boot(h)
    h.csms_conf("GetLog", get_log())
    h2 = CoreHarness(h.settings, store=store, now=h.now + 5)
    h2.start()
    h2.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": _iso(h2.now)})
    [up] = cmds(h2, UploadDiagnostics)
    h2.event(DiagnosticsUploaded(up.job, True))
    assert logs(h2) == [{"status": "Uploading", "requestId": 3}, {"status": "Uploaded", "requestId": 3}]


# -- the signature check -------------------------------------------------------------------------


def _signed_file(tmp_path, key, sign) -> tuple:
    data = b"firmware image " * 10000
    path = tmp_path / "fw.bin"
    path.write_bytes(data)
    return path, base64.b64encode(sign(key, data)).decode()


@pytest.mark.parametrize("kind", ["ecdsa", "rsa-pkcs1", "rsa-pss"])
def test_verify_file_accepts_each_algorithm_and_refuses_a_changed_file(tmp_path, kind):
    root = CA("Manufacturer Root")
    if kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
        sign = lambda k, d: k.sign(d, ec.ECDSA(hashes.SHA256()))  # noqa: E731
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pad = padding.PKCS1v15() if kind == "rsa-pkcs1" else padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH)
        sign = lambda k, d: k.sign(d, pad, hashes.SHA256())  # noqa: E731
    cert = pem(root.issue(key.public_key(), "Firmware Signer"))
    path, sig = _signed_file(tmp_path, key, sign)
    verify_file(path, cert, sig)
    path.write_bytes(path.read_bytes() + b"!")
    with pytest.raises(certs.CertificateError, match="does not verify"):
        verify_file(path, cert, sig)
    with pytest.raises(certs.CertificateError, match="not base64"):
        verify_file(path, cert, "***")


def test_a_signed_update_cannot_cancel_one_that_is_installing():
    h, root = harness()
    boot(h)
    h.csms_conf("SignedUpdateFirmware", request(signing_cert(root), request_id=1))
    h.advance(0)
    [dl] = cmds(h, DownloadFirmware)
    h.event(FirmwareDownloaded(dl.job, True))
    h.event(FirmwareVerified(dl.job, True))
    [inst] = cmds(h, InstallFirmware)
    drain(h)
    assert h.csms_conf("SignedUpdateFirmware", request(signing_cert(root), request_id=2)) == {"status": "Rejected"}
    assert h.station.store.get("firmware", "job")["request_id"] == 1  # L01.FR.27: the one installing goes on
    h.event(FirmwareInstalled(inst.job, False, error="refused"))
    got = drain(h)
    assert signed(h, got) == [{"status": "InstallationFailed", "requestId": 1}]
    assert "FirmwareUpdated" not in events(got)
    assert [(a, p["status"]) for a, p in got if a == "StatusNotification"] == [("StatusNotification", "Available")]


@pytest.mark.parametrize("action, payload, code", [
    # a date-time that is none breaks the schema's format ([OCPPJ] §4.2.3: TypeConstraintViolation)
    ("SignedUpdateFirmware", {"requestId": 1, "firmware": {"location": "http://x/f", "retrieveDateTime": "yesterday",
                                                           "signingCertificate": "x", "signature": "x"}},
     "TypeConstraintViolation"),
    # a negative count or interval is a valid integer with no meaning ([JERRATA] 2.5, as UpdateFirmware)
    ("SignedUpdateFirmware", {"requestId": 1, "retries": -1, "firmware": {
        "location": "http://x/f", "retrieveDateTime": "2026-01-01T00:00:00Z", "signingCertificate": "x",
        "signature": "x"}}, "PropertyConstraintViolation"),
    ("GetLog", {"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": "http://x/", "oldestTimestamp": "soon"}},
     "TypeConstraintViolation"),
    ("GetLog", {"logType": "SecurityLog", "requestId": 1, "retryInterval": -5, "log": {"remoteLocation": "http://x/"}},
     "PropertyConstraintViolation"),
])
def test_bad_dates_and_counts_are_callerrors_and_store_nothing(action, payload, code):
    h, _ = harness()
    boot(h)
    out = h.csms_call(action, payload)
    assert (out[0], out[2]) == (4, code)
    assert h.station.store.get("firmware", "job") is None and h.station.store.get("security_log", "job") is None
    assert h.station.commands() == []

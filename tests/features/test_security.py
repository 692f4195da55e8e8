"""The security extension at core level (manual `now`): profile rules, AuthorizationKey rules, the fallback of
new credentials, security events in the persisted queue, certificates ([SEC] white paper edition 3)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from hypothesis import given, settings as hsettings, strategies as hs

from ocpp_station.core.commands import Reconnect
from ocpp_station.core.events import ConnectFailed
from ocpp_station.core.settings import SecuritySettings, StationSettings
from ocpp_station.features.security import FALLBACK_AFTER, certificates as certs
from ocpp_station.store import MemoryStore
from harness import CoreHarness
from pki import CA, NOW, DAY, pem

KEY = "4F43415F4F4354545F61646D696E5F74657374"  # OCTT's TC_073 key: "OCA_OCTT_admin_test" (19 bytes)
KEY2 = "00112233445566778899aabbccddeeff00112233"


def harness(profile: int = 0, store=None, roots: str = "", now: float | None = None, **ocpp) -> CoreHarness:
    st = StationSettings(security=SecuritySettings(profile=profile))
    h = CoreHarness(st, store=store, now=now if now is not None else NOW.timestamp(), **ocpp)
    if roots:
        h.station.feature["Security"].files.write("csms_root_ca", roots)
    return h


def boot(h: CoreHarness) -> None:
    """Boot Accepted, answer the statuses, then the StartupOfTheDevice event."""
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": _iso(h.now)})
    for _ in range(h.settings.connectors + 1):
        h.respond("StatusNotification", {})
    ev = h.respond("SecurityEventNotification", {})
    assert ev.payload["type"] == "StartupOfTheDevice"
    h.no_call()


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def commands(h: CoreHarness) -> list:
    return h.station.commands()


# -- AuthorizationKey -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, status",
    [
        (KEY, "Accepted"),  # 38 hex digits, 19 bytes
        (KEY2, "Accepted"),  # 40 hex digits, 20 bytes
        ("00112233445566778899aabbccddeeff", "Accepted"),  # 32 hex digits, 16 bytes
        ("00112233445566778899aabbccddee", "Rejected"),  # 15 bytes: [SEC] A00.FR.205 asks 16-20
        ("00112233445566778899aabbccddeeff0011223344", "Rejected"),  # 21 bytes
        ("00112233445566778899aabbccddeeff0", "Rejected"),  # odd number of digits
        ("OCA_OCTT_admin_test_password!!!!", "Rejected"),  # not hex
        ("", "Rejected"),
    ],
)
def test_authorization_key_hex_rules(value, status):
    h = harness()
    boot(h)
    conf = h.csms_conf("ChangeConfiguration", {"key": "AuthorizationKey", "value": value})
    assert conf == {"status": status}
    got = h.csms_conf("GetConfiguration", {"key": ["AuthorizationKey"]})
    assert got["configurationKey"] == [{"key": "AuthorizationKey", "readonly": False}]  # write-only, never the value
    if status == "Rejected":
        assert h.station.config.text("AuthorizationKey") == ""  # nothing stored changes
        assert h.station.commands() == []


@hsettings(max_examples=60, deadline=None)
@given(raw=hs.binary(min_size=0, max_size=30), upper=hs.booleans(), cut=hs.booleans())
def test_authorization_key_property(raw, upper, cut):
    """Digest §9.2: random byte strings as hex (either case, sometimes an odd length): Accepted iff 16-20 bytes."""
    text = raw.hex().upper() if upper else raw.hex()
    if cut and text:
        text = text[:-1]
    h = harness()
    boot(h)
    conf = h.csms_conf("ChangeConfiguration", {"key": "AuthorizationKey", "value": text})
    ok = not (cut and raw) and 16 <= len(raw) <= 20
    assert conf == {"status": "Accepted" if ok else "Rejected"}


def test_new_authorization_key_reconnects_and_logs_without_the_value():
    """A01 steps 3-4: Accepted, then the station drops the link and reconnects with the new password;
    the change is logged, never the value (A01.FR.11/12)."""
    h = harness(profile=1, AuthorizationKey=KEY2)
    boot(h)
    assert h.csms_conf("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY}) == {"status": "Accepted"}
    assert [type(c) for c in commands(h)] == [Reconnect]
    ev = h.take("SecurityEventNotification")
    assert ev.payload["type"] == "ReconfigurationOfSecurityParameters"
    log = "\n".join(h.station.feature["Security"].files.log_lines)
    assert KEY not in log and KEY2 not in log


# -- SecurityProfile ------------------------------------------------------------------------------


@pytest.mark.parametrize("current, requested", [(1, 0), (1, 1), (2, 1), (2, 0), (3, 2)])
def test_downgrade_or_same_profile_rejected(current, requested):
    """TC_084 / A05.FR.01: a value at or below the current one is Rejected and changes nothing."""
    ca = CA()
    h = harness(profile=current, roots=ca.pem, AuthorizationKey=KEY)
    boot(h)
    conf = h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": str(requested)})
    assert conf == {"status": "Rejected"}
    assert h.station.config["SecurityProfile"] == current
    assert h.station.store.get("security", "fallback") is None
    assert commands(h) == []


def test_upgrade_needs_its_credentials():
    """A05.FR.02-04: 1 needs an AuthorizationKey, 2 a CSMS root certificate, 3 the station's certificate."""
    h = harness(profile=0)
    boot(h)
    assert h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": "1"}) == {"status": "Rejected"}
    assert h.csms_conf("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY}) == {"status": "Accepted"}
    commands(h)
    h.take("SecurityEventNotification")
    assert h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}) == {"status": "Rejected"}
    assert h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == {"status": "Rejected"}
    assert h.station.config["SecurityProfile"] == 0


@hsettings(max_examples=40, deadline=None)
@given(requests=hs.lists(hs.integers(min_value=0, max_value=3), max_size=8))
def test_profile_never_decreases(requests):
    """Digest §9.2: any sequence of requested values leaves the profile non-decreasing; <= current Rejected."""
    h = harness(profile=0, AuthorizationKey=KEY)
    # no crypto needed here: a CSMS root is only counted
    h.station.feature["Security"]._roots = lambda item: [object()] if item == "csms_root_ca" else []
    boot(h)
    for r in requests:
        before = h.station.config["SecurityProfile"]
        conf = h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": str(r)})
        after = h.station.config["SecurityProfile"]
        assert after >= before
        if r <= before:
            assert conf == {"status": "Rejected"} and after == before
        elif r <= 2:
            assert conf == {"status": "Accepted"} and after == r
        h.station.connection_made(h.now)  # the new profile connected: committed
        h.calls.clear()


def test_upgrade_falls_back_when_the_new_profile_cannot_connect():
    """A05.FR.08: 1 -> 2 Accepted, reconnect; FALLBACK_AFTER failed attempts later the station is back on
    profile 1 with its key, raises ReconfigurationOfSecurityParameters, and it stays so after a restart."""
    ca = CA()
    store = MemoryStore()
    h = harness(profile=1, store=store, roots=ca.pem, AuthorizationKey=KEY)
    boot(h)
    assert h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}) == {"status": "Accepted"}
    assert [type(c) for c in commands(h)] == [Reconnect]
    assert h.station.feature["Security"].link()["tls"] is True
    h.respond("SecurityEventNotification", {})
    h.disconnect()
    for i in range(FALLBACK_AFTER):
        assert h.station.config["SecurityProfile"] == 2
        h.event(ConnectFailed("certificate", "TLS: the CSMS certificate is not trusted"))
    assert h.station.config["SecurityProfile"] == 1
    assert h.station.config.text("AuthorizationKey") == KEY
    assert store.get("security", "fallback") is None
    h.connect()
    kinds = [h.respond("SecurityEventNotification", {}).payload["type"] for _ in range(2)]
    # one InvalidCentralSystemCertificate for the whole episode (libocpp #1156), then the fallback
    assert kinds == ["InvalidCentralSystemCertificate", "ReconfigurationOfSecurityParameters"]
    h2 = CoreHarness(h.settings, store=store)
    assert h2.station.config["SecurityProfile"] == 1


def test_a_new_profile_that_connected_is_kept():
    """Digest §10 item 22 / TC_083: once the new profile connected, failures later never go back."""
    ca = CA()
    h = harness(profile=1, roots=ca.pem, AuthorizationKey=KEY)
    boot(h)
    assert h.csms_conf("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}) == {"status": "Accepted"}
    h.disconnect()
    h.connect()
    for _ in range(FALLBACK_AFTER + 2):
        h.event(ConnectFailed("network", "connection refused"))
    assert h.station.config["SecurityProfile"] == 2


def test_bad_new_password_falls_back_to_the_working_one():
    """A wrong new AuthorizationKey (the CSMS answers 401): FailedToAuthenticateAtCentralSystem once, then the
    previous key again: the station can still reach its CSMS."""
    h = harness(profile=1, AuthorizationKey=KEY)
    boot(h)
    assert h.csms_conf("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY2}) == {"status": "Accepted"}
    h.disconnect()
    for _ in range(FALLBACK_AFTER):
        h.event(ConnectFailed("auth", "HTTP 401"))
    assert h.station.config.text("AuthorizationKey") == KEY
    types = [e["type"] for e in h.station.feature["Security"].events.raised]
    assert types.count("FailedToAuthenticateAtCentralSystem") == 1


# -- security events --------------------------------------------------------------------------------


def test_critical_events_are_persisted_and_retried():
    """A04.FR.01/02: StartupOfTheDevice is in the store before the link is up, not sent before Accepted,
    survives a restart, and a CALLERROR gets it retried like a transaction message."""
    store = MemoryStore()
    h = harness(store=store, TransactionMessageRetryInterval=5)
    h2_now = h.now
    h.start(connect=False)
    assert [m.action for m in h.station.tx_queue] == ["SecurityEventNotification"]
    h2 = CoreHarness(h.settings, store=store, now=h2_now, TransactionMessageRetryInterval=5)  # restart (kill -9)
    h2.start()
    h2.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": _iso(h2.now)})
    for _ in range(2):
        h2.respond("StatusNotification", {})
    first = h2.take("SecurityEventNotification")
    assert first.payload["type"] == "StartupOfTheDevice"
    h2.reply_error(first, "InternalError")
    h2.advance(4.9)
    # the second boot's own StartupOfTheDevice is queued behind the first one
    h2.no_call()
    h2.advance(0.2)
    again = h2.take("SecurityEventNotification")
    assert again.unique_id == first.unique_id and again.payload == first.payload
    h2.reply(again, {})
    assert h2.take("SecurityEventNotification").payload["type"] == "StartupOfTheDevice"


def test_reset_raises_reset_or_reboot():
    h = harness()
    boot(h)
    assert h.csms_conf("Reset", {"type": "Hard"}) == {"status": "Accepted"}
    assert [m.payload["type"] for m in h.station.tx_queue] == ["ResetOrReboot"]


def test_clock_step_raises_setting_system_time():
    h = harness()
    h.start()
    later = dt.datetime.fromtimestamp(h.now + 3600, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    h.respond("BootNotification", {"status": "Accepted", "interval": 10, "currentTime": later})
    assert [m.payload["type"] for m in h.station.tx_queue] == ["StartupOfTheDevice", "SettingSystemTime"]


# -- certificates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
@pytest.mark.parametrize("serial", [0xFFF, 0x00FF_FFFF, 2**159 - 1, 1])
def test_hash_data_is_the_ocsp_cert_id(algorithm, serial):
    """[SEC] edition 3 CertificateHashDataType = RFC 6960 CertID: compare with cryptography's OCSP request."""
    root = CA()
    sub = CA("Sub CA", issuer=root, serial=serial)
    for cert, issuer in ((root.cert, root.cert), (sub.cert, root.cert)):
        got = certs.hash_data(cert, issuer, algorithm)
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, certs.HASHES[algorithm]()).build()
        assert got == {
            "hashAlgorithm": algorithm,
            "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(),
            "serialNumber": format(req.serial_number, "x"),
        }
    assert certs.hash_data(sub.cert, root.cert)["serialNumber"] == format(serial, "x")  # no leading zeros


def test_install_get_delete_certificates():
    """M03-M05: Install Accepted; Get lists it with its hash data; Delete (each algorithm) Accepted; then NotFound."""
    h = harness()
    boot(h)
    assert h.csms_conf("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"}) == {
        "status": "NotFound"}
    a, b = CA("A"), CA("B")
    for ca in (a, b):
        assert h.csms_conf("InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                                  "certificate": ca.pem}) == {"status": "Accepted"}
    got = h.csms_conf("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"})
    assert got["status"] == "Accepted"
    assert got["certificateHashData"] == [certs.hash_data(a.cert, a.cert), certs.hash_data(b.cert, b.cert)]
    upper = {k: v.upper() if k != "hashAlgorithm" else v for k, v in certs.hash_data(a.cert, a.cert, "SHA512").items()}
    assert h.csms_conf("DeleteCertificate", {"certificateHashData": upper}) == {"status": "Accepted"}
    assert h.csms_conf("DeleteCertificate", {"certificateHashData": upper}) == {"status": "NotFound"}
    got = h.csms_conf("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"})
    assert got["certificateHashData"] == [certs.hash_data(b.cert, b.cert)]


@pytest.mark.parametrize("bad", ["not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                 "expired", "not-yet-valid", "leaf"])
def test_install_invalid_certificate_rejected(bad):
    """M05.FR.03: an invalid certificate is Rejected, InvalidCentralSystemCertificate raised, nothing stored."""
    ca = CA()
    if bad == "expired":
        bad = CA(not_before=NOW - 10 * DAY, not_after=NOW - DAY).pem
    elif bad == "not-yet-valid":
        bad = CA(not_before=NOW + DAY, not_after=NOW + 10 * DAY).pem
    elif bad == "leaf":
        from cryptography.hazmat.primitives.asymmetric import ec

        bad = pem(ca.issue(ec.generate_private_key(ec.SECP256R1()).public_key(), "not a CA"))
    h = harness(now=NOW.timestamp())
    boot(h)
    conf = h.csms_conf("InstallCertificate", {"certificateType": "CentralSystemRootCertificate", "certificate": bad})
    assert conf == {"status": "Rejected"}
    assert h.take("SecurityEventNotification").payload["type"] == "InvalidCentralSystemCertificate"
    assert h.station.feature["Security"].files.read("csms_root_ca") == ""


def test_certificate_store_max_length():
    h = harness(CertificateStoreMaxLength=2)
    boot(h)
    for i, status in enumerate(["Accepted", "Accepted", "Rejected"]):
        conf = h.csms_conf("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                  "certificate": CA(f"R{i}").pem})
        assert conf == {"status": status}


def test_delete_the_last_csms_root_in_use_fails():
    """M04.FR.06: the CentralSystemRootCertificate that validates the connection (profile 2) cannot go."""
    ca = CA()
    h = harness(profile=2, roots=ca.pem, AuthorizationKey=KEY)
    boot(h)
    conf = h.csms_conf("DeleteCertificate", {"certificateHashData": certs.hash_data(ca.cert, ca.cert)})
    assert conf == {"status": "Failed"}


def _sign_flow(h: CoreHarness) -> str:
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
        "status": "Accepted"}
    call = h.respond("SignCertificate", {"status": "Accepted"})
    return call.payload["csr"]


def test_sign_certificate_flow_and_checks():
    """A02: without CpoName Rejected; with it a fresh key, a CSR CN = serial number, O = CpoName; CertificateSigned
    checked (key, chain, CN, size); a good one Accepted and installed; the key file never leaves the station."""
    ca = CA()
    st = StationSettings(security=SecuritySettings(profile=2), serial_number="SN-0001")
    h = CoreHarness(st, now=NOW.timestamp(), AuthorizationKey=KEY, CertificateSignedMaxChainSize=3000)
    files = h.station.feature["Security"].files
    files.write("csms_root_ca", ca.pem)
    boot(h)
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
        "status": "Rejected"}
    assert h.csms_conf("ChangeConfiguration", {"key": "CpoName", "value": "Test CPO"}) == {"status": "Accepted"}
    csr_pem = _sign_flow(h)
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SN-0001"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Test CPO"
    assert "PRIVATE" not in csr_pem
    assert files.read("new_key") and not files.read("key")

    def signed(chain: str) -> dict:
        return h.csms_conf("CertificateSigned", {"certificateChain": chain})

    other = CA("Other")
    bad = {
        "wrong CN": pem(ca.sign_csr(csr_pem, cn="SN-9999")),
        "untrusted": pem(other.sign_csr(csr_pem)),
        "expired": pem(ca.sign_csr(csr_pem, not_before=NOW - 10 * DAY, not_after=NOW - DAY)),
        "other key": pem(ca.issue(CA().key.public_key(), "SN-0001")),
        "malformed": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
        "too long": pem(ca.sign_csr(csr_pem)) + " " * 3000,  # CertificateSignedMaxChainSize
    }
    h.now = NOW.timestamp()
    for why, chain in bad.items():
        assert signed(chain) == {"status": "Rejected"}, why
        ev = h.take("SecurityEventNotification")
        assert ev.payload["type"] == "InvalidChargePointCertificate", why
        h.reply(ev, {})
        assert not files.read("cert"), why
    good = pem(ca.sign_csr(csr_pem))
    assert signed(good) == {"status": "Accepted"}
    assert files.read("cert") == good and files.read("key") and not files.read("new_key")
    assert h.station.feature["Security"]._station_cert_ok()
    doc = h.station.state(h.now)
    assert "PRIVATE" not in repr(doc) and "BEGIN" not in repr(doc)
    assert doc["security"]["certificate"]["subject"].startswith("O=Test CPO,CN=SN-0001") or "SN-0001" in doc[
        "security"]["certificate"]["subject"]


def test_extended_trigger_message_types():
    """Every MessageTriggerEnumType: the conf first, then the message."""
    h = harness()
    boot(h)
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    h.respond("Heartbeat", {"currentTime": _iso(h.now)})
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}) == {
        "status": "Accepted"}
    assert h.respond("StatusNotification", {}).payload["connectorId"] == 1
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}) == {
        "status": "Accepted"}
    h.respond("MeterValues", {})
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"}) == {
        "status": "Accepted"}
    assert h.respond("LogStatusNotification", {}).payload == {"status": "Idle"}
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "BootNotification"}) == {"status": "Rejected"}
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 7}) == {
        "status": "Rejected"}
    # [SEC] §5.5: a SignedFirmwareStatusNotification; Idle (without requestId) when none was sent (L01.FR.28)
    assert h.csms_conf("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {
        "status": "Accepted"}
    assert h.respond("SignedFirmwareStatusNotification", {}).payload == {"status": "Idle"}


def test_security_profile_not_settable_in_ocpp_table(tmp_path):
    from ocpp_station.config import ConfigError, load_settings

    p = tmp_path / "s.toml"
    p.write_text("[security]\nprofile = 1\n[ocpp]\nSecurityProfile = 2\n")
    with pytest.raises(ConfigError, match="ocpp.SecurityProfile: may not be set in \\[ocpp\\]; set security.profile"):
        load_settings(p)
    p.write_text("[security]\nprofile = 2\n")
    with pytest.raises(ConfigError, match="security.csms_root_ca: security profile 2 needs the CSMS root"):
        load_settings(p)
    p.write_text('[security]\nprofile = 1\n[station]\ndata_dir = "d"\n')
    sec = load_settings(p).station.security
    assert sec.profile == 1 and sec.key == tmp_path / "d" / "security" / "station-key.pem"


def test_config_refuses_a_private_key_readable_by_others(tmp_path):
    from ocpp_station.config import ConfigError, load_settings

    key = tmp_path / "k.pem"
    key.write_text(certs.key_pem(certs.new_key()))
    key.chmod(0o644)
    p = tmp_path / "s.toml"
    p.write_text(f'[security]\nkey = "{key}"\n')
    with pytest.raises(ConfigError, match=r"security.key: the private key .* is readable by others \(mode 0644\); chmod 600"):
        load_settings(p)
    key.chmod(0o600)
    assert load_settings(p).station.security.key == key


def test_key_files_are_written_with_mode_0600(tmp_path):
    from ocpp_station.features.security.files import SecurityFiles

    files = SecurityFiles(SecuritySettings(key=tmp_path / "sec" / "key.pem", cert=tmp_path / "sec" / "cert.pem"))
    files.write("new_key", "secret")
    files.write("key", "secret")
    files.write("cert", "public")
    assert (tmp_path / "sec" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "sec" / "key.pem.new").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "sec").stat().st_mode & 0o077 == 0


def test_a_certificate_not_valid_yet_is_used_from_its_not_before(tmp_path):
    """A02.FR.08: Accepted, kept aside, installed at its notBefore (the timer survives a restart); on profile 3
    the station then reconnects with it."""
    ca = CA()
    d = tmp_path / "sec"
    sec = SecuritySettings(profile=2, csms_root_ca=d / "root.pem", cert=d / "cert.pem", key=d / "key.pem")
    st = StationSettings(security=sec, serial_number="SN-0001")
    store = MemoryStore()
    h = CoreHarness(st, store=store, now=NOW.timestamp(), AuthorizationKey=KEY, CpoName="Test CPO")
    h.station.feature["Security"].files.write("csms_root_ca", ca.pem)
    boot(h)
    csr = _sign_flow(h)
    later = ca.sign_csr(csr, not_before=NOW + dt.timedelta(hours=1), not_after=NOW + 10 * DAY)
    assert h.csms_conf("CertificateSigned", {"certificateChain": pem(later)}) == {"status": "Accepted"}
    assert not (d / "cert.pem").exists() and (d / "cert.pem.next").exists()
    h2 = CoreHarness(st, store=store, now=h.now + 1800)  # a restart half-way: the timer comes back
    h2.start(connect=False)
    h2.advance(1799)
    assert not (d / "cert.pem").exists()
    h2.advance(2)
    assert (d / "cert.pem").read_text() == pem(later) and not (d / "cert.pem.next").exists()
    assert (d / "key.pem").exists() and not (d / "key.pem.new").exists()


def test_a_new_key_on_profile_0_keeps_the_link():
    """Profiles 0 and 3 send no password: a new AuthorizationKey is stored (for a later upgrade), no reconnect."""
    h = harness(profile=0)
    boot(h)
    assert h.csms_conf("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY}) == {"status": "Accepted"}
    assert commands(h) == []
    assert h.station.store.get("security", "fallback") is None
    assert h.take("SecurityEventNotification").payload["type"] == "ReconfigurationOfSecurityParameters"


def test_the_station_renews_a_certificate_that_ends_within_30_days():
    """A03.FR.02: with a certificate ending in 10 days, the station sends its own SignCertificate once Accepted,
    and again a day later if no certificate came (never in a quick loop); a renewed one stops it."""
    from cryptography.hazmat.primitives.asymmetric import ec

    ca = CA()
    st = StationSettings(security=SecuritySettings(profile=2), serial_number="SN-0001")
    h = CoreHarness(st, now=NOW.timestamp(), AuthorizationKey=KEY, CpoName="Test CPO")
    files = h.station.feature["Security"].files
    files.write("csms_root_ca", ca.pem)
    key = ec.generate_private_key(ec.SECP256R1())
    files.write("key", certs.key_pem(key))
    files.write("cert", pem(ca.issue(key.public_key(), "SN-0001", client=True, not_after=NOW + 10 * DAY)))
    h.start()
    h.respond("BootNotification", {"status": "Accepted", "interval": 100000, "currentTime": _iso(h.now)})
    for _ in range(2):
        h.respond("StatusNotification", {})
    first = h.respond_unordered({"SignCertificate": {"status": "Accepted"}, "SecurityEventNotification": {}})[
        "SignCertificate"]
    h.advance(86399)
    h.no_call()
    h.advance(2)
    h.answer_all("Heartbeat", {"currentTime": _iso(h.now)})
    again = h.respond("SignCertificate", {"status": "Accepted"})
    assert again.payload["csr"] != first.payload["csr"]  # a fresh key pair each time
    renewed = ca.sign_csr(again.payload["csr"], not_after=NOW + 365 * DAY)
    assert h.csms_conf("CertificateSigned", {"certificateChain": pem(renewed)}) == {"status": "Accepted"}
    h.advance(86401)
    h.answer_all("Heartbeat", {"currentTime": _iso(h.now)})
    h.no_call()

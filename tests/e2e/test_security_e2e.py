"""The security extension end to end: a real ``ocpp-station run`` process, the dev CSMS on 127.0.0.1 serving
ws:// or wss:// with certificates made in the test (cryptography), HTTP Basic auth checked by the CSMS.

Case ids from the OCTT charge point list (security section, TC_073-TC_088); a refused handshake is asserted
by the station's own report of why it failed, not by waiting for a timeout."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.csms import DevCsms
from ocpp_station.csms.pki import DevCa, server_context
from ocpp_station.features.security import certificates as certs
from e2e.conftest import StationProcess, _toml_value, free_port
from pki import CA, DAY, NOW, client_files

KEY = "4F43415F4F4354545F61646D696E5F74657374"  # TC_073/TC_085: "OCA_OCTT_admin_test"
KEY2 = "00112233445566778899aabbccddeeff00112233"
ID = "CP001"


async def start_station(tmp_path: Path, url: str, *, security: dict[str, Any], ocpp: dict[str, Any] | None = None,
                        station: dict[str, Any] | None = None, name: str = "st") -> StationProcess:
    port = free_port()
    st = {"identity": ID, "csms_url": url, "data_dir": str(tmp_path / "data"), "reconnect_min_delay": 0.1,
          "reconnect_max_delay": 0.3, "boot_retry_interval": 2}
    st.update(station or {})
    lines = ["[station]"] + [f"{k} = {_toml_value(v)}" for k, v in st.items()]
    lines += ["[ocpp]"] + [f"{k} = {_toml_value(v)}" for k, v in (ocpp or {}).items()]
    lines += ["[security]"] + [f"{k} = {_toml_value(v)}" for k, v in security.items()]
    lines += ["[control]", f'listen = "127.0.0.1:{port}"']
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return await StationProcess(cfg, ID, port, tmp_path / f"{name}.log").start()


async def booted(csms: DevCsms, after: int = 0):
    link = await csms.wait_connected(ID, after=after)
    await link.expect("BootNotification")
    await link.expect_unordered(["StatusNotification"] * 2)
    ev = await link.expect("SecurityEventNotification")
    assert ev.payload["type"] == "StartupOfTheDevice"
    return link


def basic_of(link) -> bytes:
    header = link.request.headers["Authorization"]
    assert header.startswith("Basic ")
    return base64.b64decode(header[6:])


@pytest.fixture
def pki(tmp_path):
    """A CSMS CA, the CSMS's server certificate for 127.0.0.1, and the CA's PEM as the station's trusted root."""
    ca = DevCa()
    cert, key = ca.server_files("127.0.0.1", tmp_path / "csms")
    root = tmp_path / "csms-root.pem"
    root.write_text(ca.pem)
    return ca, cert, key, root


@pytest.fixture
async def stations():
    procs: list[StationProcess] = []
    yield procs
    for p in procs:
        if p.proc is not None and p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
        await p._close()


async def test_tc_085_basic_authentication_valid_credentials(tmp_path, stations):
    """TC_085: profile 1, header ``Basic base64(<identity>:<password>)`` with the key's bytes as password."""
    async with DevCsms(basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 1}, ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(csms)
        assert basic_of(link) == b"CP001:OCA_OCTT_admin_test"
        assert link.auth_failures == 0
        assert (await link.call("GetConfiguration", {"key": ["AuthorizationKey", "SecurityProfile"]}))[
            "configurationKey"] == [{"key": "AuthorizationKey", "readonly": False},
                                    {"key": "SecurityProfile", "readonly": False, "value": "1"}]


async def test_tc_073_update_charge_point_password(tmp_path, stations):
    """TC_073: ChangeConfiguration(AuthorizationKey) Accepted; the station drops the link and reconnects with the
    new password; a second change does the same (A01)."""
    async with DevCsms(basic_auth={ID: bytes.fromhex(KEY2)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 1}, ocpp={"AuthorizationKey": KEY2})
        stations.append(st)
        link = await booted(csms)
        for new, old in ((KEY, KEY2), (KEY2, KEY)):
            csms.basic_auth[ID] = bytes.fromhex(new)
            n = link.connections
            assert await link.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": new}) == {
                "status": "Accepted"}
            await link.wait_disconnected()
            link = await csms.wait_connected(ID, after=n)
            assert basic_of(link) == b"CP001:" + bytes.fromhex(new)
            ev = await link.expect("SecurityEventNotification")
            assert ev.payload["type"] == "ReconfigurationOfSecurityParameters"
        assert link.auth_failures == 0
        log = (tmp_path / "data" / "security" / "security.log").read_text()
        assert KEY not in log and KEY2 not in log  # A01.FR.12: the change is logged, never the value


async def test_wrong_password_is_refused_and_the_working_one_comes_back(tmp_path, stations):
    """Bad input: a new AuthorizationKey the CSMS does not know: HTTP 401 (refused, not timed out),
    FailedToAuthenticateAtCentralSystem, and after a few attempts the station is back on the working key."""
    async with DevCsms(basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 1}, ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(csms)
        n = link.connections
        assert await link.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY2}) == {
            "status": "Accepted"}
        await st.line(r"refused the connection: HTTP 401")
        link = await csms.wait_connected(ID, after=n, timeout=15)
        assert link.auth_failures >= 1
        assert basic_of(link) == b"CP001:OCA_OCTT_admin_test"
        got = [(await link.expect("SecurityEventNotification")).payload for _ in range(3)]
        assert [e["type"] for e in got] == ["ReconfigurationOfSecurityParameters",
                                            "FailedToAuthenticateAtCentralSystem",
                                            "ReconfigurationOfSecurityParameters"]
        assert "fell back to security profile 1" in got[2]["techInfo"]


@pytest.mark.parametrize("bad", ["00112233445566778899aabbccddee", "OCA_OCTT_admin_test_passwd_1234",
                                 "00112233445566778899aabbccddeeff0011223344"])
async def test_authorization_key_breaking_the_hex_rules_is_rejected(tmp_path, stations, bad):
    """Bad input: a key that is not 16-20 bytes of hex is Rejected; the link and the key stay as they were."""
    async with DevCsms(basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 1}, ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(csms)
        assert await link.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": bad}) == {
            "status": "Rejected"}
        await link.call("GetConfiguration", {"key": ["SecurityProfile"]})
        assert link.connected and link.connections == 1


async def test_tc_086_tls_server_certificate_valid(tmp_path, stations, pki):
    """TC_086: profile 2, TLS >= 1.2 with one of the required cipher suites, the CSMS certificate checked
    against the installed root, and the Basic header of TC_085."""
    ca, cert, key, root = pki
    async with DevCsms(ssl=server_context(cert, key), basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 2, "csms_root_ca": str(root)},
                                 ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(csms)
        assert link.tls["version"] in ("TLSv1.2", "TLSv1.3")
        assert "GCM" in link.tls["cipher"] or link.tls["cipher"].startswith("TLS_")
        assert basic_of(link) == b"CP001:OCA_OCTT_admin_test"


@pytest.mark.parametrize("problem", ["untrusted", "expired", "not-yet-valid", "wrong-host", "self-signed"])
async def test_tc_078_invalid_central_system_certificate(tmp_path, stations, pki, problem):
    """TC_078: the CSMS presents a certificate the station must refuse: the handshake is refused (the station
    says why), then once the valid server is back the station sends InvalidCentralSystemCertificate."""
    ca, good_cert, good_key, root = pki
    d = tmp_path / "bad"
    if problem == "untrusted":
        bad_cert, bad_key = DevCa("another CA").server_files("127.0.0.1", d)
    elif problem == "self-signed":
        other = CA("127.0.0.1")
        bad_cert, bad_key = d / "c.pem", d / "k.pem"
        d.mkdir()
        bad_cert.write_text(other.pem)
        from pki import key_pem

        bad_key.write_text(key_pem(other.key))
    elif problem == "wrong-host":
        bad_cert, bad_key = ca.server_files("127.0.0.2", d)
    else:
        test_ca = CA()
        root.write_text(test_ca.pem)  # the station trusts the test CA; its server certificate is out of date
        span = dict(not_before=NOW - 10 * DAY, not_after=NOW - DAY) if problem == "expired" else dict(
            not_before=NOW + DAY, not_after=NOW + 10 * DAY)
        bad_cert, bad_key = test_ca.server_files(d, **span)
        good_cert, good_key = test_ca.server_files(tmp_path / "good")
    port = free_port()
    async with DevCsms(port=port, ssl=server_context(bad_cert, bad_key), basic_auth={ID: bytes.fromhex(KEY)}) as bad:
        st = await start_station(tmp_path, bad.url, security={"profile": 2, "csms_root_ca": str(root)},
                                 ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        line = await st.line(r"connection to wss://127\.0\.0\.1:\d+/ocpp/CP001 failed: TLS")
        assert "not trusted" in line or "certificate" in line
        assert ID not in bad.connected_identities() and bad.link(ID).connections == 0
    async with DevCsms(port=port, ssl=server_context(good_cert, good_key), basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        link = await csms.wait_connected(ID)
        await link.expect("BootNotification")
        got = await link.expect_unordered(["StatusNotification"] * 2 + ["SecurityEventNotification"] * 2)
        events = [c.payload["type"] for c in got if c.action == "SecurityEventNotification"]
        # the event raised while the bad server was met (sent once Accepted), and this boot's StartupOfTheDevice
        assert sorted(events) == ["InvalidCentralSystemCertificate", "StartupOfTheDevice"]


async def test_tc_084_downgrade_security_profile_rejected(tmp_path, stations, pki):
    """TC_084: ChangeConfiguration(SecurityProfile = current - 1) is Rejected; the link stays."""
    ca, cert, key, root = pki
    async with DevCsms(ssl=server_context(cert, key), basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 2, "csms_root_ca": str(root)},
                                 ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(csms)
        for value in ("1", "0", "2"):
            assert await link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": value}) == {
                "status": "Rejected"}
        got = await link.call("GetConfiguration", {"key": ["SecurityProfile"]})
        assert got["configurationKey"][0]["value"] == "2"
        await link.no_call(0.5)
        assert link.connections == 1


async def test_tc_083_upgrade_security_profile(tmp_path, stations, pki):
    """TC_083: connected on profile 1; ChangeConfiguration(SecurityProfile=2) Accepted; the station reconnects
    on profile 2 (wss://); Reset Hard Accepted; BootNotification and the statuses on the new profile; it never
    goes back to the old one."""
    ca, cert, key, root = pki
    async with DevCsms(basic_auth={ID: bytes.fromhex(KEY)}) as plain, \
            DevCsms(ssl=server_context(cert, key), basic_auth={ID: bytes.fromhex(KEY)}) as tls:
        st = await start_station(tmp_path, plain.url, security={"profile": 1, "csms_root_ca": str(root),
                                                                "tls_csms_url": tls.url},
                                 ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(plain)
        assert await link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}) == {
            "status": "Accepted"}
        ev = await link.expect("SecurityEventNotification")  # on the old link, before it closes
        assert ev.payload["type"] == "ReconfigurationOfSecurityParameters"
        await link.wait_disconnected()
        tlink = await tls.wait_connected(ID)
        assert tlink.tls is not None and basic_of(tlink) == b"CP001:OCA_OCTT_admin_test"
        n = tlink.connections
        assert await tlink.call("Reset", {"type": "Hard"}) == {"status": "Accepted"}
        tlink = await tls.wait_connected(ID, after=n)
        # ResetOrReboot is critical (persisted): it goes out before the reboot or, cut short, right after it
        await tlink.expect("BootNotification", ignore=["Heartbeat", "SecurityEventNotification"])
        await tlink.expect_unordered(["StatusNotification"] * 2)
        while (await tlink.expect("SecurityEventNotification", ignore=["Heartbeat"])).payload["type"] != \
                "StartupOfTheDevice":
            pass
        sent = [c for c in tlink.calls if c.action == "SecurityEventNotification"]
        assert sent[-1].payload["type"] == "StartupOfTheDevice"
        # delivered at least once: a copy cut off by the reboot is sent again with the same message id
        assert {c.payload["type"] for c in sent[:-1]} == {"ResetOrReboot"}
        assert len({c.unique_id for c in sent[:-1]}) == 1
        await tls.disconnect(ID)
        n = tls.link(ID).connections
        await tls.wait_connected(ID, after=n)  # back on profile 2, never on the old server
        assert plain.link(ID).connections == 1


async def test_upgrade_falls_back_when_the_new_profile_cannot_connect(tmp_path, stations, pki):
    """A05.FR.08: 1 -> 2 Accepted, but nothing serves wss:// at the new URL: after a few attempts the station is
    back on profile 1 at the old CSMS, with ReconfigurationOfSecurityParameters saying so."""
    ca, cert, key, root = pki
    async with DevCsms(basic_auth={ID: bytes.fromhex(KEY)}) as plain:
        st = await start_station(tmp_path, plain.url, security={
            "profile": 1, "csms_root_ca": str(root), "tls_csms_url": f"wss://127.0.0.1:{free_port()}/ocpp"},
            ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(plain)
        assert await link.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}) == {
            "status": "Accepted"}
        link = await plain.wait_connected(ID, after=1, timeout=20)
        ev = [(await link.expect("SecurityEventNotification")).payload for _ in range(2)]
        assert ev[0]["type"] == "ReconfigurationOfSecurityParameters"
        assert ev[1]["type"] == "ReconfigurationOfSecurityParameters" and "fell back" in ev[1]["techInfo"]
        got = await link.call("GetConfiguration", {"key": ["SecurityProfile"]})
        assert got["configurationKey"][0]["value"] == "1"


async def _profile_3(tmp_path, stations, pki, csms_ca=None):
    """A station at profile 3 with a certificate (CN SN-0001) from the test's CA, booted against a CSMS that
    requires client certificates; returns (csms, station, link, data directory)."""
    ca, cert, key, root = pki
    data = tmp_path / "data" / "security"
    client_files(ca_shim(ca), data, "SN-0001")
    csms = await DevCsms(ssl=server_context(cert, key, ca.pem, require_client_cert=True), ca=csms_ca).start()
    st = await start_station(tmp_path, csms.url, security={"profile": 3, "csms_root_ca": str(root)},
                             ocpp={"CpoName": "Test CPO"}, station={"serial_number": "SN-0001"})
    stations.append(st)
    return csms, st, await booted(csms), data


async def test_tc_087_tls_client_certificate_valid(tmp_path, stations, pki):
    """TC_087: profile 3, TLS >= 1.2 with one of the required cipher suites, the station's certificate presented
    (PEM, serial number, CN = the station's serial number, an EC key >= 224 bits), no Basic header."""
    csms, st, link, data = await _profile_3(tmp_path, stations, pki)
    try:
        assert "Authorization" not in link.request.headers
        assert "commonName=SN-0001" in link.client_subject
        assert link.tls["version"] in ("TLSv1.2", "TLSv1.3")
        leaf = certs.load_one((data / "station-cert.pem").read_text())
        assert leaf.serial_number > 0 and leaf.public_key().curve.key_size >= 224
        assert stat.S_IMODE((data / "station-key.pem").stat().st_mode) == 0o600
    finally:
        await csms.stop()


async def test_tc_074_update_charge_point_certificate_by_request_of_csms(tmp_path, stations, pki):
    """TC_074: ExtendedTriggerMessage(SignChargePointCertificate) Accepted; a new key pair; SignCertificate with
    its CSR (CN = serial number, O = CpoName); the CSMS's CertificateSigned Accepted; the station reconnects with
    the new certificate; the key stays 0600 and never leaves the station."""
    ca = pki[0]
    csms, st, link, data = await _profile_3(tmp_path, stations, pki, csms_ca=ca)
    try:
        old_cert = (data / "station-cert.pem").read_text()
        n = link.connections
        assert await link.call("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
            "status": "Accepted"}
        sign = await link.expect("SignCertificate")
        subject = sign_subject(sign.payload["csr"])
        assert "CN=SN-0001" in subject and "O=Test CPO" in subject
        assert "PRIVATE" not in sign.payload["csr"]
        link = await csms.wait_connected(ID, after=n)  # step 7: reconnects with the new certificate
        new_cert = (data / "station-cert.pem").read_text()
        assert new_cert != old_cert and certs.load_one(new_cert).issuer == ca.cert.subject
        assert link.client_subject is not None and "commonName=SN-0001" in link.client_subject
        assert stat.S_IMODE((data / "station-key.pem").stat().st_mode) == 0o600
        assert not (data / "station-key.pem.new").exists()
        state = await st.state()
        assert "PRIVATE" not in repr(state) and state["security"]["securityProfile"] == 3
    finally:
        await csms.stop()


async def test_tc_077_invalid_charge_point_certificate(tmp_path, stations, pki):
    """TC_077: a CertificateSigned with a bad certificate (another key, wrong CN, too long) is Rejected with
    InvalidChargePointCertificate, and the working certificate stays."""
    ca, cert, key, root = pki
    data = tmp_path / "data" / "security"
    client_files(ca_shim(ca), data, "SN-0001")
    async with DevCsms(ssl=server_context(cert, key, ca.pem, require_client_cert=True)) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 3, "csms_root_ca": str(root)},
                                 ocpp={"CpoName": "Test CPO", "CertificateSignedMaxChainSize": 3000},
                                 station={"serial_number": "SN-0001"})
        stations.append(st)
        link = await booted(csms)
        before = (data / "station-cert.pem").read_text()
        assert await link.call("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
            "status": "Accepted"}
        sign = await link.expect("SignCertificate")
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID

        csr_key = x509.load_pem_x509_csr(sign.payload["csr"].encode()).public_key()
        good = ca.sign_csr(sign.payload["csr"])
        bad = {"untrusted issuer": DevCa("x").sign_csr(sign.payload["csr"]),
               "wrong CN": certs.pem(ca._issue(csr_key, "SN-9999", None, ExtendedKeyUsageOID.CLIENT_AUTH)),
               "not the station's key": certs.pem(ca._issue(DevCa().key.public_key(), "SN-0001", None,
                                                            ExtendedKeyUsageOID.CLIENT_AUTH)),
               "chain too long": good + "\n" * (3000 - len(good) + 1),  # CertificateSignedMaxChainSize
               "malformed": "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"}
        for why, chain in bad.items():
            assert await link.call("CertificateSigned", {"certificateChain": chain}) == {"status": "Rejected"}, why
            ev = await link.expect("SecurityEventNotification")
            assert ev.payload["type"] == "InvalidChargePointCertificate", why
        assert (data / "station-cert.pem").read_text() == before
        assert link.connections == 1
        # the right one is still Accepted afterwards: the new key was kept through the refusals
        assert await link.call("CertificateSigned", {"certificateChain": good}) == {"status": "Accepted"}


def ocsp_hash_data(cert, algorithm: str = "SHA256") -> dict:
    """The certificateHashData a test tool computes itself: RFC 6960 CertID of a self-signed root (cryptography's
    OCSP request builder), hex in lower case, serial without leading zeros."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp

    h = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}[algorithm]()
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, cert, h).build()
    return {"hashAlgorithm": algorithm, "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": format(req.serial_number, "x")}


async def _profile_2(tmp_path, stations, pki):
    ca, cert, key, root = pki
    csms = await DevCsms(ssl=server_context(cert, key), basic_auth={ID: bytes.fromhex(KEY)}).start()
    st = await start_station(tmp_path, csms.url, security={"profile": 2, "csms_root_ca": str(root)},
                             ocpp={"AuthorizationKey": KEY})
    stations.append(st)
    return csms, await booted(csms)


async def test_tc_075_1_install_manufacturer_root_certificate(tmp_path, stations, pki):
    """TC_075_1: InstallCertificate(ManufacturerRootCertificate) Accepted; GetInstalledCertificateIds Accepted with
    the hash data the test computes itself (installing the same one again changes nothing)."""
    await _install_certificate(tmp_path, stations, pki, "ManufacturerRootCertificate")


async def test_tc_075_2_install_central_system_root_certificate(tmp_path, stations, pki):
    """TC_075_2 (2025-11 list): the same for a CentralSystemRootCertificate, listed beside the root this link was
    made with."""
    await _install_certificate(tmp_path, stations, pki, "CentralSystemRootCertificate")


async def _install_certificate(tmp_path, stations, pki, kind):
    csms, link = await _profile_2(tmp_path, stations, pki)
    try:
        new = CA(f"new {kind}")
        for _ in range(2):
            assert await link.call("InstallCertificate", {"certificateType": kind, "certificate": new.pem}) == {
                "status": "Accepted"}
        got = await link.call("GetInstalledCertificateIds", {"certificateType": kind})
        assert got["status"] == "Accepted"
        expected = [ocsp_hash_data(new.cert)]
        if kind == "CentralSystemRootCertificate":
            expected.insert(0, ocsp_hash_data(pki[0].cert))  # the root this link was made with
        assert got["certificateHashData"] == expected
    finally:
        await csms.stop()


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
async def test_tc_076_delete_a_specific_certificate(tmp_path, stations, pki, algorithm):
    """TC_076 (the 2025-11 list loops over the algorithms): GetInstalledCertificateIds; DeleteCertificate with
    hash data in ``algorithm`` Accepted; the list is without it; deleting it again NotFound. The root that
    validates the link cannot go (M04.FR.06: Failed)."""
    csms, link = await _profile_2(tmp_path, stations, pki)
    try:
        a, b = CA("A"), CA("B")
        for c in (a, b):
            assert await link.call("InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                                          "certificate": c.pem}) == {"status": "Accepted"}
        got = await link.call("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"})
        assert len(got["certificateHashData"]) == 2
        hd = ocsp_hash_data(a.cert, algorithm)
        hd["issuerKeyHash"] = hd["issuerKeyHash"].upper()  # CiString: compared in any case
        assert await link.call("DeleteCertificate", {"certificateHashData": hd}) == {"status": "Accepted"}
        got = await link.call("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"})
        assert got["certificateHashData"] == [ocsp_hash_data(b.cert)]
        assert await link.call("DeleteCertificate", {"certificateHashData": hd}) == {"status": "NotFound"}
        root = ocsp_hash_data(pki[0].cert, algorithm)
        assert await link.call("DeleteCertificate", {"certificateHashData": root}) == {"status": "Failed"}
    finally:
        await csms.stop()


@pytest.mark.parametrize("bad", ["-----BEGIN CERTIFICATE-----", "expired", "leaf"])
async def test_install_certificate_invalid_is_rejected(tmp_path, stations, pki, bad):
    """Bad input (M05.FR.03, EVerest's TC_078 variant): a malformed, expired or non-CA certificate is Rejected with
    InvalidCentralSystemCertificate, and the installed roots stay as they were."""
    csms, link = await _profile_2(tmp_path, stations, pki)
    try:
        if bad == "expired":
            bad = CA(not_before=NOW - 10 * DAY, not_after=NOW - DAY).pem
        elif bad == "leaf":
            other = CA()
            bad = certs.pem(other.issue(CA().key.public_key(), "not a CA"))
        before = await link.call("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
        conf = await link.call("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                      "certificate": bad})
        assert conf == {"status": "Rejected"}
        ev = await link.expect("SecurityEventNotification")
        assert ev.payload["type"] == "InvalidCentralSystemCertificate"
        assert await link.call("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}) == before
    finally:
        await csms.stop()


async def test_tc_088_subprotocol_offered_on_tls(tmp_path, stations, pki):
    """TC_088: the station offers ``ocpp1.6`` (also over TLS)."""
    ca, cert, key, root = pki
    async with DevCsms(ssl=server_context(cert, key), basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 2, "csms_root_ca": str(root)},
                                 ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        link = await booted(csms)
        assert link.request.headers["Sec-WebSocket-Protocol"] == "ocpp1.6"


def ca_shim(ca: DevCa):
    """tests.pki.client_files needs .issue(public_key, cn, client=True) and .key: a DevCa gives both."""

    class Shim:
        key = ca.key
        cert = ca.cert

        @staticmethod
        def issue(public_key, cn, client=False):
            from cryptography.x509.oid import ExtendedKeyUsageOID

            return ca._issue(public_key, cn, None, ExtendedKeyUsageOID.CLIENT_AUTH)

    return Shim


def sign_subject(csr_pem: str) -> str:
    from cryptography import x509

    return x509.load_pem_x509_csr(csr_pem.encode()).subject.rfc4514_string()


async def test_cli_csms_tls_basic_auth_and_ca_with_operator_trigger(tmp_path, stations):
    """``ocpp-station csms --tls --basic-auth``: a real CSMS process serving wss:// with the CA it made; a station
    at profile 2 trusts the written root; the operator API sends ExtendedTriggerMessage(SignChargePointCertificate)
    and the CSMS's CA answers the CSR with a CertificateSigned the station accepts."""
    import asyncio
    import re
    import sys

    import aiohttp

    from e2e.test_cli_e2e import _Lines, reap, stop_gracefully

    root = tmp_path / "root.pem"
    op = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet", "--tls", "--ca-out", str(root),
        "--basic-auth", f"{ID}:{KEY}", "--operator-listen", f"127.0.0.1:{op}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out = _Lines(proc.stdout)
    try:
        assert str(root) in await out.until(r"CSMS root certificate")
        url = re.search(r"(wss://\S+)/<identity>", await out.until(r"CSMS listening on wss://")).group(1)
        await out.until(r"Operator API on")
        st = await start_station(tmp_path, url, security={"profile": 2, "csms_root_ca": str(root)},
                                 ocpp={"AuthorizationKey": KEY, "CpoName": "Test CPO"})
        stations.append(st)
        await st.line(r"connected to wss://")
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{op}/api/stations/{ID}"

            async def wait_for(action: str, frm: str, since: int = 0) -> tuple[dict, int]:
                """The next message of ``action`` from ``frm`` (the operator API's long poll, no polling loop)."""
                while True:
                    async with http.get(base + "/messages", params={"since": since, "action": action,
                                                                    "wait": 20}) as r:
                        doc = await r.json()
                    assert doc.get("messages"), f"no {action} within 20 s: {doc}"
                    since = doc["next"]
                    for m in doc["messages"]:
                        if m["from"] == frm:
                            return m, since

            m, since = await wait_for("SecurityEventNotification", "station")
            assert m["payload"]["type"] == "StartupOfTheDevice"
            async with http.get(base) as r:
                doc = await r.json()
            assert doc["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and doc["authFailures"] == 0
            assert doc["clientCertificate"] is None  # profile 2: Basic auth, no client certificate
            body = {"action": "ExtendedTriggerMessage", "payload": {"requestedMessage": "SignChargePointCertificate"}}
            async with http.post(base + "/call", json=body) as r:
                assert (await r.json())["payload"] == {"status": "Accepted"}
            m, since = await wait_for("SignCertificate", "station", since)
            assert "BEGIN CERTIFICATE REQUEST" in m["payload"]["csr"]
            m, _ = await wait_for("CertificateSigned", "station", since)
            assert m["type"] == "CALLRESULT" and m["payload"] == {"status": "Accepted"}
        cert_file = tmp_path / "data" / "security" / "station-cert.pem"
        leaf = certs.load_one(cert_file.read_text())
        assert certs.common_name(leaf) == ID
        assert leaf.issuer == certs.load_one(root.read_text()).subject
        await stop_gracefully(proc, __import__("signal").SIGTERM)
    finally:
        await reap(proc)


async def test_critical_security_event_survives_kill_9(tmp_path, stations):
    """A04.FR.02: a critical event raised offline is in SQLite before anything else; after kill -9 and a new
    start it is delivered, before the new boot's own StartupOfTheDevice."""
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ocpp"
    st = await start_station(tmp_path, url, security={"profile": 0})
    stations.append(st)
    await st.line(r"connection to ws://127\.0\.0\.1:\d+/ocpp/CP001 failed")  # started, nothing to connect to
    await st.kill()
    async with DevCsms(port=port) as csms:
        st2 = await start_station(tmp_path, url, security={"profile": 0}, name="st2")
        stations.append(st2)
        link = await csms.wait_connected(ID)
        await link.expect("BootNotification")
        await link.expect_unordered(["StatusNotification"] * 2)
        first = await link.expect("SecurityEventNotification")
        second = await link.expect("SecurityEventNotification")
        assert first.payload["type"] == second.payload["type"] == "StartupOfTheDevice"
        assert first.payload["timestamp"] < second.payload["timestamp"]


class _BlockingTlsServer:
    """A TLS server on a thread with blocking OpenSSL sockets: unlike an asyncio server, which drops the TCP
    connection when the handshake fails, it sends the TLS alert first, as a CSMS behind OpenSSL does."""

    def __init__(self, ctx, port: int) -> None:
        import socket
        import threading

        self.ctx = ctx
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.handshakes = 0  # attempts seen
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.handshakes += 1
            conn.settimeout(5)
            try:
                self.ctx.wrap_socket(conn, server_side=True).close()
            except OSError:
                conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("offer, event", [("tls1.1", "InvalidTLSVersion"), ("cbc-cipher", "InvalidTLSCipherSuite")])
async def test_csms_offering_old_tls_or_a_forbidden_cipher_is_refused(tmp_path, stations, pki, offer, event):
    """[SEC] A00.FR.315/.322: a CSMS offering only TLS 1.1, or only a cipher suite outside A00.FR.318, is refused
    at the handshake; once a proper server answers, the station sends the matching security event."""
    import ssl
    import warnings

    ca, cert, key, root = pki
    bad = server_context(cert, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1: the point of the test
        if offer == "tls1.1":
            bad.minimum_version = ssl.TLSVersion.TLSv1
            bad.maximum_version = ssl.TLSVersion.TLSv1_1
            bad.set_ciphers("DEFAULT:@SECLEVEL=0")
        else:
            bad.maximum_version = ssl.TLSVersion.TLSv1_2
            bad.set_ciphers("AES128-SHA")  # CBC: not among the suites the white paper allows
    port = free_port()
    server = _BlockingTlsServer(bad, port)
    try:
        st = await start_station(tmp_path, f"wss://127.0.0.1:{port}/ocpp", security={
            "profile": 2, "csms_root_ca": str(root)}, ocpp={"AuthorizationKey": KEY})
        stations.append(st)
        await st.line(r"connection to wss://127\.0\.0\.1:\d+/ocpp/CP001 failed: TLS")
    finally:
        server.close()
    async with DevCsms(port=port, ssl=server_context(cert, key), basic_auth={ID: bytes.fromhex(KEY)}) as csms:
        link = await csms.wait_connected(ID)
        await link.expect("BootNotification")
        got = await link.expect_unordered(["StatusNotification"] * 2 + ["SecurityEventNotification"] * 2)
        assert sorted(c.payload["type"] for c in got if c.action == "SecurityEventNotification") == sorted(
            [event, "StartupOfTheDevice"])


async def test_csms_refusing_the_station_certificate_is_failed_authentication(tmp_path, stations, pki):
    """Profile 3 against a CSMS that does not trust the station's certificate (TLS 1.2): the TLS handshake is refused
    with an alert (the station says so); once a CSMS that trusts it answers, FailedToAuthenticateAtCentralSystem."""
    ca, cert, key, root = pki
    data = tmp_path / "data" / "security"
    client_files(ca_shim(ca), data, "SN-0001")
    port = free_port()
    refusing = server_context(cert, key, DevCa("another CA").pem, require_client_cert=True)
    # TLS 1.2: the alert comes inside the handshake. Over TLS 1.3 the client's handshake ends before the server
    # has judged its certificate, and an asyncio client only sees the connection close (no event then)
    refusing.maximum_version = __import__("ssl").TLSVersion.TLSv1_2
    server = _BlockingTlsServer(refusing, port)
    try:
        st = await start_station(tmp_path, f"wss://127.0.0.1:{port}/ocpp", security={
            "profile": 3, "csms_root_ca": str(root)}, station={"serial_number": "SN-0001"})
        stations.append(st)
        line = await st.line(r"connection to wss://127\.0\.0\.1:\d+/ocpp/CP001 failed")
        assert "ALERT" in line.upper(), line
    finally:
        server.close()
    async with DevCsms(port=port, ssl=server_context(cert, key, ca.pem, require_client_cert=True)) as csms:
        link = await csms.wait_connected(ID)
        await link.expect("BootNotification")
        got = await link.expect_unordered(["StatusNotification"] * 2 + ["SecurityEventNotification"] * 2)
        assert sorted(c.payload["type"] for c in got if c.action == "SecurityEventNotification") == [
            "FailedToAuthenticateAtCentralSystem", "StartupOfTheDevice"]

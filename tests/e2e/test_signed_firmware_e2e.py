"""Signed firmware and log uploads of the security extension end to end (OCTT TC_079, TC_080, TC_081): a real
``ocpp-station run`` process with ``[security]``, the dev CSMS, its file server (csms/files.py) on 127.0.0.1
over HTTP, the manufacturer root, the signing certificate and the signatures made in the test (cryptography);
real downloads, signature checks, installs, reboots and uploads."""

from __future__ import annotations

import base64
import os
import zipfile
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ocpp_station.csms import DevCsms
from ocpp_station.csms.files import FileServer, manifest
from ocpp_station.csms.server import CallErrorReceived
from e2e.conftest import StationProcess
from e2e.test_security_e2e import ID, booted, start_station
from pki import CA, DAY, NOW, key_pem, pem

SIGNED = "SignedFirmwareStatusNotification"
SEN = "SecurityEventNotification"
LOG = "LogStatusNotification"
SN = "StatusNotification"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
async def stations():
    procs: list[StationProcess] = []
    yield procs
    for p in procs:
        if p.proc is not None and p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
        await p._close()


@pytest.fixture
async def files(tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    srv = FileServer(root)
    await srv.start_http("127.0.0.1", 0)
    yield srv
    await srv.stop()


class Manufacturer:
    """A manufacturer root (installed as ManufacturerRootCertificate) and a signing certificate it issued."""

    def __init__(self, rsa_key: bool = False, **cert_kw) -> None:
        self.root = CA("Manufacturer Root")
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if rsa_key \
            else ec.generate_private_key(ec.SECP256R1())
        self.cert_pem = pem(self.root.issue(self.key.public_key(), "Firmware Signer", **cert_kw))

    def sign(self, data: bytes) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return base64.b64encode(self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
        return base64.b64encode(self.key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


async def station_with_root(tmp_path, stations, csms: DevCsms, maker: Manufacturer, **station):
    st = await start_station(tmp_path, csms.url, security={"profile": 0}, station=station or None)
    stations.append(st)
    link = await booted(csms)
    conf = await link.call("InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                                   "certificate": maker.root.pem})
    assert conf == {"status": "Accepted"}
    return st, link


def update(files: FileServer, name: str, maker: Manufacturer, signature: str, request_id: int = 42,
           cert: str | None = None, **fw) -> dict:
    return {"requestId": request_id, "retries": 0, "firmware": {
        "location": f"{files.http_url}/firmware/{name}", "retrieveDateTime": now_iso(),
        "signingCertificate": cert or maker.cert_pem, "signature": signature, **fw}}


async def signed(link, status: str, request_id: int = 42, timeout: float = 15):
    call = await link.expect(SIGNED, timeout=timeout)
    assert call.payload == {"status": status, "requestId": request_id}


@pytest.mark.parametrize("rsa_key", [False, True], ids=["ecdsa", "rsa"])
async def test_tc_080_secure_firmware_update(tmp_path, stations, files, rsa_key):
    """TC_080: SignedUpdateFirmware Accepted after the certificate check; Downloading, Downloaded, SignatureVerified,
    (Unavailable), Installing, InstallRebooting with the requestId; the reboot into the new image, then Installed
    and the FirmwareUpdated security event once. The legacy UpdateFirmware is CALLERROR NotSupported (L01.FR.20)."""
    maker = Manufacturer(rsa_key=rsa_key)
    image = manifest("2.0.1")
    (files.root / "fw-2.0.1.bin").write_bytes(image)
    async with DevCsms() as csms:
        st, link = await station_with_root(tmp_path, stations, csms, maker)
        with pytest.raises(CallErrorReceived) as err:
            await link.call("UpdateFirmware", {"location": f"{files.http_url}/firmware/fw-2.0.1.bin",
                                               "retrieveDate": now_iso()})
        assert err.value.code == "NotSupported"
        conf = await link.call("SignedUpdateFirmware", update(files, "fw-2.0.1.bin", maker, maker.sign(image)))
        assert conf == {"status": "Accepted"}
        await signed(link, "Downloading")
        await signed(link, "Downloaded")
        await signed(link, "SignatureVerified")
        sn = await link.expect(SN)
        assert (sn.payload["connectorId"], sn.payload["status"]) == (1, "Unavailable")
        await signed(link, "Installing")
        await signed(link, "InstallRebooting")
        await link.wait_disconnected(timeout=15)
        link = await csms.wait_connected(ID, after=link.connections, timeout=20)
        boot = await link.expect("BootNotification", timeout=20)
        assert boot.payload["firmwareVersion"] == "2.0.1"
        after = [await link.next_call(timeout=10) for _ in range(5)]
        got = [(c.action, c.payload.get("status") or c.payload.get("type")) for c in after]
        assert sorted(got[:2]) == [(SN, "Available"), (SN, "Available")]
        # Installed goes on the ordinary queue, the critical events on the persisted one, behind it
        assert got[2:] == [(SIGNED, "Installed"), (SEN, "StartupOfTheDevice"), (SEN, "FirmwareUpdated")], got
        assert after[2].payload["requestId"] == 42
        await link.no_call(1.0)
        # L01.FR.28: after Installed a triggered status is Idle, without requestId
        conf = await link.call("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
        assert conf == {"status": "Accepted"}
        assert (await link.expect(SIGNED)).payload == {"status": "Idle"}
        assert (await st.state())["firmware"]["version"] == "2.0.1"
        log = (tmp_path / "data" / "security" / "security.log").read_text()
        assert log.count("FirmwareUpdated") == 1
        assert await st.stop() == 0


async def test_tc_081_secure_firmware_update_invalid_signature(tmp_path, stations, files):
    """TC_081: a signature that does not verify: Downloading, Downloaded, then InvalidSignature and the
    InvalidFirmwareSignature security event; nothing installed, no reboot, the connector stays Available."""
    maker = Manufacturer()
    image = manifest("6.6.6")
    (files.root / "fw-bad.bin").write_bytes(image)
    async with DevCsms() as csms:
        st, link = await station_with_root(tmp_path, stations, csms, maker)
        bad = maker.sign(image + b"tampered")
        assert await link.call("SignedUpdateFirmware", update(files, "fw-bad.bin", maker, bad)) == {"status": "Accepted"}
        await signed(link, "Downloading")
        await signed(link, "Downloaded")
        calls = await link.expect_unordered([SIGNED, SEN], timeout=15)
        by = {c.action: c.payload for c in calls}
        assert by[SIGNED] == {"status": "InvalidSignature", "requestId": 42}
        assert by[SEN]["type"] == "InvalidFirmwareSignature"
        await link.no_call(1.5)
        state = await st.state()
        assert state["firmware"]["version"] == "ocpp-station 0.1.0" and state["connectors"][1]["status"] == "Available"
        assert link.connections == 1  # no reboot
        assert await st.stop() == 0


@pytest.mark.parametrize("problem", ["untrusted", "expired", "malformed"])
async def test_signed_update_with_a_bad_signing_certificate_is_invalid_certificate(tmp_path, stations, files, problem):
    """L01.FR.02/.23: a signing certificate not issued by the installed ManufacturerRootCertificate, expired, or
    not PEM: InvalidCertificate and the InvalidFirmwareSigningCertificate event; nothing is downloaded."""
    maker = Manufacturer()
    image = manifest("2.0.2")
    (files.root / "fw.bin").write_bytes(image)
    if problem == "untrusted":
        other = Manufacturer()
        cert, sig = other.cert_pem, other.sign(image)
    elif problem == "expired":
        old = Manufacturer(not_before=NOW - 10 * DAY, not_after=NOW - DAY)
        old.root = maker.root
        old.cert_pem = pem(maker.root.issue(old.key.public_key(), "Firmware Signer", not_before=NOW - 10 * DAY,
                                            not_after=NOW - DAY))
        cert, sig = old.cert_pem, old.sign(image)
    else:
        cert, sig = "-----BEGIN CERTIFICATE-----\nMIIBroken\n-----END CERTIFICATE-----\n", maker.sign(image)
    async with DevCsms() as csms:
        st, link = await station_with_root(tmp_path, stations, csms, maker)
        conf = await link.call("SignedUpdateFirmware", update(files, "fw.bin", maker, sig, cert=cert))
        assert conf == {"status": "InvalidCertificate"}
        ev = await link.expect(SEN)
        assert ev.payload["type"] == "InvalidFirmwareSigningCertificate"
        await link.no_call(1.0)
        assert "job" not in (await st.state())["firmware"]
        assert await st.stop() == 0


@pytest.mark.parametrize("kind", ["SecurityLog", "DiagnosticsLog"])
async def test_tc_079_get_security_log(tmp_path, stations, files, kind):
    """TC_079 (and the DiagnosticsLog): GetLog Accepted with a filename; LogStatusNotification Uploading, Uploaded,
    both with the requestId; the file is at remoteLocation; no private key is in it."""
    key = ec.generate_private_key(ec.SECP256R1())
    sec_dir = tmp_path / "data" / "security"
    sec_dir.mkdir(parents=True)
    key_file = sec_dir / "station-key.pem"
    key_file.write_text(key_pem(key))
    os.chmod(key_file, 0o600)
    async with DevCsms() as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 0})
        stations.append(st)
        link = await booted(csms)
        conf = await link.call("GetLog", {"logType": kind, "requestId": 79,
                                          "log": {"remoteLocation": f"{files.http_url}/diagnostics"}})
        assert conf["status"] == "Accepted"
        name = conf["filename"]
        assert (await link.expect(LOG)).payload == {"status": "Uploading", "requestId": 79}
        assert (await link.expect(LOG, timeout=15)).payload == {"status": "Uploaded", "requestId": 79}
        data = (files.root / "diagnostics" / name).read_bytes()
        if kind == "SecurityLog":
            text = data.decode()
            assert "StartupOfTheDevice" in text
        else:
            with zipfile.ZipFile(files.root / "diagnostics" / name) as z:
                text = "".join(z.read(n).decode(errors="replace") for n in z.namelist())
        secret = "".join(key_pem(key).splitlines()[1:-1])
        assert "PRIVATE KEY" not in text and secret[:40] not in text
        # N01.FR.12: triggered with nothing under way: Idle, without requestId
        assert await link.call("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"}) == {
            "status": "Accepted"}
        assert (await link.expect(LOG)).payload == {"status": "Idle"}
        assert await st.stop() == 0


async def test_get_log_to_a_refused_location_is_permission_denied_or_upload_failure(tmp_path, stations, files):
    """N01.FR.10: an upload that fails every attempt ends with the most precise status: a protocol the station does
    not speak is NotSupportedOperation at once; a host that refuses the connection UploadFailure after the retry."""
    async with DevCsms() as csms:
        st = await start_station(tmp_path, csms.url, security={"profile": 0})
        stations.append(st)
        link = await booted(csms)
        conf = await link.call("GetLog", {"logType": "SecurityLog", "requestId": 5,
                                          "log": {"remoteLocation": "sftp://127.0.0.1/logs"}})
        assert conf["status"] == "Accepted"
        assert (await link.expect(LOG)).payload == {"status": "NotSupportedOperation", "requestId": 5}
        from e2e.conftest import free_port

        dead = f"http://127.0.0.1:{free_port()}/logs"
        await link.call("GetLog", {"logType": "SecurityLog", "requestId": 6, "retries": 1, "retryInterval": 1,
                                   "log": {"remoteLocation": dead}})
        assert (await link.expect(LOG)).payload == {"status": "Uploading", "requestId": 6}
        assert (await link.expect(LOG, timeout=15)).payload == {"status": "UploadFailure", "requestId": 6}
        assert await st.stop() == 0


async def test_signed_update_survives_kill_9_while_install_scheduled(tmp_path, stations, files):
    """L01.FR.16 and persistence: InstallScheduled until installDateTime; a kill -9 meanwhile; the restarted
    station installs at installDateTime, reboots, and reports Installed and FirmwareUpdated with the requestId."""
    maker = Manufacturer()
    image = manifest("3.1")
    (files.root / "fw-3.1.bin").write_bytes(image)
    install_at = datetime.now(timezone.utc).timestamp() + 6
    when = datetime.fromtimestamp(install_at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    async with DevCsms() as csms:
        st, link = await station_with_root(tmp_path, stations, csms, maker)
        conf = await link.call("SignedUpdateFirmware", update(files, "fw-3.1.bin", maker, maker.sign(image),
                                                              request_id=7, installDateTime=when))
        assert conf == {"status": "Accepted"}
        for status in ("Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"):
            await signed(link, status, request_id=7)
        await st.kill()
        await link.wait_disconnected()
        st = await start_station(tmp_path, csms.url, security={"profile": 0}, name="st2")
        stations.append(st)
        link = await booted(csms, after=link.connections)
        sn = await link.expect(SN, timeout=15)
        assert (sn.payload["connectorId"], sn.payload["status"]) == (1, "Unavailable")
        await signed(link, "Installing", request_id=7)
        assert datetime.now(timezone.utc).timestamp() >= install_at - 0.2  # not before installDateTime
        await signed(link, "InstallRebooting", request_id=7)
        await link.wait_disconnected(timeout=15)
        link = await csms.wait_connected(ID, after=link.connections, timeout=20)
        assert (await link.expect("BootNotification", timeout=20)).payload["firmwareVersion"] == "3.1"
        after = [await link.next_call(timeout=10) for _ in range(5)]
        got = [(c.action, c.payload.get("status") or c.payload.get("type")) for c in after]
        assert got[2:] == [(SIGNED, "Installed"), (SEN, "StartupOfTheDevice"), (SEN, "FirmwareUpdated")], got
        assert await st.stop() == 0


async def test_a_new_signed_update_during_a_download_is_accepted_canceled(tmp_path, stations):
    """L01.FR.26: a SignedUpdateFirmware while one downloads (a slow server) cancels it: AcceptedCanceled; the new
    one runs to the end with its own requestId, nothing more comes with the old one."""
    root = tmp_path / "slow"
    root.mkdir()
    srv = FileServer(root, rate=20_000)  # bytes/s: the first image takes 10 s
    await srv.start_http("127.0.0.1", 0)
    maker = Manufacturer()
    big = b"x" * 200_000
    small = manifest("4.0")
    (root / "big.bin").write_bytes(big)
    (root / "small.bin").write_bytes(small)
    try:
        async with DevCsms() as csms:
            st, link = await station_with_root(tmp_path, stations, csms, maker)
            assert await link.call("SignedUpdateFirmware", update(srv, "big.bin", maker, maker.sign(big),
                                                                  request_id=1)) == {"status": "Accepted"}
            await signed(link, "Downloading", request_id=1)
            srv.rate = None  # the next download at full speed
            assert await link.call("SignedUpdateFirmware", update(srv, "small.bin", maker, maker.sign(small),
                                                                  request_id=2)) == {"status": "AcceptedCanceled"}
            for status in ("Downloading", "Downloaded", "SignatureVerified"):
                await signed(link, status, request_id=2)
            assert (await link.expect(SN)).payload["status"] == "Unavailable"
            await signed(link, "Installing", request_id=2)
            await signed(link, "InstallRebooting", request_id=2)
            await link.wait_disconnected(timeout=15)
            link = await csms.wait_connected(ID, after=link.connections, timeout=20)
            assert (await link.expect("BootNotification", timeout=20)).payload["firmwareVersion"] == "4.0"
            after = [await link.next_call(timeout=10) for _ in range(5)]
            assert [c.payload for c in after if c.action == SIGNED] == [{"status": "Installed", "requestId": 2}]
            assert await st.stop() == 0
    finally:
        await srv.stop()

"""Firmware Management end to end (OCTT TC_044_1, TC_044_2, TC_044_3, TC_045_1, TC_045_2): a real
``ocpp-station run`` process, the dev CSMS's file server (csms/files.py) on 127.0.0.1 over HTTP, HTTPS (a
certificate made in the test) and FTP (pyftpdlib), real downloads, installs, reboots and uploads; a kill -9 in
the middle of a download."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import zipfile
from datetime import datetime, timezone

import pytest
import trustme
from e2e_steps import SN, status

from ocpp_station.csms.files import FileServer, manifest

FW = "FirmwareStatusNotification"
DIAG = "DiagnosticsStatusNotification"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
async def files(tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    srv = FileServer(root)
    await srv.start_http("127.0.0.1", 0)
    srv.start_ftp("127.0.0.1", 0, "ocpp", "ocpp")
    yield srv
    await srv.stop()


def ftp_url(files: FileServer, path: str, password: str = "ocpp") -> str:
    return f"ftp://ocpp:{password}@127.0.0.1:{files.ftp_port}{path}"


async def fw_status(link, expected: str, timeout: float = 15):
    call = await link.expect(FW, timeout=timeout)
    assert call.payload == {"status": expected}
    return call


async def diag_status(link, expected: str, timeout: float = 15):
    call = await link.expect(DIAG, timeout=timeout)
    assert call.payload == {"status": expected}


async def installed_after_reboot(link, version: str, connectors: int = 1, connector_status: str = "Available"):
    """The reboot: the link goes, BootNotification with the new firmwareVersion, the statuses, then Installed."""
    await link.wait_disconnected(timeout=15)
    boot = await link.expect("BootNotification", timeout=20)
    assert boot.payload["firmwareVersion"] == version
    calls = [await link.next_call(timeout=10) for _ in range(connectors + 2)]
    assert [c.action for c in calls] == [SN] * (connectors + 1) + [FW]
    assert sorted(status(c) for c in calls[:-1]) == [(0, "Available", "NoError")] + [
        (i, connector_status, "NoError") for i in range(1, connectors + 1)]
    assert calls[-1].payload == {"status": "Installed"}  # [ERRATA] 3.47: after the reboot


async def downloaded_and_installing(link):
    await fw_status(link, "Downloading")
    await fw_status(link, "Downloaded")
    assert status(await link.expect(SN)) == (1, "Unavailable", "NoError")  # [ERRATA] 3.49
    await fw_status(link, "Installing")


async def test_tc_044_1_cs_firmware_update_download_and_install_over_http_e2e(booted, files):
    """TC_044_1_CS over HTTP: UpdateFirmware.conf {}; Downloading, Downloaded, (Unavailable), Installing; the reboot,
    BootNotification with the new firmwareVersion, the statuses; Installed."""
    st, link = await booted()
    before = (await st.state())["firmware"]
    assert before["status"] == "Idle" and before["version"] == "ocpp-station 0.1.0"
    url = f"{files.http_url}/firmware/manifest/2.0.1"
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
    await downloaded_and_installing(link)
    await installed_after_reboot(link, "2.0.1")
    state = (await st.state())["firmware"]
    assert (state["status"], state["version"]) == ("Idle", "2.0.1")
    await st.line("firmware update .* installed: version 2.0.1")
    assert await st.stop() == 0


async def test_tc_044_1_cs_firmware_update_download_and_install_over_ftp_e2e(booted, files):
    """TC_044_1_CS over FTP (user and password in the URL, [SPEC] §8.1), retrieveDate a few seconds ahead."""
    (files.root / "fw-3.0.json").write_bytes(manifest("3.0"))
    st, link = await booted()
    retrieve = datetime.now(timezone.utc).timestamp() + 2
    when = datetime.fromtimestamp(retrieve, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert await link.call("UpdateFirmware", {"location": ftp_url(files, "/fw-3.0.json"), "retrieveDate": when,
                                              "retries": 1, "retryInterval": 2}) == {}
    call = await link.expect(FW, timeout=15)
    assert call.payload == {"status": "Downloading"}
    assert datetime.now(timezone.utc).timestamp() >= retrieve - 0.2  # not before retrieveDate ([ERRATA] 3.63)
    await fw_status(link, "Downloaded")
    assert status(await link.expect(SN)) == (1, "Unavailable", "NoError")
    await fw_status(link, "Installing")
    await installed_after_reboot(link, "3.0")
    assert await st.stop() == 0


async def test_tc_044_2_cs_download_failed_e2e(booted, files):
    """TC_044_2_CS: a location that does not exist, retries 0: Downloading, DownloadFailed; the old firmware stays,
    the station stays Available and charges on."""
    st, link = await booted()
    url = f"{files.http_url}/firmware/does_not_exist_fw.bin"
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
    await fw_status(link, "Downloading")
    await fw_status(link, "DownloadFailed")
    await st.line("download failed: HTTP 404")
    await link.no_call(1.0)
    state = await st.state()
    assert state["connectors"][1]["status"] == "Available"
    assert state["firmware"]["version"] == "ocpp-station 0.1.0"
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await st.stop() == 0


async def test_tc_044_2_cs_refused_ftp_login_and_unreachable_host_retry_then_fail_e2e(booted, files):
    """A refused FTP login with one retry 1 s later: one Downloading, then DownloadFailed; the log names the cause."""
    st, link = await booted()
    url = ftp_url(files, "/fw.bin", password="wrong")
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 1,
                                              "retryInterval": 1}) == {}
    await fw_status(link, "Downloading")
    await fw_status(link, "DownloadFailed")
    await st.line("download attempt 2 failed: login refused")
    assert await st.stop() == 0


async def test_tc_044_3_cs_installation_failed_e2e(booted, files):
    """TC_044_3_CS: an image the installer refuses: Downloading, Downloaded, Installing, InstallationFailed; no
    reboot, the connector Available again."""
    st, link = await booted()
    url = f"{files.http_url}/firmware/manifest/6.6?installable=false"
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
    await downloaded_and_installing(link)
    got = [await link.next_call(timeout=10) for _ in range(2)]
    assert got[0].action == FW and got[0].payload == {"status": "InstallationFailed"}
    assert status(got[1]) == (1, "Available", "NoError")
    await st.line("installation failed: image 6.6 refused")
    assert (await st.state())["firmware"]["version"] == "ocpp-station 0.1.0"
    assert await st.stop() == 0


async def test_tc_044_1_cs_installation_waits_for_the_transaction_e2e(booted, files):
    """The download during a session: Installing only after the session ends ([ERRATA] 3.49)."""
    st, link = await booted(ocpp={"MeterValueSampleInterval": 0})
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.card("TAG1")
    await link.expect("Authorize")
    await link.expect_unordered(["StartTransaction", SN])
    url = f"{files.http_url}/firmware/manifest/4.0"
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
    await fw_status(link, "Downloading")
    await fw_status(link, "Downloaded")
    await link.no_call(1.5)  # the session goes on
    assert (await st.state())["firmware"]["waitingFor"] == [1]
    await st.card("TAG1")  # the driver ends it
    seen = []
    while not (("FirmwareStatusNotification", "Installing") in seen and (SN, "Unavailable") in seen):
        c = await link.next_call(timeout=10)
        seen.append((c.action, c.payload.get("status") or c.payload.get("reason")))
    assert seen.index(("StopTransaction", "Local")) < seen.index((SN, "Unavailable"))
    await installed_after_reboot(link, "4.0", connector_status="Finishing")  # the cable is still in (spec §2.5)
    assert await st.stop() == 0


async def test_firmware_download_resumes_after_kill_9_e2e(booted, station_factory, files, csms):
    """A power cut (SIGKILL) in the middle of a download: after the restart the CSMS is told Downloading again, the
    download continues from the partial file (an HTTP Range request), and the update completes."""
    files.rate = 400_000  # bytes/s: a 1.6 MB image takes about 4 s
    doc = manifest("5.0") + b" " * 1_600_000  # a manifest padded past the manifest size: read as an image
    (files.root / "big.bin").write_bytes(doc)
    st, link = await booted()
    url = f"{files.http_url}/firmware/big.bin"
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
    await fw_status(link, "Downloading")
    async def part_sent() -> None:  # the server's own count of bytes sent, looked at every 50 ms
        while files.bytes_sent < 500_000:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(part_sent(), 15)
    fw = (await st.state())["firmware"]
    assert fw["state"] == "Downloading" and 0 < fw["downloadedBytes"] < fw["totalBytes"] == len(doc)
    assert files.bytes_sent < len(doc)  # the power goes with the download under way
    await st.kill()
    files.rate = None
    st2 = await station_factory(config_name="CP001-again.toml")
    await link.expect("BootNotification", timeout=15)
    calls = [await link.next_call(timeout=10) for _ in range(3)]
    assert [c.action for c in calls] == [SN, SN, FW] and calls[-1].payload == {"status": "Downloading"}
    await fw_status(link, "Downloaded")
    path, rng = files.requests[-1]
    assert path == "/firmware/big.bin" and rng is not None and int(rng[6:-1]) > 100_000  # resumed, not restarted
    assert status(await link.expect(SN)) == (1, "Unavailable", "NoError")
    await fw_status(link, "Installing")
    await installed_after_reboot(link, "ocpp-station 0.1.0")  # not a manifest: installed, version unchanged
    await st2.line("downloading .* \\(resuming\\)")
    assert await st2.stop() == 0


async def test_https_download_with_a_certificate_made_in_the_test_e2e(booted, tmp_path):
    """HTTPS from a file server whose certificate comes from a CA made for the test; the station trusts it through
    [station] ca_file."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    root = tmp_path / "tls-files"
    root.mkdir()
    srv = FileServer(root, ssl_context=ctx)
    await srv.start_http("127.0.0.1", 0)
    try:
        st, link = await booted(station={"ca_file": str(ca_file)})
        assert srv.http_url.startswith("https://")
        url = f"{srv.http_url}/firmware/manifest/7.1"
        assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
        await downloaded_and_installing(link)
        await installed_after_reboot(link, "7.1")
        assert await st.stop() == 0
    finally:
        await srv.stop()


async def test_command_installer_runs_the_makers_program_e2e(booted, files, tmp_path):
    """installer = "command": the configured program gets the file's path; exit 0 and its firmwareVersion= line
    make the update Installed with that version; its output is in the log."""
    script = tmp_path / "install.py"
    script.write_text("import sys, os\nprint('flashing', os.path.getsize(sys.argv[1]), 'bytes')\n"
                      "print('firmwareVersion=8.8.8')\n")
    (files.root / "image.bin").write_bytes(os.urandom(100_000))
    st, link = await booted(firmware={"installer": "command", "command": [sys.executable, str(script)],
                                      "install_timeout": 20})
    url = f"{files.http_url}/firmware/image.bin"
    assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
    await downloaded_and_installing(link)
    await installed_after_reboot(link, "8.8.8")
    await st.line("installer: flashing 100000 bytes")
    assert await st.stop() == 0


async def test_tc_045_1_cs_get_diagnostics_over_http_e2e(booted, files):
    """TC_045_1_CS: GetDiagnostics.conf carries fileName; Uploading, Uploaded; the archive is at location/fileName
    and holds the station log, the frame log, the configuration and the queue summary."""
    st, link = await booted()
    conf = await link.call("GetDiagnostics", {"location": f"{files.http_url}/diagnostics", "retries": 0})
    name = conf["fileName"]
    assert name.startswith("diagnostics-CP001-") and name.endswith(".zip")
    await diag_status(link, "Uploading")
    await diag_status(link, "Uploaded")
    with zipfile.ZipFile(files.uploads / name) as z:
        assert sorted(z.namelist()) == ["configuration.json", "frames.log", "queue.json", "station.log"]
        frames = z.read("frames.log").decode()
        assert '"BootNotification"' in frames and '"GetDiagnostics"' in frames
        assert "connected to" in z.read("station.log").decode()
        cfg = json.loads(z.read("configuration.json"))
        assert cfg["identity"] == "CP001" and "AuthorizationKey" not in cfg["keys"]
        assert cfg["keys"]["SupportedFileTransferProtocols"]["value"] == "FTP,FTPS,HTTP,HTTPS"
        assert json.loads(z.read("queue.json"))["transactionMessages"] == []
    assert (await st.state())["diagnostics"] == {"status": "Idle", "lastResult": "Uploaded"}
    assert await st.stop() == 0


async def test_tc_045_1_cs_get_diagnostics_over_ftp_with_a_time_window_e2e(booted, files):
    """TC_045_1_CS over FTP; startTime/stopTime in the future: the logs in the archive are empty."""
    st, link = await booted()
    future = "2099-01-01T00:00:00Z"
    conf = await link.call("GetDiagnostics", {"location": ftp_url(files, "/diagnostics"), "startTime": future,
                                              "stopTime": "2099-01-02T00:00:00Z"})
    await diag_status(link, "Uploading")
    await diag_status(link, "Uploaded")
    with zipfile.ZipFile(files.uploads / conf["fileName"]) as z:
        assert z.read("frames.log").strip() == b"" and z.read("station.log").strip() == b""
    assert await st.stop() == 0


async def test_tc_045_2_cs_get_diagnostics_upload_failed_e2e(booted, files):
    """TC_045_2_CS: retries 0 and a target that refuses the login: Uploading, UploadFailed; the station works on."""
    st, link = await booted()
    conf = await link.call("GetDiagnostics", {"location": ftp_url(files, "/diagnostics", password="bad"),
                                              "retries": 0})
    assert "fileName" in conf
    await diag_status(link, "Uploading")
    await diag_status(link, "UploadFailed")
    await st.line("upload failed: login refused")
    assert await link.call("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) == {
        "status": "Accepted"}
    await diag_status(link, "Idle")
    await st.plug_in()
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    assert await st.stop() == 0


async def test_tc_045_1_cs_get_diagnostics_over_ftps_and_tc_044_1_cs_over_ftps_e2e(booted, tmp_path):
    """Explicit FTPS (AUTH TLS, protected data channel) from the dev CSMS's FTP server with a certificate made for
    the test, trusted through [station] ca_file: a firmware download and a diagnostics upload."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    root = tmp_path / "ftps-files"
    root.mkdir()
    (root / "fw-5.5.json").write_bytes(manifest("5.5"))
    srv = FileServer(root)
    port = srv.start_ftp("127.0.0.1", 0, "ocpp", "ocpp", certfile=str(certfile), keyfile=str(keyfile))
    try:
        st, link = await booted(station={"ca_file": str(ca_file)})
        conf = await link.call("GetDiagnostics", {"location": f"ftps://ocpp:ocpp@127.0.0.1:{port}/diagnostics",
                                                  "retries": 0})
        await diag_status(link, "Uploading")
        await diag_status(link, "Uploaded")
        assert zipfile.is_zipfile(root / "diagnostics" / conf["fileName"])
        url = f"ftps://ocpp:ocpp@127.0.0.1:{port}/fw-5.5.json"
        assert await link.call("UpdateFirmware", {"location": url, "retrieveDate": now_iso(), "retries": 0}) == {}
        await downloaded_and_installing(link)
        await installed_after_reboot(link, "5.5")
        assert await st.stop() == 0
    finally:
        await srv.stop()

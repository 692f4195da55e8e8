"""``ocpp-station csms --files-dir`` as a real process: the file server over HTTP and FTP, uploads received,
``ocpp-station operator files / update-firmware / get-diagnostics``."""

from __future__ import annotations

import asyncio
import ftplib
import io
import json
import re
import signal
from pathlib import Path

import aiohttp
from websockets.asyncio.client import connect

from .conftest import RawStation
from .test_operator_cli import BOOT, CLI, CsmsProcess, _one_line, run_cli


async def _start(tmp_path: Path) -> tuple[CsmsProcess, str, int]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "csms", "--port", "0", "--quiet", "--files-dir", str(tmp_path), "--ftp", "127.0.0.1:0",
        "--ftp-user", "fw:secret", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    lines = [(await asyncio.wait_for(proc.stdout.readline(), 15)).decode() for _ in range(4)]
    ws = re.fullmatch(r"CSMS listening on (ws://\S+/ocpp)/<identity>\n", lines[0]).group(1)
    op = re.fullmatch(r"Operator API on (http://\S+/api)\n", lines[1]).group(1)
    http = re.fullmatch(r"Files on (http://127\.0\.0\.1:\d+)/firmware/<name> \(uploads: \S+/diagnostics/\)\n",
                        lines[2]).group(1)
    ftp_port = int(re.fullmatch(r"FTP on ftp://fw:secret@127\.0\.0\.1:(\d+)/ \(uploads: /diagnostics/\)\n",
                                lines[3]).group(1))
    return CsmsProcess(proc, ws, op), http, ftp_port


async def test_files_over_http_and_ftp_and_the_operator_commands(tmp_path) -> None:
    (tmp_path / "fw.bin").write_bytes(b"firmware image")
    csms, http, ftp_port = await _start(tmp_path)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{http}/firmware/fw.bin", headers={"Range": "bytes=9-"}) as r:
                assert (r.status, await r.read()) == (206, b"image")
            async with s.get(f"{http}/firmware/manifest/2.0?installable=false") as r:
                assert json.loads(await r.read()) == {"firmwareVersion": "2.0", "installable": False}
            async with s.get(f"{http}/firmware/nothing.bin") as r:
                assert r.status == 404
            async with s.put(f"{http}/diagnostics/a.zip", data=b"zip-a") as r:
                assert r.status == 201

        def ftp() -> bytes:
            f = ftplib.FTP()
            f.connect("127.0.0.1", ftp_port, timeout=5)
            f.login("fw", "secret")
            f.storbinary("STOR /diagnostics/b.zip", io.BytesIO(b"zip-b"))
            got = io.BytesIO()
            f.retrbinary("RETR /fw.bin", got.write)
            f.quit()
            return got.getvalue()

        assert await asyncio.to_thread(ftp) == b"firmware image"
        assert (tmp_path / "diagnostics" / "a.zip").read_bytes() == b"zip-a"
        assert (tmp_path / "diagnostics" / "b.zip").read_bytes() == b"zip-b"
        rc, out, err = await csms.operator("files")
        assert rc == 0 and json.loads(out)["uploads"] == [{"name": "a.zip", "bytes": 5}, {"name": "b.zip", "bytes": 5}]

        async with connect(f"{csms.ws_url}/CP1", subprotocols=["ocpp1.6"]) as ws:
            st = RawStation(ws)
            await st.call("BootNotification", BOOT)

            async def answer(payload):
                frame = await st.recv(timeout=15)
                await st.send([3, frame[1], payload])
                return frame

            answering = asyncio.create_task(answer({}))
            rc, out, err = await csms.operator("update-firmware", "CP1", f"{http}/firmware/fw.bin", "--retries", "0")
            assert (rc, err) == (0, "")
            frame = await answering
            assert frame[2] == "UpdateFirmware"
            assert frame[3]["location"] == f"{http}/firmware/fw.bin" and frame[3]["retries"] == 0
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", frame[3]["retrieveDate"])

            answering = asyncio.create_task(answer({"fileName": "d.zip"}))
            rc, out, err = await csms.operator("get-diagnostics", "CP1", f"{http}/diagnostics",
                                               "--start-time", "2026-01-01T00:00:00Z")
            assert rc == 0 and json.loads(out)["payload"] == {"fileName": "d.zip"}
            frame = await answering
            assert frame[2:] == ["GetDiagnostics", {"location": f"{http}/diagnostics",
                                                    "startTime": "2026-01-01T00:00:00Z"}]
    finally:
        csms.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(csms.proc.communicate(), 10)
    assert csms.proc.returncode == 0


def test_file_options_need_files_dir_and_a_directory(tmp_path) -> None:
    assert _one_line(run_cli("csms", "--port", "0", "--ftp", "127.0.0.1:0")) == (
        "ocpp-station: --files-listen, --ftp and --https-cert need --files-dir")
    assert _one_line(run_cli("csms", "--port", "0", "--files-dir", str(tmp_path / "none"))) == (
        f"ocpp-station: --files-dir: {str(tmp_path / 'none')!r} is not a directory")
    assert _one_line(run_cli("csms", "--port", "0", "--files-dir", str(tmp_path), "--ftp-user", "nopass")) == (
        "ocpp-station: --ftp-user: expected USER:PASSWORD, got 'nopass'")


async def test_files_over_https_with_a_given_certificate(tmp_path) -> None:
    """``--https-cert/--https-key``: the file server speaks HTTPS with that certificate (a CA made in the test)."""
    import ssl

    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    files = tmp_path / "files"
    files.mkdir()
    (files / "fw.bin").write_bytes(b"firmware image")
    proc = await asyncio.create_subprocess_exec(
        *CLI, "csms", "--port", "0", "--quiet", "--files-dir", str(files), "--https-cert", str(cert),
        "--https-key", str(key), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 15)).decode() for _ in range(3)]
        https = re.fullmatch(r"Files on (https://127\.0\.0\.1:\d+)/firmware/<name> \(uploads: \S+/diagnostics/\)\n",
                             lines[2])
        assert https, lines
        client = ssl.create_default_context()
        ca.configure_trust(client)
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{https.group(1)}/firmware/fw.bin", ssl=client) as r:
                assert (r.status, await r.read()) == (200, b"firmware image")
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0

"""runtime/transfer.py against real servers on 127.0.0.1: aiohttp (HTTP, HTTPS with a certificate made for the
test) and pyftpdlib (FTP, explicit FTPS): downloads, resume by Range / REST, truncated downloads, 404, refused
login, unreachable hosts, uploads by PUT, POST multipart and STOR."""

from __future__ import annotations

import os
import socket
import ssl

import pytest
import trustme
from servers import FtpFiles, HttpFiles

from ocpp_station.runtime.transfer import TransferError, TransferSettings, download, redact, upload

DATA = os.urandom(3 * 1024 * 1024 + 123)


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "fw.bin").write_bytes(DATA)
    return root


@pytest.fixture
async def http(served):
    srv = await HttpFiles(served).start()
    yield srv
    await srv.stop()


@pytest.fixture
def ftp(served):
    srv = FtpFiles(served).start()
    yield srv
    srv.stop()


@pytest.fixture
def tls(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx, str(certfile), str(keyfile)


def settings(**kw) -> TransferSettings:
    return TransferSettings(timeout=5.0, **kw)


async def test_http_download_writes_the_file_through_a_part_file(http, tmp_path):
    dest = tmp_path / "out" / "fw.bin"
    assert await download(http.url("/files/fw.bin"), dest, settings()) == len(DATA)
    assert dest.read_bytes() == DATA
    assert not (tmp_path / "out" / "fw.bin.part").exists()


async def test_http_download_resumes_a_partial_file_by_range(http, tmp_path):
    dest = tmp_path / "fw.bin"
    n = 1_000_000
    # the part holds marker bytes: only a real resume keeps them in front of the rest
    (tmp_path / "fw.bin.part").write_bytes(b"X" * n)
    await download(http.url("/files/fw.bin"), dest, settings(), resume=True)
    assert http.seen[-1] == ("GET", "/files/fw.bin", f"bytes={n}-")
    assert dest.read_bytes() == b"X" * n + DATA[n:]


async def test_http_truncated_download_fails_keeps_the_part_and_the_next_attempt_resumes(http, tmp_path):
    dest = tmp_path / "fw.bin"
    http.cut.add("fw.bin")
    with pytest.raises(TransferError, match="truncated|cut short"):
        await download(http.url("/files/fw.bin"), dest, settings())
    part = tmp_path / "fw.bin.part"
    have = part.stat().st_size
    assert 0 < have < len(DATA) and not dest.exists()
    await download(http.url("/files/fw.bin"), dest, settings())
    assert http.seen[-1][2] == f"bytes={have}-"
    assert dest.read_bytes() == DATA


async def test_http_404_names_the_status(http, tmp_path):
    with pytest.raises(TransferError, match="HTTP 404"):
        await download(http.url("/files/does_not_exist_fw.bin"), tmp_path / "x", settings())


async def test_unreachable_host_names_the_address(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there
    with pytest.raises(TransferError, match=f"cannot connect to 127.0.0.1:{port}"):
        await download(f"http://127.0.0.1:{port}/fw.bin", tmp_path / "x", settings())
    with pytest.raises(TransferError, match=f"cannot connect to 127.0.0.1:{port}"):
        await download(f"ftp://127.0.0.1:{port}/fw.bin", tmp_path / "x", settings())


async def test_unsupported_scheme(tmp_path):
    with pytest.raises(TransferError, match="unsupported scheme 'gopher'"):
        await download("gopher://127.0.0.1/fw.bin", tmp_path / "x", settings())


async def test_https_download_with_a_certificate_made_for_the_test(served, tmp_path, tls):
    server_ctx, client_ctx, _, _ = tls
    srv = await HttpFiles(served, ssl_context=server_ctx).start()
    try:
        dest = tmp_path / "fw.bin"
        await download(srv.url("/files/fw.bin"), dest, settings(ssl_context=client_ctx))
        assert dest.read_bytes() == DATA
        with pytest.raises(TransferError, match="certificate"):  # not trusted without the test's CA
            await download(srv.url("/files/fw.bin"), tmp_path / "y", settings())
    finally:
        await srv.stop()


async def test_ftp_download_and_resume_by_rest(ftp, tmp_path):
    dest = tmp_path / "fw.bin"
    await download(ftp.url("/fw.bin"), dest, settings())
    assert dest.read_bytes() == DATA
    n = 777_777
    (tmp_path / "fw2.bin.part").write_bytes(b"Y" * n)
    await download(ftp.url("/fw.bin"), tmp_path / "fw2.bin", settings(), resume=True)
    assert (tmp_path / "fw2.bin").read_bytes() == b"Y" * n + DATA[n:]


async def test_ftp_refused_login(ftp, tmp_path):
    with pytest.raises(TransferError, match="login refused .* user 'user'"):
        await download(ftp.url("/fw.bin", password="wrong"), tmp_path / "x", settings())


async def test_ftp_missing_file(ftp, tmp_path):
    with pytest.raises(TransferError, match="550"):
        await download(ftp.url("/does_not_exist_fw.bin"), tmp_path / "x", settings())


async def test_ftps_download_and_upload(served, tmp_path, tls):
    _, client_ctx, certfile, keyfile = tls
    srv = FtpFiles(served, certfile=certfile, keyfile=keyfile).start()
    try:
        dest = tmp_path / "fw.bin"
        await download(srv.url("/fw.bin", scheme="ftps"), dest, settings(ssl_context=client_ctx))
        assert dest.read_bytes() == DATA
        src = tmp_path / "diag.zip"
        src.write_bytes(b"archive" * 1000)
        await upload(srv.url("/", scheme="ftps"), "diag.zip", src, settings(ssl_context=client_ctx))
        assert (served / "diag.zip").read_bytes() == src.read_bytes()
    finally:
        srv.stop()


async def test_uploads_put_post_and_stor(http, ftp, served, tmp_path):
    src = tmp_path / "d.zip"
    src.write_bytes(os.urandom(200_000))
    await upload(http.url("/upload"), "put.zip", src, settings())
    assert http.seen[-1][:2] == ("PUT", "/upload/put.zip")
    await upload(http.url("/upload"), "post.zip", src, settings(http_upload="POST"))
    assert http.seen[-1][:2] == ("POST", "/upload")
    await upload(ftp.url("/"), "stor.zip", src, settings())
    for name in ("put.zip", "post.zip", "stor.zip"):
        assert (served / name).read_bytes() == src.read_bytes(), name


async def test_upload_failures(http, ftp, tmp_path):
    src = tmp_path / "d.zip"
    src.write_bytes(b"x")
    with pytest.raises(TransferError, match="HTTP 405|HTTP 404"):
        await upload(http.url("/nowhere"), "d.zip", src, settings())
    with pytest.raises(TransferError, match="login refused"):
        await upload(ftp.url("/", password="bad"), "d.zip", src, settings())


def test_redact_hides_the_password():
    assert redact("ftp://user:secret@host:21/x") == "ftp://user:***@host:21/x"
    assert redact("http://host/x") == "http://host/x"


async def test_disk_full_is_named(http, tmp_path, monkeypatch):
    import errno
    import ocpp_station.runtime.transfer as transfer

    def full(f, data, part):
        raise transfer._disk(OSError(errno.ENOSPC, "No space left on device"), part)

    monkeypatch.setattr(transfer, "_write", full)
    with pytest.raises(TransferError, match="disk full writing .*fw.bin.part"):
        await download(http.url("/files/fw.bin"), tmp_path / "fw.bin", settings())

"""File transfers for Firmware Management: download a firmware image, upload a diagnostics archive.

* HTTP and HTTPS with aiohttp. A download continues a partial file with ``Range: bytes=<size>-`` (a 206
  answer appends, a 200 answer starts again); an answer shorter than its Content-Length is a truncated
  download, the part kept for the next attempt. An upload is a PUT of the file to ``location/fileName``
  (``http_upload = "PUT"``) or a POST of a multipart form with the file in the field ``file``
  (``"POST"``) to ``location``.
* FTP and explicit FTPS (AUTH TLS, protected data channel) with the standard library's ``ftplib`` in a
  worker thread, passive mode ([SPEC] §8.1: ``ftp://user:password@host:port/path``; no user = anonymous).
  A download continues with ``REST <size>``; an upload is ``STOR location/fileName``.
* Every network step has a timeout (``transfer_timeout``, for connecting and for each read).
* A download is written to ``<name>.part`` in the given directory, flushed to disk, then renamed: the
  final name exists only once the whole file is there.

Failures raise :class:`TransferError` with a one-line cause for the log (host unreachable, login refused,
HTTP 404, truncated, disk full, unsupported scheme).
"""

from __future__ import annotations

import asyncio
import errno
import ftplib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

import aiohttp

CHUNK = 256 * 1024
SCHEMES = ("ftp", "ftps", "http", "https")


class TransferError(Exception):
    """A transfer failed; the message names the cause."""


@dataclass(slots=True)
class TransferSettings:
    timeout: float = 30.0  # s for connecting and for each read or write
    http_upload: str = "PUT"  # "PUT" (the file at location/fileName) | "POST" (multipart form to location)
    ssl_context: ssl.SSLContext | None = None  # HTTPS / FTPS trust; None: the system's CAs


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise TransferError(f"unsupported scheme {scheme or '(none)'!r} in {redact(url)}")
    return scheme


def redact(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _ssl(settings: TransferSettings) -> ssl.SSLContext:
    return settings.ssl_context or ssl.create_default_context()


def _disk(exc: OSError, where: Path) -> TransferError:
    if exc.errno == errno.ENOSPC:
        return TransferError(f"disk full writing {where}")
    return TransferError(f"cannot write {where}: {exc.strerror or exc}")


# -- download ---------------------------------------------------------------------------------------------


async def download(url: str, dest: Path, settings: TransferSettings, resume: bool = True,
                   progress: Callable[[int, int | None], None] | None = None) -> int:
    """Fetch ``url`` into ``dest`` (through ``dest.part``); returns the file's size.

    With ``resume`` a partial ``dest.part`` left by an earlier attempt is continued, not started again."""
    scheme = _scheme(url)
    part = dest.with_name(dest.name + ".part")
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
        if not resume and part.exists():
            part.unlink()
    except OSError as exc:
        raise _disk(exc, part) from None
    if scheme in ("http", "https"):
        size = await _http_download(url, part, settings, progress)
    else:
        size = await asyncio.to_thread(_ftp_download, url, part, settings, scheme == "ftps", progress)
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise _disk(exc, dest) from None
    return size


def _open_part(part: Path, append: bool) -> Any:
    try:
        return open(part, "ab" if append else "wb")
    except OSError as exc:
        raise _disk(exc, part) from None


def _write(f: Any, data: bytes, part: Path) -> None:
    try:
        f.write(data)
    except OSError as exc:
        raise _disk(exc, part) from None


def _finish(f: Any, part: Path) -> None:
    try:
        f.flush()
        os.fsync(f.fileno())
    except OSError as exc:
        raise _disk(exc, part) from None
    finally:
        f.close()


def _timeout(settings: TransferSettings) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=settings.timeout, sock_connect=settings.timeout,
                                 sock_read=settings.timeout)


def _http_failure(url: str, exc: BaseException, timeout: float) -> TransferError:
    if isinstance(exc, TransferError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TransferError(f"no answer from {redact(url)} within {timeout:g} s")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TransferError(f"TLS certificate of {urlsplit(url).hostname} not trusted: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransferError(f"cannot connect to {urlsplit(url).netloc.rpartition('@')[2]}: {exc.strerror or exc}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransferError(f"download from {redact(url)} cut short: {exc}")
    return TransferError(f"{type(exc).__name__}: {exc}")


async def _http_download(url: str, part: Path, settings: TransferSettings,
                         progress: Callable[[int, int | None], None] | None) -> int:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        async with aiohttp.ClientSession(timeout=_timeout(settings)) as session:
            async with session.get(url, headers=headers, ssl=_ssl(settings) if url.startswith("https") else None) as r:
                if r.status == 416 and have:
                    # the part is already whole (or the server cannot range it): start again
                    part.unlink()
                    return await _http_download(url, part, settings, progress)
                if r.status >= 400:
                    raise TransferError(f"HTTP {r.status} {r.reason or ''} for {redact(url)}".rstrip())
                append = r.status == 206 and have > 0
                if not append:
                    have = 0
                length = r.content_length
                total = (have + length) if length is not None else None
                f = _open_part(part, append)
                got = have
                try:
                    async for chunk in r.content.iter_chunked(CHUNK):
                        _write(f, chunk, part)
                        got += len(chunk)
                        if progress is not None:
                            progress(got, total)
                finally:
                    _finish(f, part)
                if total is not None and got < total:
                    raise TransferError(f"truncated download from {redact(url)}: {got} of {total} bytes")
                return got
    except Exception as exc:  # noqa: BLE001 - every failure is a TransferError with its cause
        raise _http_failure(url, exc, settings.timeout) from None


def _ftp_connect(url: str, settings: TransferSettings, secure: bool) -> tuple[ftplib.FTP, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 21
    user = unquote(parts.username) if parts.username else "anonymous"
    password = unquote(parts.password) if parts.password else ("anonymous@" if user == "anonymous" else "")
    ftp: ftplib.FTP = ftplib.FTP_TLS(context=_ssl(settings)) if secure else ftplib.FTP()
    try:
        ftp.connect(host, port, timeout=settings.timeout)
    except (OSError, EOFError) as exc:
        raise TransferError(f"cannot connect to {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        if secure:
            ftp.auth()  # explicit FTPS: AUTH TLS on the control connection
        ftp.login(user, password)
        if secure:
            ftp.prot_p()  # the data connection under TLS too
        ftp.set_pasv(True)
    except ftplib.error_perm as exc:
        ftp.close()
        text = str(exc)
        if text.startswith("530"):
            raise TransferError(f"login refused by {host}:{port} for user {user!r}: {text}") from None
        raise TransferError(f"{host}:{port} refused: {text}") from None
    except (OSError, EOFError, ftplib.Error) as exc:
        ftp.close()
        raise TransferError(f"FTP session with {host}:{port} failed: {exc or type(exc).__name__}") from None
    return ftp, unquote(parts.path) or "/"


def _ftp_download(url: str, part: Path, settings: TransferSettings, secure: bool,
                  progress: Callable[[int, int | None], None] | None) -> int:
    ftp, path = _ftp_connect(url, settings, secure)
    have = part.stat().st_size if part.exists() else 0
    try:
        ftp.voidcmd("TYPE I")
        try:
            total: int | None = ftp.size(path)
        except ftplib.error_perm as exc:
            raise TransferError(f"{redact(url)}: {exc}") from None
        if total is not None and have > total:
            have = 0
        if total is not None and have == total and have > 0:
            return have  # whole already
        f = _open_part(part, have > 0)
        got = [have]

        def write(data: bytes) -> None:
            _write(f, data, part)
            got[0] += len(data)
            if progress is not None:
                progress(got[0], total)

        try:
            ftp.retrbinary(f"RETR {path}", write, blocksize=CHUNK, rest=have or None)
        except ftplib.error_perm as exc:
            raise TransferError(f"{redact(url)}: {exc}") from None
        except (OSError, EOFError, ftplib.Error) as exc:
            if isinstance(exc, TimeoutError):
                raise TransferError(f"no data from {redact(url)} within {settings.timeout:g} s") from None
            raise TransferError(f"download from {redact(url)} cut short: {exc}") from None
        finally:
            _finish(f, part)
        if total is not None and got[0] < total:
            raise TransferError(f"truncated download from {redact(url)}: {got[0]} of {total} bytes")
        return got[0]
    finally:
        try:
            ftp.quit()
        except Exception:  # noqa: BLE001 - the transfer's outcome is decided
            ftp.close()


# -- upload -----------------------------------------------------------------------------------------------


def upload_target(location: str, file_name: str) -> str:
    """``location`` is a directory ([SPEC] §6.25): the file goes to location/fileName."""
    return location.rstrip("/") + "/" + file_name


async def upload(location: str, file_name: str, path: Path, settings: TransferSettings) -> None:
    """Send the file at ``path`` to the directory ``location`` under ``file_name``."""
    scheme = _scheme(location)
    if scheme in ("http", "https"):
        await _http_upload(location, file_name, path, settings)
    else:
        await asyncio.to_thread(_ftp_upload, upload_target(location, file_name), path, settings, scheme == "ftps")


async def _http_upload(location: str, file_name: str, path: Path, settings: TransferSettings) -> None:
    https = location.startswith("https")
    try:
        async with aiohttp.ClientSession(timeout=_timeout(settings)) as session:
            with open(path, "rb") as f:
                if settings.http_upload.upper() == "POST":
                    form = aiohttp.FormData()
                    form.add_field("file", f, filename=file_name, content_type="application/octet-stream")
                    target = location
                    req = session.post(target, data=form, ssl=_ssl(settings) if https else None)
                else:
                    target = upload_target(location, file_name)
                    req = session.put(target, data=f, ssl=_ssl(settings) if https else None,
                                      headers={"Content-Type": "application/octet-stream"})
                async with req as r:
                    if r.status >= 400:
                        raise TransferError(f"HTTP {r.status} {r.reason or ''} for {redact(target)}".rstrip())
    except OSError as exc:
        if isinstance(exc, aiohttp.ClientError):
            raise _http_failure(location, exc, settings.timeout) from None
        raise TransferError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise _http_failure(location, exc, settings.timeout) from None


def _ftp_upload(url: str, path: Path, settings: TransferSettings, secure: bool) -> None:
    ftp, target = _ftp_connect(url, settings, secure)
    try:
        with open(path, "rb") as f:
            try:
                ftp.storbinary(f"STOR {target}", f, blocksize=CHUNK)
            except ftplib.error_perm as exc:
                raise TransferError(f"{redact(url)}: {exc}") from None
            except (OSError, EOFError, ftplib.Error) as exc:
                raise TransferError(f"upload to {redact(url)} failed: {exc}") from None
    finally:
        try:
            ftp.quit()
        except Exception:  # noqa: BLE001
            ftp.close()

"""The dev CSMS's file server for Firmware Management: firmware files for UpdateFirmware, a place for the
diagnostics archives GetDiagnostics uploads (``ocpp-station csms --files-dir DIR``).

HTTP (HTTPS with ``--https-cert/--https-key``), on ``--files-listen``:

* ``GET /firmware/<name>``: the file ``DIR/<name>`` (Range requests answered: a station resumes);
* ``GET /firmware/manifest/<version>``: a firmware manifest made on the fly, ``{"firmwareVersion":
  "<version>"}``, which the station's simulated installer installs as that version;
  ``?installable=false`` gives one it refuses (InstallationFailed);
* ``PUT /diagnostics/<name>``: the body is stored as ``DIR/diagnostics/<name>``;
* ``POST /diagnostics``: a multipart form, its ``file`` field stored under its filename;
* ``GET /diagnostics/``: the names and sizes of the uploads received.

FTP (``--ftp HOST:PORT``, pyftpdlib): user ``ocpp``, password ``ocpp`` (``--ftp-user USER:PASSWORD``), home
``DIR``: firmware at ``ftp://ocpp:ocpp@HOST:PORT/<name>``, uploads into ``ftp://.../diagnostics/``. With
``--https-cert/--https-key`` the FTP server is FTPS (explicit, AUTH TLS) when pyOpenSSL is installed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


def _name(text: str) -> str:
    if not _SAFE.match(text) or text.startswith("."):
        raise web.HTTPBadRequest(reason="a file name of letters, digits, '.', '_' and '-'")
    return text


def manifest(version: str, installable: bool = True) -> bytes:
    doc: dict[str, Any] = {"firmwareVersion": version}
    if not installable:
        doc["installable"] = False
    return json.dumps(doc).encode()


class FileServer:
    def __init__(self, root: Path, ssl_context: ssl.SSLContext | None = None, rate: int | None = None) -> None:
        self.root = Path(root)
        self.rate = rate  # bytes/s per HTTP download (None: as fast as the link goes)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header) of every firmware GET
        self.bytes_sent = 0  # firmware bytes sent over HTTP (the throttled path counts them as they go)
        self.uploads = self.root / "diagnostics"
        self.ssl_context = ssl_context
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self.ftp: Any = None
        self._ftp_thread: threading.Thread | None = None
        self.ftp_port = 0

    # -- HTTP -----------------------------------------------------------------------------------------------

    async def _firmware(self, request: web.Request) -> web.StreamResponse:
        path = self.root / _name(request.match_info["name"])
        self.requests.append((request.path, request.headers.get("Range")))
        if not path.is_file():
            raise web.HTTPNotFound(reason=f"no firmware file {path.name}")
        if not self.rate:
            self.bytes_sent += path.stat().st_size
            return web.FileResponse(path)
        return await self._throttled(request, path)

    async def _throttled(self, request: web.Request, path: Path) -> web.StreamResponse:
        """The file at ``rate`` bytes/s, from the offset of a ``Range: bytes=N-`` header (206) if any."""
        size = path.stat().st_size
        start = 0
        rng = request.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-") and rng[6:-1].isdigit():
            start = int(rng[6:-1])
            if start >= size:
                raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        headers = {"Content-Length": str(size - start), "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        status = 200
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        resp = web.StreamResponse(status=status, headers=headers)
        await resp.prepare(request)
        chunk = max(1024, self.rate // 10)
        with open(path, "rb") as f:
            f.seek(start)
            while data := f.read(chunk):
                await resp.write(data)
                self.bytes_sent += len(data)
                await asyncio.sleep(len(data) / self.rate)
        await resp.write_eof()
        return resp

    async def _manifest(self, request: web.Request) -> web.Response:
        version = request.match_info["version"][:50]
        installable = request.query.get("installable", "true").lower() != "false"
        return web.Response(body=manifest(version, installable), content_type="application/json")

    async def _put(self, request: web.Request) -> web.Response:
        name = _name(request.match_info["name"])
        self.uploads.mkdir(parents=True, exist_ok=True)
        tmp = self.uploads / f".{name}.part"
        with open(tmp, "wb") as f:
            async for chunk in request.content.iter_chunked(256 * 1024):
                f.write(chunk)
        tmp.replace(self.uploads / name)
        log.info("diagnostics upload received: %s", name)
        return web.json_response({"stored": name}, status=201)

    async def _post(self, request: web.Request) -> web.Response:
        reader = await request.multipart()
        stored = []
        async for part in reader:
            if part.name != "file" or not part.filename:
                continue
            name = _name(Path(part.filename).name)
            self.uploads.mkdir(parents=True, exist_ok=True)
            tmp = self.uploads / f".{name}.part"
            with open(tmp, "wb") as f:
                while chunk := await part.read_chunk(256 * 1024):
                    f.write(chunk)
            tmp.replace(self.uploads / name)
            log.info("diagnostics upload received: %s", name)
            stored.append(name)
        if not stored:
            raise web.HTTPBadRequest(reason="expected a multipart form with a file in the field 'file'")
        return web.json_response({"stored": stored}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"uploads": self.listing()})

    def listing(self) -> list[dict[str, Any]]:
        if not self.uploads.is_dir():
            return []
        return [{"name": p.name, "bytes": p.stat().st_size} for p in sorted(self.uploads.iterdir())
                if p.is_file() and not p.name.startswith(".")]

    async def start_http(self, host: str, port: int) -> int:
        app = web.Application(client_max_size=1 << 31)
        app.add_routes([
            web.get("/firmware/manifest/{version}", self._manifest),
            web.get("/firmware/{name}", self._firmware),
            web.put("/diagnostics/{name}", self._put),
            web.post("/diagnostics", self._post),
            web.post("/diagnostics/", self._post),
            web.get("/diagnostics/", self._list),
        ])
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, ssl_context=self.ssl_context)
        try:
            await site.start()
        except BaseException:
            await self.runner.cleanup()
            self.runner = None
            raise
        self.host, self.port = host, self.runner.addresses[0][1]
        return self.port

    @property
    def http_url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    # -- FTP ------------------------------------------------------------------------------------------------

    def start_ftp(self, host: str, port: int, user: str = "ocpp", password: str = "ocpp",
                  certfile: str | None = None, keyfile: str | None = None) -> int:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        self.uploads.mkdir(parents=True, exist_ok=True)
        auth = DummyAuthorizer()
        auth.add_user(user, password, str(self.root), perm="elrwMT")  # read, list, write; no delete or rename
        base: type = FTPHandler
        if certfile:
            try:
                from pyftpdlib.handlers import TLS_FTPHandler
            except ImportError:  # pyOpenSSL absent: plain FTP
                log.warning("FTPS needs pyOpenSSL: the FTP server speaks plain FTP")
            else:
                base = TLS_FTPHandler
        handler: Any = type("CsmsFtpHandler", (base,), {})
        handler.authorizer = auth
        handler.banner = "ocpp-station dev CSMS FTP"
        if base is not FTPHandler:
            handler.certfile = certfile
            handler.keyfile = keyfile
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        from pyftpdlib.ioloop import IOLoop

        # an IOLoop of its own (pyftpdlib's default is one per process, which a second server would share), run
        # and closed on the server's thread only
        self.ftp = ThreadedFTPServer((host, port), handler, ioloop=IOLoop())
        self.ftp_port = self.ftp.address[1]
        self._ftp_stop = threading.Event()
        self._ftp_thread = threading.Thread(target=self._serve_ftp, name="ftp", daemon=True)
        self._ftp_thread.start()
        return self.ftp_port

    def _serve_ftp(self) -> None:
        server = self.ftp
        try:
            while not self._ftp_stop.is_set():
                server.serve_forever(timeout=0.2, blocking=False, handle_exit=False)
        finally:
            server.close_all()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.ftp is not None:
            self._ftp_stop.set()
            if self._ftp_thread is not None:
                await asyncio.to_thread(self._ftp_thread.join, 5)
            self.ftp = None

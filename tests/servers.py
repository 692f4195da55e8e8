"""Real file servers on 127.0.0.1 for the transfer tests: an aiohttp HTTP(S) server and a pyftpdlib FTP(S)
server, each serving a directory and receiving uploads into it."""

from __future__ import annotations

import threading
from pathlib import Path

from aiohttp import web


class HttpFiles:
    """GET /files/<name> (with Range), PUT /upload/<name>, POST /upload (multipart field ``file``); every
    request's method, path and Range header is kept in ``seen``. ``cut`` names files whose first answer is cut
    off halfway (a truncated download)."""

    def __init__(self, root: Path, ssl_context=None) -> None:
        self.root = root
        self.ssl_context = ssl_context
        self.seen: list[tuple[str, str, str | None]] = []
        self.cut: set[str] = set()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.seen.append(("GET", request.path, request.headers.get("Range")))
        path = self.root / name
        if not path.is_file():
            raise web.HTTPNotFound()
        if name in self.cut:
            self.cut.discard(name)
            data = path.read_bytes()
            resp = web.StreamResponse(headers={"Content-Length": str(len(data))})
            await resp.prepare(request)
            await resp.write(data[: len(data) // 2])
            request.transport.close()  # the link dies halfway
            return resp
        return web.FileResponse(path)

    async def _put(self, request: web.Request) -> web.Response:
        self.seen.append(("PUT", request.path, None))
        (self.root / request.match_info["name"]).write_bytes(await request.read())
        return web.Response(status=201)

    async def _post(self, request: web.Request) -> web.Response:
        self.seen.append(("POST", request.path, None))
        form = await request.post()
        f = form["file"]
        (self.root / f.filename).write_bytes(f.file.read())
        return web.Response(status=201)

    async def start(self) -> "HttpFiles":
        app = web.Application(client_max_size=1 << 30)
        app.router.add_get("/files/{name}", self._get)
        app.router.add_put("/upload/{name}", self._put)
        app.router.add_post("/upload", self._post)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def url(self, path: str) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"


class FtpFiles:
    """An FTP server (user ``user``, password ``pass``; FTPS with ``certfile``) on a thread, serving ``root``."""

    def __init__(self, root: Path, certfile: str | None = None, keyfile: str | None = None) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        auth = DummyAuthorizer()
        auth.add_user("user", "pass", str(root), perm="elradfmwMT")
        if certfile:
            handler = type("H", (TLS_FTPHandler,), {})
            handler.certfile = certfile
            handler.keyfile = keyfile
            handler.tls_control_required = True
            handler.tls_data_required = True
        else:
            handler = type("H", (FTPHandler,), {})
        handler.authorizer = auth
        handler.passive_ports = None
        from pyftpdlib.ioloop import IOLoop

        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler, ioloop=IOLoop())
        self.port = self.server.address[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                self.server.serve_forever(timeout=0.2, blocking=False, handle_exit=False)
        finally:
            self.server.close_all()

    def start(self) -> "FtpFiles":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)

    def url(self, path: str, user: str = "user", password: str = "pass", scheme: str = "ftp") -> str:
        return f"{scheme}://{user}:{password}@127.0.0.1:{self.port}{path}"

"""The operator API of ``ocpp-station csms --workers N``: one address in front of the workers' own.

See :mod:`.workers` for what goes where. Answers are passed through unchanged (status, JSON body),
except the merged ``GET /api/stations`` and ``GET /api/status``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import ClientSession, ClientTimeout, web
from yarl import URL

from .operator_api import MAX_BODY, serve_app
from .workers import merge_stats

BROADCAST = ("/api/policy", "/api/firmware-signing")  # changed on every worker


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class OperatorProxy:
    def __init__(self, workers: list[str]) -> None:
        self.workers = workers  # http://127.0.0.1:PORT of each worker's operator API
        self.session: ClientSession | None = None

    async def _fetch(self, i: int, method: str, target: str, body: bytes | None = None,
                     content_type: str | None = None) -> tuple[int, bytes, str]:
        assert self.session is not None
        headers = {"Content-Type": content_type} if content_type else {}
        async with self.session.request(method, URL(self.workers[i] + target, encoded=True), data=body,
                                        headers=headers) as r:
            return r.status, await r.read(), r.headers.get("Content-Type", "application/json")

    async def _get_all(self, target: str) -> list[tuple[int, Any]]:
        answers = await asyncio.gather(*(self._fetch(i, "GET", target) for i in range(len(self.workers))))
        out = []
        for status, body, _ in answers:
            try:
                out.append((status, orjson.loads(body)))
            except orjson.JSONDecodeError:
                out.append((status, None))
        return out

    async def _holder(self, identity_raw: str) -> int:
        """The worker that holds the station: connected there, else the one that saw it last (0: none)."""
        best, best_seen = 0, ""
        for i, (status, doc) in enumerate(await self._get_all(f"/api/stations/{identity_raw}")):
            if status != 200 or not isinstance(doc, dict):
                continue
            if doc.get("connected"):
                return i
            seen = doc.get("lastSeen") or ""
            if seen > best_seen:
                best, best_seen = i, seen
        return best

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        target = str(request.rel_url)  # path and query, percent-encoded as received
        body = await request.read() if request.body_exists else None
        ctype = request.headers.get("Content-Type")
        parts = raw_path.split("/")
        if raw_path == "/api/stations" and request.method == "GET":
            return self._merged_stations(await self._get_all(target))
        if raw_path == "/api/status" and request.method == "GET":
            docs = [doc for status, doc in await self._get_all(target) if status == 200 and isinstance(doc, dict)]
            for i, doc in enumerate(docs):
                doc.setdefault("worker", i)
            return _json(merge_stats(docs))
        if len(parts) >= 4 and parts[1:3] == ["api", "stations"] and parts[3]:
            worker = await self._holder(parts[3])
        elif request.method in ("PUT", "DELETE", "POST") and raw_path.startswith(BROADCAST):
            answers = await asyncio.gather(*(self._fetch(i, request.method, target, body, ctype)
                                             for i in range(len(self.workers))))
            status, data, rtype = answers[0]
            return web.Response(body=data, status=status, headers={"Content-Type": rtype})
        else:
            worker = 0
        status, data, rtype = await self._fetch(worker, request.method, target, body, ctype)
        return web.Response(body=data, status=status, headers={"Content-Type": rtype})

    @staticmethod
    def _merged_stations(answers: list[tuple[int, Any]]) -> web.Response:
        by_id: dict[str, dict[str, Any]] = {}
        for i, (status, doc) in enumerate(answers):
            if status != 200 or not isinstance(doc, dict):
                continue
            for st in doc.get("stations", []):
                st["worker"] = i
                old = by_id.get(st["identity"])
                if old is None or (st.get("connected"), st.get("lastSeen") or "") > (
                        old.get("connected"), old.get("lastSeen") or ""):
                    by_id[st["identity"]] = st
        return _json({"stations": list(by_id.values())})


async def start_operator_proxy(workers: list[str], listen: tuple[str, int]) -> tuple[web.AppRunner, int]:
    """Serve the merged operator API on ``listen``; the runner and the bound port."""
    proxy = OperatorProxy(workers)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)

    async def open_session(_app: web.Application) -> None:
        proxy.session = ClientSession(timeout=ClientTimeout(total=None))

    async def close_session(_app: web.Application) -> None:
        if proxy.session is not None:
            await proxy.session.close()

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return await serve_app(app, listen)

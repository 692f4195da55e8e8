"""The recent frames of every station, for ``GET /api/stations/{id}/messages`` of the operator API.

One ring buffer for the whole CSMS (``capacity`` frames, oldest dropped
first), so its memory stays bounded whatever the number of stations. A frame
costs one tuple when it passes; it is decoded only when someone reads it.
Every frame gets a sequence number, increasing across all stations: a reader
passes the last one it saw as ``since`` to get only what came after.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

import orjson

DEFAULT_CAPACITY = 10_000  # frames kept, all stations together
RAW_LIMIT = 2000  # characters of an undecodable frame shown in "raw"

_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}  # [OCPPJ] §4.1.3 MessageTypeId


def iso_utc(t: float) -> str:
    """``time.time()`` seconds as ISO 8601 UTC with milliseconds and 'Z'."""
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MessageLog:
    """The last ``capacity`` frames exchanged with any station."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: deque[tuple[int, str, str, str | bytes, float]] = deque(maxlen=capacity or 1)
        self._seq = 0
        self._waiters: set[asyncio.Future[None]] = set()  # readers waiting for the next frame
        self._closed = False

    @property
    def last_seq(self) -> int:
        """The sequence number of the last frame recorded (0 before the first)."""
        return self._seq

    @property
    def oldest_seq(self) -> int:
        """The sequence number of the oldest frame still kept (last_seq + 1 when none is)."""
        return self._entries[0][0] if self._entries else self._seq + 1

    def add(self, identity: str, direction: str, data: str | bytes) -> None:
        """Record a frame; ``direction`` is "in" (from the station) or "out" (to it)."""
        if self.capacity <= 0:
            return
        self._seq += 1
        self._entries.append((self._seq, identity, direction, data, time.time()))
        if self._waiters:
            self._wake()

    def close(self) -> None:
        """End every :meth:`wait_read` now (the CSMS is stopping); later ones do not wait."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def wait_read(
        self, identity: str, since: int, limit: int, action: str | None, timeout: float
    ) -> list[dict[str, Any]]:
        """:meth:`read`, waiting up to ``timeout`` seconds for a matching frame when there is none yet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.read(identity, since, limit, action)
            remaining = deadline - loop.time()
            if found or remaining <= 0 or self.capacity <= 0 or self._closed:
                return found
            fut = loop.create_future()
            self._waiters.add(fut)
            try:
                await asyncio.wait((fut,), timeout=remaining)
            finally:
                self._waiters.discard(fut)

    def read(
        self, identity: str, since: int = 0, limit: int = 500, action: str | None = None
    ) -> list[dict[str, Any]]:
        """The frames of ``identity`` with a sequence number above ``since`` (at most ``limit``, oldest
        first), decoded; ``action`` keeps only the frames of that action (CALLs and their answers).

        An answer's action is the one of the CALL it answers, when that CALL is still kept."""
        actions: dict[tuple[str, str], str] = {}  # (direction of the CALL, message id) -> action
        out: list[dict[str, Any]] = []
        for seq, who, direction, data, t in self._entries:
            if who != identity:
                continue
            doc = _decode(data)
            uid = doc.get("messageId")
            if doc["type"] == "CALL" and isinstance(uid, str) and isinstance(doc.get("action"), str):
                actions[(direction, uid)] = doc["action"]
            elif doc["type"] in ("CALLRESULT", "CALLERROR") and isinstance(uid, str):
                # an answer travels the other way from its CALL
                doc["action"] = actions.get(("out" if direction == "in" else "in", uid))
            if seq <= since or (action is not None and doc.get("action") != action):
                continue
            out.append({"seq": seq, "time": iso_utc(t), "from": "station" if direction == "in" else "csms", **doc})
            if len(out) >= limit:
                break
        return out


def _decode(data: str | bytes) -> dict[str, Any]:
    if isinstance(data, bytes):
        return {"type": "binary", "raw": f"<binary frame of {len(data)} bytes>"}
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        frame = None
    if isinstance(frame, list) and len(frame) >= 3 and frame[0] in _TYPES and isinstance(frame[1], str):
        kind = _TYPES[frame[0]]
        if kind == "CALL" and len(frame) == 4:
            return {"type": kind, "messageId": frame[1], "action": frame[2], "payload": frame[3]}
        if kind == "CALLRESULT" and len(frame) == 3:
            return {"type": kind, "messageId": frame[1], "action": None, "payload": frame[2]}
        if kind == "CALLERROR" and len(frame) == 5:
            return {"type": kind, "messageId": frame[1], "action": None, "errorCode": frame[2],
                    "errorDescription": frame[3], "errorDetails": frame[4]}
    raw = data if len(data) <= RAW_LIMIT else data[:RAW_LIMIT] + f"... ({len(data)} chars)"
    return {"type": "invalid", "raw": raw}

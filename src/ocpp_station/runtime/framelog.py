"""A bounded log of the OCPP frames in and out, for the control API, the HMI and the demo's timeline."""

from __future__ import annotations

import itertools
import logging
import logging.handlers
from collections import deque
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any, Callable

import orjson


@dataclass(slots=True)
class FrameRecord:
    seq: int  # increasing number of the record
    time: float  # wall-clock epoch seconds
    direction: str  # "in" (from the CSMS) | "out" (to the CSMS)
    kind: str  # "CALL" | "CALLRESULT" | "CALLERROR" | "?"
    action: str | None  # the action (for answers: of the CALL they answer)
    unique_id: str | None
    text: str  # the frame as sent

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "direction": self.direction,
            "kind": self.kind,
            "action": self.action,
            "uniqueId": self.unique_id,
            "frame": self.text,
        }


_KINDS = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}
HIDDEN = "<hidden>"  # what a secret's value becomes in the logs, the control API and the HMI


def hide_secrets(text: str) -> str:
    """The frame with the value of a ChangeConfiguration(AuthorizationKey) replaced by ``<hidden>``: the key is
    never written to a log or shown by the control API ([SEC] A01.FR.12)."""
    if "authorizationkey" not in text.lower():
        return text
    try:
        msg = orjson.loads(text)
        payload = msg[3]
        if msg[0] == 2 and msg[2] == "ChangeConfiguration" and str(payload["key"]).lower() == "authorizationkey":
            payload["value"] = HIDDEN
            return orjson.dumps(msg).decode()
    except Exception:
        pass
    return text


class FrameLog:
    def __init__(self, size: int = 500) -> None:
        self.records: deque[FrameRecord] = deque(maxlen=size)  # newest last
        self._seq = itertools.count(1)  # record numbers
        self._actions: dict[tuple[str, str], str] = {}  # (sender direction, id) -> action of a CALL awaiting its answer
        self.listeners: list[Callable[[FrameRecord], None]] = []  # called for each new record
        self.file: FrameFile | None = None  # the full frames to a rotating file, when configured

    def add(self, direction: str, data: str | bytes, now: float) -> FrameRecord:
        text = hide_secrets(data) if isinstance(data, str) else f"<binary frame of {len(data)} bytes>"
        if self.file is not None:
            self.file.write(direction, text, now)
        kind, action, uid = "?", None, None
        if isinstance(data, str) and len(data) < 1_000_000:
            try:
                msg = orjson.loads(data)
                kind = _KINDS.get(msg[0], "?")
                uid = msg[1] if isinstance(msg[1], str) else None
                if kind == "CALL":
                    action = msg[2]
                    self._actions[(direction, uid)] = action
                    if len(self._actions) > 1000:
                        self._actions.pop(next(iter(self._actions)))
                elif uid is not None:
                    other = "out" if direction == "in" else "in"
                    action = self._actions.pop((other, uid), None)
            except Exception:
                pass
        rec = FrameRecord(next(self._seq), now, direction, kind, action, uid, text if len(text) <= 65536 else text[:65536] + "...")
        self.records.append(rec)
        for fn in list(self.listeners):
            fn(rec)
        return rec


class FrameFile:
    """Every OCPP frame, in full, to a size-rotated file (``[logging] frame_log``): one line per frame,
    ``<UTC time> <in|out> <frame>``, ``in`` being from the CSMS. When the file reaches ``max_bytes`` it
    becomes ``<path>.1`` (the older ones ``.2`` ... up to ``backups``) and a new one starts."""

    def __init__(self, path: Any, max_bytes: int, backups: int) -> None:
        self.handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        self.handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, direction: str, text: str, wall: float) -> None:
        stamp = datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = f"{stamp} {direction} {' '.join(text.splitlines())}"
        self.handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO, "levelname": "INFO"}))

    def close(self) -> None:
        self.handler.close()

"""Decoding and encoding of OCPP-J frames ([OCPPJ] §4).

``decode`` never raises anything but :class:`FrameError` (answer with a
CALLERROR) or :class:`FrameIgnored` (drop, log); a payload above the size
limit is refused before it is parsed.
"""

from __future__ import annotations

import re

import orjson

from .rpc import (
    MAX_UNIQUE_ID_LENGTH,
    UNKNOWN_ID,
    Call,
    CallError,
    CallResult,
    ErrorCode,
    Frame,
    MessageType,
)

DEFAULT_MAX_FRAME_BYTES = 512 * 1024

# reads the message id of an over-long frame without parsing it (an id over 36 characters too: it is readable)
_ID_PREFIX = re.compile(rb'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,100})"')


class FrameError(Exception):
    """The frame cannot be processed; answer CALLERROR(code) to ``unique_id``."""

    def __init__(self, code: str, description: str, unique_id: str = UNKNOWN_ID, action: str | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.unique_id = unique_id  # id of the offending frame, or "-1"
        self.action = action  # the action, when the frame was a readable CALL
        self.is_call = action is not None


class FrameIgnored(Exception):
    """The frame is dropped without an answer (e.g. an unknown message type, [OCPPJ] §4.1.3)."""


def decode(data: str | bytes, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame:
    if isinstance(data, (bytes, bytearray, memoryview)) and not isinstance(data, str):
        # OCPP-J uses text frames only ([OCPPJ] §4.1): a binary frame is not an OCPP message.
        raise FrameError(ErrorCode.GENERIC_ERROR, "binary frames are not supported; OCPP-J uses text frames")
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        m = _ID_PREFIX.match(raw[:128])
        unique_id = m.group(1).decode("utf-8", "replace") if m else UNKNOWN_ID
        raise FrameError(
            ErrorCode.GENERIC_ERROR,
            f"frame of {len(raw)} bytes exceeds the limit of {max_bytes} bytes",
            unique_id,
        )
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(ErrorCode.GENERIC_ERROR, f"frame is not valid JSON: {exc}") from None
    if not isinstance(msg, list) or not msg:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "frame is not a JSON array [MessageTypeId, UniqueId, ...]")
    mtype = msg[0]
    uid = msg[1] if len(msg) > 1 else None
    readable = isinstance(uid, str) and len(uid) > 0  # an id we can answer to
    reply_id = uid if readable else UNKNOWN_ID
    if type(mtype) is not int:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "MessageTypeId must be an integer", reply_id)
    if mtype not in (2, 3, 4):
        raise FrameIgnored(f"unknown MessageTypeId {mtype}")
    if not readable:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "UniqueId must be a string of 1 to 36 characters")
    if len(uid) > MAX_UNIQUE_ID_LENGTH:  # [OCPPJ] §4.1.1: at most 36 characters
        if mtype != MessageType.CALL:
            raise FrameIgnored(f"answer to an id of {len(uid)} characters, which we never send")
        # the id was read: the CALLERROR goes to it, so the sender can match it ("-1" is for unreadable ids)
        raise FrameError(
            ErrorCode.FORMATION_VIOLATION, f"UniqueId is {len(uid)} characters long, at most 36 are allowed", uid
        )
    if mtype == MessageType.CALL:
        if len(msg) != 4 or not isinstance(msg[2], str):
            raise FrameError(ErrorCode.FORMATION_VIOLATION, "CALL must be [2, UniqueId, Action, Payload]", uid)
        if not isinstance(msg[3], dict):
            raise FrameError(
                ErrorCode.FORMATION_VIOLATION, "CALL payload must be a JSON object", uid, action=msg[2]
            )
        return Call(uid, msg[2], msg[3])
    if mtype == MessageType.CALLRESULT:
        if len(msg) != 3 or not isinstance(msg[2], dict):
            raise FrameIgnored(f"malformed CALLRESULT for {uid}")
        return CallResult(uid, msg[2])
    if len(msg) not in (4, 5) or not isinstance(msg[2], str) or not isinstance(msg[3], str):
        raise FrameIgnored(f"malformed CALLERROR for {uid}")
    details = msg[4] if len(msg) == 5 and isinstance(msg[4], dict) else {}
    return CallError(uid, msg[2], msg[3], details)


def encode(frame: Frame) -> str:
    if isinstance(frame, Call):
        body = [2, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [3, frame.unique_id, frame.payload]
    else:
        body = [4, frame.unique_id, frame.error_code, frame.description, frame.details or {}]
    return orjson.dumps(body).decode()

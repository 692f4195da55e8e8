"""The OCPP-J RPC session, sans-I/O ([OCPPJ] §4.1, [JERRATA] 3.1/3.7).

Theory of operation
-------------------
The session turns text frames into events and requests into frames. It owns
no socket and reads no clock: the caller feeds it what arrived
(:meth:`receive`), asks it what to write (:meth:`data_to_send`), and wakes it
at :meth:`get_timer` with :meth:`handle_timer`.

* At most one CALL of ours is outstanding ([OCPPJ] §4.1.1). :attr:`busy` says
  so; the caller (the station's outbox) decides what goes next.
* The CALL's deadline is ``now + message_timeout`` (``MessageTimeout``,
  [ERRATA] 3.83); passing it yields :class:`CallTimedOut`.
* CALLs from the CSMS are answered whether or not ours is in flight.
* Frames that cannot be processed are answered with the OCPP-J 1.6 CALLERROR
  right here (the station never sees them); an answer to an unknown id is
  logged and dropped; an unknown message type is ignored ([OCPPJ] §4.1.3).
* While :attr:`Session.drop_calls` is set (the station sets it while its
  registration is Rejected: "send nothing and answer nothing", spec §2.2,
  [SPEC] §4.2), incoming CALLs and unparsable frames are logged and dropped
  unanswered, even those that would otherwise get a CALLERROR.
* Message ids are ``<prefix>-<counter>``: the prefix is drawn per boot by the
  caller, so ids stay unique across reconnects and reboots. A transaction
  message keeps its id across retries, which the spec allows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import actions, validation
from .codec import DEFAULT_MAX_FRAME_BYTES, FrameError, FrameIgnored, decode, encode
from .rpc import Call, CallError, CallResult, ErrorCode, OcppError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class OutgoingCall:
    unique_id: str  # the id we sent
    action: str  # e.g. "BootNotification"
    payload: dict[str, Any]  # the request as sent
    sent_at: float  # `now` when it went out
    deadline: float  # `now` after which it timed out
    context: Any = None  # caller's bookkeeping (e.g. the outbox record)


# -- events -------------------------------------------------------------------


@dataclass(slots=True)
class CallReceived:
    """A valid CALL from the CSMS; answer it with :meth:`Session.send_result` or :meth:`Session.send_error`."""

    call: Call


@dataclass(slots=True)
class CallAnswered:
    """Our CALL got a CALLRESULT whose payload passed the schema."""

    request: OutgoingCall
    payload: dict[str, Any]
    now: float


@dataclass(slots=True)
class CallFailed:
    """Our CALL got a CALLERROR, or a CALLRESULT that broke the schema."""

    request: OutgoingCall
    error: CallError
    now: float


@dataclass(slots=True)
class CallTimedOut:
    """No answer before the deadline ([ERRATA] 3.83 MessageTimeout)."""

    request: OutgoingCall
    now: float


@dataclass(slots=True)
class FrameDropped:
    """A frame that was answered with a CALLERROR by the session or dropped; for logs and counters."""

    reason: str
    answered_with: str | None  # the CALLERROR code sent, or None when dropped silently


Event = CallReceived | CallAnswered | CallFailed | CallTimedOut | FrameDropped


class Session:
    def __init__(
        self,
        id_prefix: str,
        message_timeout: float = 30.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        validate_outgoing: bool = True,
    ) -> None:
        self.id_prefix = id_prefix  # per-boot random prefix of our message ids
        self.message_timeout = message_timeout  # seconds to wait for a CALLRESULT/CALLERROR
        self.max_frame_bytes = max_frame_bytes  # larger frames are refused unparsed
        self.validate_outgoing = validate_outgoing  # check our own payloads against the schemas
        self._counter = 0  # last message id number handed out
        self._in_flight: OutgoingCall | None = None  # our outstanding CALL
        self._out: list[str] = []  # encoded frames waiting to be written
        self.drop_calls = False  # drop incoming CALLs and bad frames unanswered (registration Rejected)

    # -- ids ------------------------------------------------------------------

    def new_id(self) -> str:
        self._counter += 1
        return f"{self.id_prefix}-{self._counter}"

    # -- state ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    @property
    def in_flight(self) -> OutgoingCall | None:
        return self._in_flight

    def connection_lost(self) -> OutgoingCall | None:
        """The link dropped: our outstanding CALL will never be answered. Returns it."""
        lost, self._in_flight = self._in_flight, None
        self._out.clear()
        return lost

    # -- sending ----------------------------------------------------------------

    def send_call(
        self, action: str, payload: dict[str, Any], now: float, unique_id: str | None = None, context: Any = None
    ) -> OutgoingCall:
        if self._in_flight is not None:
            raise RuntimeError(f"a CALL is already in flight ({self._in_flight.action}); one at a time")
        if self.validate_outgoing:
            validation.validate_request(action, payload, sent=True)
        uid = unique_id or self.new_id()
        req = OutgoingCall(uid, action, payload, now, now + self.message_timeout, context)
        self._in_flight = req
        self._out.append(encode(Call(uid, action, payload)))
        return req

    def send_result(self, unique_id: str, action: str, payload: dict[str, Any]) -> None:
        if self.validate_outgoing:
            validation.validate_response(action, payload, sent=True)
        self._out.append(encode(CallResult(unique_id, payload)))

    def send_error(self, unique_id: str, code: str, description: str = "", details: dict | None = None) -> None:
        self._out.append(encode(CallError(unique_id, code, description, details or {})))

    def data_to_send(self) -> list[str]:
        out, self._out = self._out, []
        return out

    # -- timers -------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return self._in_flight.deadline if self._in_flight else None

    def handle_timer(self, now: float) -> list[Event]:
        req = self._in_flight
        if req is not None and now >= req.deadline:
            self._in_flight = None
            return [CallTimedOut(req, now)]
        return []

    # -- receiving ----------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Event]:
        try:
            frame = decode(data, self.max_frame_bytes)
        except FrameError as exc:
            if self.drop_calls:
                log.info("frame dropped unanswered (calls are being dropped): %s", exc.description)
                return [FrameDropped(exc.description, None)]
            self.send_error(exc.unique_id, exc.code, exc.description)
            return [FrameDropped(exc.description, exc.code)]
        except FrameIgnored as exc:
            log.warning("frame ignored: %s", exc)
            return [FrameDropped(str(exc), None)]
        if isinstance(frame, Call):
            return self._receive_call(frame)
        return self._receive_answer(frame, now)

    def _receive_call(self, call: Call) -> list[Event]:
        if self.drop_calls:
            # spec §2.2, [SPEC] §4.2: while Rejected the charge point answers nothing, not even a CALLERROR
            log.info("%s %s dropped unanswered (calls are being dropped)", call.action, call.unique_id)
            return [FrameDropped(f"{call.action} dropped unanswered", None)]
        if not actions.is_known(call.action):
            self.send_error(call.unique_id, ErrorCode.NOT_IMPLEMENTED, f"unknown action {call.action!r}")
            return [FrameDropped(f"unknown action {call.action!r}", ErrorCode.NOT_IMPLEMENTED)]
        if not actions.sent_by_csms(call.action):
            self.send_error(
                call.unique_id, ErrorCode.NOT_SUPPORTED, f"{call.action} is not handled by a charge point"
            )
            return [FrameDropped(f"{call.action} sent to a charge point", ErrorCode.NOT_SUPPORTED)]
        try:
            validation.validate_request(call.action, call.payload)
        except OcppError as exc:
            self.send_error(call.unique_id, exc.code, exc.description)
            return [FrameDropped(f"{call.action}: {exc.description}", exc.code)]
        return [CallReceived(call)]

    def _receive_answer(self, frame: CallResult | CallError, now: float) -> list[Event]:
        req = self._in_flight
        if req is None or frame.unique_id != req.unique_id:
            log.warning("answer to unknown message id %r dropped", frame.unique_id)
            return [FrameDropped(f"answer to unknown message id {frame.unique_id!r}", None)]
        self._in_flight = None
        if isinstance(frame, CallError):
            return [CallFailed(req, frame, now)]
        try:
            validation.validate_response(req.action, frame.payload)
        except OcppError as exc:
            log.warning("%s.conf broke the schema: %s", req.action, exc)
            return [CallFailed(req, CallError(req.unique_id, exc.code, exc.description), now)]
        return [CallAnswered(req, frame.payload, now)]

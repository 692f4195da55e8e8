"""The development central system (CSMS): an OCPP 1.6-J websocket server for tests and the demo.

Theory of operation
-------------------
Stations connect to ``ws://host:port/ocpp/<identity>`` offering the ``ocpp1.6``
subprotocol ([OCPPJ] §3, requirements digest §2.1). Each identity has one
:class:`StationLink` that outlives its connections: a new connection for the
same identity replaces the old one, and the link's history (``calls``,
``frames``) and scripted answers carry over.

Every CALL from a station is answered inline, in the websockets handler of its
connection (no extra task per connection), with a schema-valid default answer
unless a test scripted something else (``fail_next``, ``drop_next``,
``on_call``, ``set_boot``, ``set_id_tag``...).

Tests wait for what the station sends with :meth:`StationLink.expect` and
friends; waiting is event-driven (one lazily created future per link that is
resolved whenever something arrives), never sleep-polling. With ``keep_history=False`` (load tests) a
link keeps O(1) whatever it answered: no ``calls``/``frames``, and CALLs are queued for ``expect()`` only
from the first use of it on that link.

The answer policy (BootNotification status and interval, an idTagInfo per
idTag, by default the test cards of :mod:`.cards`) is read and changed by
:mod:`.policy`; ``ocpp-station csms`` also serves the operator API of
:mod:`.operator_api` (docs/dev-csms.md), which reads a station's recent frames
from a bounded :class:`~.messages.MessageLog`.

Times (``received_at``, the third item of a ``frames`` entry, the ``time``
argument of ``on_frame``) are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import ssl as ssl_module
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..ocpp import actions, validation
from ..ocpp.codec import FrameError, FrameIgnored, decode, encode
from ..ocpp.rpc import Call, CallError, CallResult, ErrorCode, OcppError
from .cards import default_id_tags
from .messages import MessageLog

log = logging.getLogger("ocpp_station.csms")

SUBPROTOCOL = "ocpp1.6"  # [OCPPJ] §3.1: the only subprotocol we speak
DEFAULT_MAX_SIZE = 4 * 1024 * 1024  # big enough for tests that send big frames
RAW_QUEUE_LENGTH = 256  # incoming raw frames kept for next_raw()
PENDING_LIMIT = 64  # CALLs queued for next_call() when history is off (once someone consumes them)
STARTS_KEPT = 8  # StartTransaction message ids kept per station without history (a retry gets the same id)
OPEN_KEPT = 32  # open transactions remembered per station (a StopTransaction lost on the way leaves one)

Direction = str  # "in" (station -> CSMS) or "out" (CSMS -> station)
FrameCallback = Callable[[str, Direction, "str | bytes", float], None]
CallHook = Callable[[Call], "dict[str, Any] | None | object | Awaitable[Any]"]


class _NoAnswer:
    def __repr__(self) -> str:
        return "NO_ANSWER"


NO_ANSWER: Any = _NoAnswer()
"""Return this from an ``on_call`` hook to leave the CALL unanswered."""


class CallErrorReceived(Exception):
    """The station answered our CALL with a CALLERROR."""

    def __init__(self, code: str, description: str = "", details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details or {}


@dataclass(slots=True)
class ReceivedCall(Call):
    """A CALL received from a station, with its ``time.monotonic()`` arrival time."""

    received_at: float = 0.0


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with milliseconds and 'Z', e.g. ``2025-01-01T12:00:00.000Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(slots=True)
class _Fail:
    code: str
    description: str
    count: int


class StationLink:
    """Everything the CSMS knows about one station identity; survives reconnections."""

    __slots__ = (
        "csms",
        "identity",
        "ws",
        "connections",
        "calls",
        "frames",
        "registration",
        "last_transaction_id",
        "starts",
        "boot_status",
        "boot_interval",
        "boot",
        "boot_at",
        "last_seen",
        "connected_at",
        "open_transactions",
        "auth_failures",
        "client_subject",
        "tls",
        "_pending",
        "_raw",
        "_changed",
        "_answers",
        "_fail",
        "_drop",
        "_hooks",
    )

    def __init__(self, csms: DevCsms, identity: str) -> None:
        self.csms = csms
        self.identity = identity  # percent-decoded charge point identity
        self.ws: ServerConnection | None = None  # current connection, None when offline
        self.connections = 0  # how many connections this identity opened so far
        self.calls: list[ReceivedCall] = []  # every CALL received (when keep_history)
        self.frames: list[tuple[Direction, str | bytes, float]] = []  # every frame (when keep_history)
        self.registration: str | None = None  # status of the last BootNotification answer
        self.last_transaction_id: int | None = None  # last transactionId handed out to this station
        # StartTransaction message id -> transactionId given (retries reuse ids); without history only the
        # last STARTS_KEPT of the transactions not yet stopped
        self.starts: dict[str, int] = {}
        self.boot_status: str | None = None  # per-station override of the BootNotification status
        self.boot_interval: int | None = None  # per-station override of the interval
        self.boot: dict[str, Any] | None = None  # payload of the last BootNotification received
        self.boot_at: float | None = None  # when it came (time.time())
        self.last_seen: float | None = None  # when the station last connected or sent a frame (time.time())
        self.connected_at: float | None = None  # when the current (or last) connection opened (time.time())
        # transactionId -> StartTransaction.req fields, for transactions started and not yet stopped
        self.open_transactions: dict[int, dict[str, Any]] = {}
        self.auth_failures = 0  # handshakes refused for a wrong or missing Basic-auth password (HTTP 401)
        self.client_subject: str | None = None  # subject of the TLS client certificate of the last connection
        self.tls: dict[str, Any] | None = None  # {"version", "cipher"} of the last connection over TLS
        # CALLs not yet consumed by expect()/next_call(). History off (a load test): none is kept until
        # next_call()/expect()/no_call()/clear() is first used on this link, then at most PENDING_LIMIT
        self._pending: deque[ReceivedCall] | None = deque() if csms.keep_history else None
        self._raw: deque[str | bytes] | None = deque(maxlen=RAW_QUEUE_LENGTH) if csms.keep_history else None
        self._changed: asyncio.Future[None] | None = None  # resolved when anything happens
        self._answers: dict[str, tuple[str, asyncio.Future[dict[str, Any]], ServerConnection]] | None = None
        self._fail: dict[str, _Fail] | None = None
        self._drop: dict[str, int] | None = None
        self._hooks: dict[str, CallHook] | None = None

    def __repr__(self) -> str:
        state = "connected" if self.ws is not None else "offline"
        return f"<StationLink {self.identity!r} {state} calls={len(self.calls)}>"

    # -- state -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.ws is not None

    @property
    def request(self) -> Request | None:
        """The HTTP upgrade request of the current connection (headers, e.g. Authorization)."""
        return self.ws.request if self.ws is not None else None

    def _notify(self) -> None:
        fut = self._changed
        if fut is not None:
            self._changed = None
            if not fut.done():
                fut.set_result(None)

    async def _wait_change(self, deadline: float) -> bool:
        """Wait until something happens on this link or ``deadline`` (loop time) passes; False on timeout."""
        loop = asyncio.get_running_loop()
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        if self._changed is None or self._changed.done():
            self._changed = loop.create_future()
        # asyncio.wait does not cancel the shared future on timeout (wait_for would)
        done, _ = await asyncio.wait((self._changed,), timeout=remaining)
        return bool(done) or loop.time() < deadline

    # -- calls to the station ---------------------------------------------------

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float = 10,
        validate_response: bool = True,
        unique_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a CALL to the station and return the CALLRESULT payload.

        Raises :class:`CallErrorReceived` on a CALLERROR, :class:`TimeoutError`
        without an answer, :class:`ConnectionError` if the link is or goes down,
        and :class:`AssertionError` when ``validate_response`` and the station's
        answer breaks the confirmation schema. The request itself is not
        validated, so tests can send invalid requests on purpose. ``unique_id``
        is the message id to send (default: the next ``csms-<n>``).
        """
        ws = self.ws
        if ws is None:
            raise ConnectionError(f"station {self.identity!r} is not connected")
        uid = unique_id if unique_id is not None else self.csms.new_message_id()
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if self._answers is None:
            self._answers = {}
        self._answers[uid] = (action, fut, ws)
        try:
            try:
                await self.csms._send(self, ws, encode(Call(uid, action, payload)))
            except ConnectionClosed as exc:
                raise ConnectionError(f"station {self.identity!r} disconnected") from exc
            async with asyncio.timeout(timeout):
                result = await fut
        except TimeoutError:
            raise TimeoutError(f"{self.identity}: no answer to {action} ({uid}) within {timeout}s") from None
        finally:
            if self._answers is not None:
                self._answers.pop(uid, None)
        if validate_response:
            try:
                validation.validate_response(action, result)
            except OcppError as exc:
                raise AssertionError(f"{self.identity}: {action}.conf breaks the schema: {exc}") from None
        return result

    async def send_raw(self, data: str | bytes) -> None:
        """Send an arbitrary frame (bytes = binary frame). Clears the :meth:`next_raw` queue first,
        so the next :meth:`next_raw` returns what the station sent after this frame."""
        ws = self.ws
        if ws is None:
            raise ConnectionError(f"station {self.identity!r} is not connected")
        self.mark_raw()
        try:
            await self.csms._send(self, ws, data)
        except ConnectionClosed as exc:
            raise ConnectionError(f"station {self.identity!r} disconnected") from exc

    def mark_raw(self) -> None:
        """Forget the frames received so far: :meth:`next_raw` returns only later ones."""
        if self._raw is None:
            self._raw = deque(maxlen=RAW_QUEUE_LENGTH)
        else:
            self._raw.clear()

    async def next_raw(self, timeout: float = 10) -> str | bytes:
        """Return the next frame of any kind received from the station (since the last mark)."""
        if self._raw is None:
            self._raw = deque(maxlen=RAW_QUEUE_LENGTH)
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._raw:
            if not await self._wait_change(deadline):
                raise TimeoutError(f"{self.identity}: no frame received within {timeout}s")
        return self._raw.popleft()

    # -- calls from the station ------------------------------------------------

    def _queue(self) -> deque[ReceivedCall]:
        """The queue of CALLs not yet consumed; with history off it exists from its first use on."""
        if self._pending is None:
            self._pending = deque(maxlen=PENDING_LIMIT)
        return self._pending

    async def next_call(self, timeout: float = 10) -> ReceivedCall:
        """Return (consume) the next CALL received from the station.

        With history off (``DevCsms(keep_history=False)``) a link queues CALLs only from the first
        call of next_call(), expect(), no_call() or clear() on it (so a load test keeps nothing per CALL)."""
        pending = self._queue()
        deadline = asyncio.get_running_loop().time() + timeout
        while not pending:
            if not await self._wait_change(deadline):
                raise TimeoutError(f"{self.identity}: no CALL received within {timeout}s")
        return pending.popleft()

    async def expect(self, action: str, timeout: float = 10, ignore: Collection[str] = ()) -> ReceivedCall:
        """Return the next CALL, asserting it is ``action``; CALLs of actions in ``ignore`` are skipped."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                call = await self.next_call(max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                raise TimeoutError(f"{self.identity}: expected {action}, nothing came within {timeout}s") from None
            if call.action in ignore and call.action != action:
                continue
            if call.action != action:
                raise AssertionError(
                    f"{self.identity}: expected {action}, got {call.action} {_short(call.payload)}"
                )
            return call

    async def expect_unordered(
        self, expected: Iterable[str], timeout: float = 10, ignore: Collection[str] = ()
    ) -> list[ReceivedCall]:
        """Return the next CALLs once all of ``expected`` arrived, in any order (a list counts
        duplicates, e.g. two StatusNotification). Another action (not in ``ignore``) fails."""
        remaining = Counter(expected)
        got: list[ReceivedCall] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while sum(remaining.values()) > 0:
            try:
                call = await self.next_call(max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                missing = sorted(remaining.elements())
                raise TimeoutError(
                    f"{self.identity}: still waiting for {missing} after {timeout}s "
                    f"(got {[c.action for c in got]})"
                ) from None
            if remaining[call.action] > 0:
                remaining[call.action] -= 1
                got.append(call)
            elif call.action not in ignore:
                raise AssertionError(
                    f"{self.identity}: expected {sorted(remaining.elements())} in any order, "
                    f"got {call.action} {_short(call.payload)}"
                )
        return got

    async def no_call(self, seconds: float, ignore: Collection[str] = ()) -> None:
        """Assert that no CALL is pending or arrives during ``seconds`` (``ignore``d actions are consumed)."""
        pending = self._queue()
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            while pending:
                call = pending[0]
                if call.action not in ignore:
                    raise AssertionError(
                        f"{self.identity}: expected no CALL for {seconds}s, got {call.action} {_short(call.payload)}"
                    )
                pending.popleft()
            if not await self._wait_change(deadline):
                return

    def clear(self) -> None:
        """Drop the CALLs not yet consumed by expect()/next_call() (history in ``calls`` is kept)."""
        self._queue().clear()

    async def wait_disconnected(self, timeout: float = 10) -> None:
        """Wait until the station's connection is closed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.ws is not None:
            if not await self._wait_change(deadline):
                raise TimeoutError(f"{self.identity}: still connected after {timeout}s")

    # -- scripted answers ------------------------------------------------------

    def fail_next(
        self, action: str, code: str = ErrorCode.INTERNAL_ERROR, count: int = 1, description: str = ""
    ) -> None:
        """Answer the next ``count`` CALLs of ``action`` with CALLERROR ``code``."""
        if self._fail is None:
            self._fail = {}
        self._fail[action] = _Fail(code, description or f"scripted failure of {action}", count)

    def drop_next(self, action: str, count: int = 1) -> None:
        """Leave the next ``count`` CALLs of ``action`` unanswered."""
        if self._drop is None:
            self._drop = {}
        self._drop[action] = count

    def on_call(self, action: str, fn: CallHook | None) -> None:
        """Answer ``action`` from this station with ``fn(call)`` (see :meth:`DevCsms.on_call`); None removes it."""
        if self._hooks is None:
            self._hooks = {}
        if fn is None:
            self._hooks.pop(action, None)
        else:
            self._hooks[action] = fn

    def _take_drop(self, action: str) -> bool:
        if not self._drop or self._drop.get(action, 0) <= 0:
            return False
        self._drop[action] -= 1
        return True

    def _take_fail(self, action: str) -> _Fail | None:
        if not self._fail:
            return None
        f = self._fail.get(action)
        if f is None or f.count <= 0:
            return None
        f.count -= 1
        return f


def _short(payload: Any, limit: int = 300) -> str:
    text = repr(payload)
    return text if len(text) <= limit else text[:limit] + "..."


class DevCsms:
    """A development central system for OCPP 1.6-J stations (tests, demo, load tests)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        boot_status: str = "Accepted",
        boot_interval: int = 10,
        log_frames: bool = True,
        *,
        on_frame: FrameCallback | None = None,
        path: str = "/ocpp",
        keep_history: bool = True,
        max_size: int = DEFAULT_MAX_SIZE,
        ping_interval: float | None = None,
        current_time: Callable[[], str] = utc_now_iso,
        id_tags: dict[str, dict[str, Any] | str] | None = None,
        message_log: MessageLog | None = None,
        ssl: Any = None,
        basic_auth: dict[str, bytes] | None = None,
        ca: Any = None,
    ) -> None:
        self.host = host
        self._port = port
        self.boot_status = boot_status  # default BootNotification status ([SPEC] §4.2)
        self.boot_interval = boot_interval  # default BootNotification interval (s)
        self.log_frames = log_frames  # log every frame on "ocpp_station.csms" (INFO)
        self.on_frame = on_frame  # on_frame(identity, "in"|"out", text, monotonic time)
        self.path = path.rstrip("/")  # stations connect to <path>/<identity>
        self.keep_history = keep_history  # keep calls/frames per link (turn off for load tests)
        self.max_size = max_size  # largest frame accepted, both by websockets and the decoder
        self.ping_interval = ping_interval  # server pings; None = no keepalive task per connection
        self.current_time = current_time  # currentTime of Boot/Heartbeat answers
        self.default_id_tag_info: dict[str, Any] = {"status": "Accepted"}  # for idTags not in id_tags
        self.data_transfer: dict[str, dict[str, Any]] = {}  # vendorId -> DataTransfer.conf
        self.message_log = message_log  # recent frames of every station, for the operator API
        self.files: Any = None  # the file server (csms/files.py) when serve_forever runs one
        self.ssl = ssl  # ssl.SSLContext: serve wss:// (security profiles 2 and 3; see .pki)
        # identity ("*" = any other) -> the Basic-auth password as bytes; None: no Basic auth checked
        self.basic_auth: dict[str, bytes] | None = basic_auth
        self.ca = ca  # a .pki.DevCa that signs the stations' CSRs (SignCertificate -> CertificateSigned)
        self.firmware_signer: Any = None  # a .pki.FirmwareSigner for SignedUpdateFirmware (made on first use)
        self._then: list[Callable[[], Awaitable[Any]]] = []  # to run once the current CALL's answer is out
        self._id_tags: dict[str, tuple[str, dict[str, Any]]] = {}  # lower-cased idTag -> (idTag, idTagInfo)
        for tag, info in (default_id_tags() if id_tags is None else id_tags).items():
            self.set_id_tag(tag, info)
        self._links: dict[str, StationLink] = {}
        self._hooks: dict[str, CallHook] = {}  # hooks for every station
        self._refused: dict[str, int] = {}  # identity -> HTTP status of the refused handshake
        self._tx_ids = itertools.count(1)  # see set_id_striping()
        self.calls_received = 0  # CALLs received from every station so far
        self.connections_opened = 0  # websocket connections accepted so far
        self.reuse_port = False  # SO_REUSEPORT: several processes accept on the same port (Linux)
        self.stats: Any = None  # the .stats.CsmsStats of serve_forever, for the operator API's status
        self._msg_ids = itertools.count(1)
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connected: asyncio.Future[None] | None = None  # resolved on any new connection
        self._handlers: dict[str, Callable[[StationLink, Call], dict[str, Any]]] = {
            "Authorize": self._on_authorize,
            "BootNotification": self._on_boot,
            "DataTransfer": self._on_data_transfer,
            "DiagnosticsStatusNotification": _empty,
            "FirmwareStatusNotification": _empty,
            "Heartbeat": self._on_heartbeat,
            "LogStatusNotification": _empty,
            "MeterValues": _empty,
            "SecurityEventNotification": _empty,
            "SignCertificate": self._on_sign_certificate,
            "SignedFirmwareStatusNotification": _empty,
            "StartTransaction": self._on_start,
            "StatusNotification": _empty,
            "StopTransaction": self._on_stop,
        }

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> DevCsms:
        self._server = await serve(
            self._handler,
            self.host,
            self._port,
            subprotocols=[SUBPROTOCOL],  # a client without ocpp1.6 gets HTTP 400 (websockets' negotiation)
            process_request=self._process_request,
            ssl=self.ssl,
            compression=None,  # per-message deflate costs ~100 KiB per connection; OCPP frames are small
            ping_interval=self.ping_interval,
            max_size=self.max_size,
            backlog=4096,  # thousands of stations may connect at once
            reuse_port=self.reuse_port or None,
        )
        log.debug("CSMS listening on %s", self.url)  # ocpp-station csms prints it on stdout
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for link in self._links.values():
            _fail_answers(link, None, ConnectionError("CSMS stopped"))

    async def __aenter__(self) -> DevCsms:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port=0)."""
        if self._server is not None:
            for sock in self._server.sockets:
                return sock.getsockname()[1]
        return self._port

    @property
    def url(self) -> str:
        """The endpoint URL; stations append ``/<identity>``."""
        scheme = "wss" if self.ssl is not None else "ws"
        return f"{scheme}://{_format_host(self.host)}:{self.port}{self.path}"

    # -- links ------------------------------------------------------------------

    def link(self, identity: str) -> StationLink:
        """The link of ``identity`` (created if unknown, so answers can be scripted before it connects)."""
        link = self._links.get(identity)
        if link is None:
            link = self._links[identity] = StationLink(self, identity)
        return link

    @property
    def links(self) -> dict[str, StationLink]:
        return self._links

    def connected_identities(self) -> list[str]:
        return [i for i, link in self._links.items() if link.ws is not None]

    async def wait_connected(self, identity: str, timeout: float = 10, after: int = 0) -> StationLink:
        """Wait until ``identity`` is connected (with more than ``after`` connections so far) and return its link.

        Pass ``after=link.connections`` to wait for a *new* connection (a reconnect)."""
        link = self.link(identity)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while link.ws is None or link.connections <= after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"station {identity!r} did not connect within {timeout}s")
            if self._connected is None or self._connected.done():
                self._connected = loop.create_future()
            await asyncio.wait((self._connected,), timeout=remaining)
        return link

    async def disconnect(self, identity: str, abort: bool = False, code: int = 1000, reason: str = "") -> None:
        """Close the station's socket from the server side (``abort``: drop TCP without a close handshake)."""
        link = self._links.get(identity)
        ws = link.ws if link else None
        if ws is None:
            return
        if abort:
            ws.transport.abort()
        else:
            await ws.close(code, reason)
        assert link is not None
        await link.wait_disconnected(timeout=(ws.close_timeout or 10) + 1)

    # -- scripting ----------------------------------------------------------------

    def set_boot(self, status: str, interval: int | None = None, identity: str | None = None) -> None:
        """BootNotification answers: for ``identity`` or, with None, the default of every station."""
        if identity is None:
            self.boot_status = status
            if interval is not None:
                self.boot_interval = interval
        else:
            link = self.link(identity)
            link.boot_status = status
            if interval is not None:
                link.boot_interval = interval

    def set_id_tag(self, id_tag: str, info: dict[str, Any] | str | None) -> None:
        """idTagInfo answered for ``id_tag`` (compared case-insensitively, IdToken is a CiString20);
        a str is a status (``"Blocked"``); None restores the default."""
        key = id_tag.lower()
        if info is None:
            self._id_tags.pop(key, None)
        else:
            self._id_tags[key] = (id_tag, {"status": info} if isinstance(info, str) else dict(info))

    def id_tag_info(self, id_tag: str) -> dict[str, Any]:
        entry = self._id_tags.get(id_tag.lower())
        return entry[1] if entry is not None else self.default_id_tag_info

    @property
    def id_tags(self) -> dict[str, dict[str, Any]]:
        """The idTags with their own answer (idTag as set -> idTagInfo); every other gets
        ``default_id_tag_info``. By default the test cards of :mod:`ocpp_station.csms.cards`."""
        return {tag: dict(info) for tag, info in self._id_tags.values()}

    def clear_id_tags(self) -> None:
        """Forget every idTag's own answer: all get ``default_id_tag_info``."""
        self._id_tags.clear()

    def set_data_transfer(self, vendor_id: str, response: dict[str, Any] | None) -> None:
        """DataTransfer.conf for ``vendor_id`` (others get UnknownVendorId); None removes it."""
        if response is None:
            self.data_transfer.pop(vendor_id, None)
        else:
            self.data_transfer[vendor_id] = response

    def fail_next(
        self, identity: str, action: str, code: str = ErrorCode.INTERNAL_ERROR, count: int = 1, description: str = ""
    ) -> None:
        """Answer the next ``count`` CALLs of ``action`` from ``identity`` with CALLERROR ``code``."""
        self.link(identity).fail_next(action, code, count, description)

    def drop_next(self, identity: str, action: str, count: int = 1) -> None:
        """Leave the next ``count`` CALLs of ``action`` from ``identity`` unanswered."""
        self.link(identity).drop_next(action, count)

    def on_call(self, identity: str | None, action: str, fn: CallHook | None) -> None:
        """Answer ``action`` with ``fn(call)`` (identity None = every station; fn None removes the hook).

        ``fn`` returns the payload (or an awaitable of it), None for the default answer,
        :data:`NO_ANSWER` to stay silent; raising :class:`OcppError` answers CALLERROR(code),
        any other exception CALLERROR(InternalError)."""
        if identity is not None:
            self.link(identity).on_call(action, fn)
        elif fn is None:
            self._hooks.pop(action, None)
        else:
            self._hooks[action] = fn

    def set_refused(self, identity: str, status: int | None = 404) -> None:
        """Refuse the handshakes of ``identity`` with HTTP ``status``; None accepts them again.

        404 is what a CSMS answers for an unknown charge point ([JERRATA] 3.4)."""
        if status is None:
            self._refused.pop(identity, None)
        else:
            self._refused[identity] = status

    # -- websockets plumbing ----------------------------------------------------

    def _identity_of(self, path: str) -> str | None:
        target = path.split("?", 1)[0]
        prefix = self.path + "/"
        if not target.startswith(prefix):
            return None
        raw = target[len(prefix) :]
        if not raw or "/" in raw:
            return None
        # [OCPPJ] §3.1.1: the identity is percent-encoded in the URL
        return unquote(raw)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = self._identity_of(request.path)
        if identity is None:
            log.info("handshake refused: unknown path %r", request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, f"unknown path; use {self.path}/<identity>\n")
        status = self._refused.get(identity)
        if status is not None:
            log.info("handshake of %r refused with HTTP %d", identity, status)
            return connection.respond(status, f"station {identity!r} refused\n")
        if self.basic_auth is not None and not self._basic_auth_ok(identity, request.headers.get("Authorization")):
            # [SEC] A00.FR.202-204: profiles 1 and 2 authenticate with Basic auth, user = the identity
            self.link(identity).auth_failures += 1
            self.link(identity)._notify()
            log.info("handshake of %r refused: wrong or missing Basic-auth password (HTTP 401)", identity)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "wrong or missing Basic-auth password\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        return None

    def _basic_auth_ok(self, identity: str, header: str | None) -> bool:
        assert self.basic_auth is not None
        expected = self.basic_auth.get(identity, self.basic_auth.get("*"))
        if expected is None:
            return True  # no password for this identity: a profile 0 or 3 station
        if not header or not header.startswith("Basic "):
            return False
        import base64
        import binascii

        try:
            raw = base64.b64decode(header[6:], validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = raw.partition(b":")
        # the password as the key's bytes (OCTT TC_085) or as its hex text (authorization_key_encoding = "hex")
        return sep == b":" and user == identity.encode() and password in (expected, expected.hex().encode(),
                                                                          expected.hex().upper().encode())

    async def _handler(self, ws: ServerConnection) -> None:
        identity = self._identity_of(ws.request.path if ws.request else "")
        if identity is None:  # cannot happen: _process_request refused it
            return
        link = self.link(identity)
        ssl_object = ws.transport.get_extra_info("ssl_object") if self.ssl is not None else None
        if ssl_object is not None:
            link.tls = {"version": ssl_object.version(), "cipher": ssl_object.cipher()[0]}
            peer = ssl_object.getpeercert()
            link.client_subject = (
                ",".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn) if peer else None
            )
        old = link.ws
        link.ws = ws
        link.connections += 1
        self.connections_opened += 1
        link.connected_at = link.last_seen = time.time()
        if old is not None:
            # a new connection for an identity replaces the old one
            log.info("%s: new connection replaces the previous one", identity)
            self._spawn(old.close(1000, "replaced by a new connection"))
        log.info("%s: connected (#%d) from %s", identity, link.connections, ws.remote_address)
        link._notify()
        fut = self._connected
        if fut is not None:
            self._connected = None
            if not fut.done():
                fut.set_result(None)
        try:
            async for message in ws:
                await self._on_message(link, ws, message)
        except ConnectionClosed:
            pass
        finally:
            if link.ws is ws:
                link.ws = None
            _fail_answers(link, ws, ConnectionError(f"station {identity!r} disconnected"))
            log.info("%s: disconnected (code %s)", identity, ws.close_code)
            link._notify()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, link: StationLink, direction: Direction, data: str | bytes, now: float) -> None:
        if self.keep_history:
            link.frames.append((direction, data, now))
        if self.message_log is not None:
            self.message_log.add(link.identity, direction, data)
        if self.log_frames and log.isEnabledFor(logging.INFO):
            log.info("%s %s %s", link.identity, "<-" if direction == "in" else "->", _printable(data))
        if self.on_frame is not None:
            try:
                self.on_frame(link.identity, direction, data, now)
            except Exception:
                log.exception("on_frame callback failed")

    async def _send(self, link: StationLink, ws: ServerConnection, data: str | bytes) -> None:
        self._record(link, "out", data, time.monotonic())
        await ws.send(data)

    async def _send_quietly(self, link: StationLink, ws: ServerConnection, data: str) -> None:
        try:
            await self._send(link, ws, data)
        except ConnectionClosed:
            log.info("%s: connection closed before the answer went out", link.identity)

    async def _on_message(self, link: StationLink, ws: ServerConnection, message: str | bytes) -> None:
        now = time.monotonic()
        link.last_seen = time.time()
        self._record(link, "in", message, now)
        if link._raw is not None:
            link._raw.append(message)
        try:
            frame = decode(message, self.max_size)
        except FrameError as exc:
            # [OCPPJ] §4.2.3 / requirements digest §2.1: answer what cannot be processed with a CALLERROR
            await self._send_quietly(link, ws, encode(CallError(exc.unique_id, exc.code, exc.description)))
            link._notify()
            return
        except FrameIgnored as exc:
            log.warning("%s: frame ignored: %s", link.identity, exc)  # unknown message type, [OCPPJ] §4.1.3
            link._notify()
            return
        if isinstance(frame, Call):
            call = ReceivedCall(frame.unique_id, frame.action, frame.payload, now)
            self.calls_received += 1
            if self.keep_history:
                link.calls.append(call)
            if link._pending is not None:
                link._pending.append(call)
            link._notify()
            if call.action == "BootNotification" and isinstance(call.payload, dict):
                link.boot, link.boot_at = call.payload, link.last_seen
            answer = self._answer(link, ws, call)
            if answer is not None:
                await self._send_quietly(link, ws, answer)
            then, self._then = self._then, []
            for fn in then:
                self._spawn(fn())
            return
        entry = link._answers.get(frame.unique_id) if link._answers else None
        if entry is None:
            log.warning("%s: answer to unknown message id %r dropped", link.identity, frame.unique_id)
        else:
            fut = entry[1]
            if not fut.done():
                if isinstance(frame, CallResult):
                    fut.set_result(frame.payload)
                else:
                    fut.set_exception(CallErrorReceived(frame.error_code, frame.description, frame.details))
        link._notify()

    # -- answering CALLs --------------------------------------------------------

    def _answer(self, link: StationLink, ws: ServerConnection, call: Call) -> str | None:
        """The encoded answer to ``call``, or None when none is to be sent (now)."""
        uid, action = call.unique_id, call.action
        if not actions.is_known(action):
            return encode(CallError(uid, ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}"))
        if not actions.sent_by_cp(action):
            return encode(CallError(uid, ErrorCode.NOT_SUPPORTED, f"{action} is not sent by a charge point"))
        try:
            validation.validate_request(action, call.payload)
        except OcppError as exc:
            return encode(CallError(uid, exc.code, exc.description, exc.details))
        if action != "BootNotification" and link.registration == "Rejected":
            # [JERRATA] 3.10: before acceptance a CSMS should answer non-Boot CALLs with SecurityError
            reason = "station is not accepted (BootNotification Rejected)"
            return encode(CallError(uid, ErrorCode.SECURITY_ERROR, reason))
        if link._take_drop(action):
            log.info("%s: %s %s left unanswered (drop_next)", link.identity, action, uid)
            return None
        fail = link._take_fail(action)
        if fail is not None:
            return encode(CallError(uid, fail.code, fail.description))
        hook = (link._hooks.get(action) if link._hooks else None) or self._hooks.get(action)
        if hook is not None:
            try:
                result = hook(call)
            except OcppError as exc:
                return encode(CallError(uid, exc.code, exc.description, exc.details))
            except Exception as exc:
                log.exception("%s: on_call hook for %s failed", link.identity, action)
                return encode(CallError(uid, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
            if inspect.isawaitable(result):
                self._spawn(self._answer_later(link, ws, call, result))
                return None
            if result is NO_ANSWER:
                return None
            if result is not None:
                return encode(CallResult(uid, result))
        handler = self._handlers.get(action)
        if handler is None:
            return encode(CallError(uid, ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this CSMS"))
        return encode(CallResult(uid, handler(link, call)))

    async def _answer_later(self, link: StationLink, ws: ServerConnection, call: Call, pending: Awaitable[Any]) -> None:
        try:
            result = await pending
        except OcppError as exc:
            answer: str | None = encode(CallError(call.unique_id, exc.code, exc.description, exc.details))
        except Exception as exc:
            log.exception("%s: on_call hook for %s failed", link.identity, call.action)
            answer = encode(CallError(call.unique_id, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
        else:
            if result is NO_ANSWER:
                answer = None
            elif result is None:
                handler = self._handlers.get(call.action)
                answer = (
                    encode(CallResult(call.unique_id, handler(link, call)))
                    if handler is not None
                    else encode(CallError(call.unique_id, ErrorCode.NOT_SUPPORTED, f"{call.action} is not supported"))
                )
            else:
                answer = encode(CallResult(call.unique_id, result))
        if answer is not None:
            await self._send_quietly(link, ws, answer)

    def stripe_transaction_ids(self, index: int, count: int) -> None:
        """Hand out the transactionIds ``index + 1``, ``index + 1 + count``, ...: worker ``index`` of
        ``count`` CSMS processes serving one port (``ocpp-station csms --workers``), ids unique across them."""
        self._tx_ids = itertools.count(index + 1, count)

    def new_message_id(self) -> str:
        return f"csms-{next(self._msg_ids)}"  # [OCPPJ] §4.1.1: unique, <= 36 characters

    # default answers, all valid against the 1.6 confirmation schemas

    def _on_boot(self, link: StationLink, call: Call) -> dict[str, Any]:
        status = link.boot_status or self.boot_status
        interval = link.boot_interval if link.boot_interval is not None else self.boot_interval
        link.registration = status
        return {"status": status, "currentTime": self.current_time(), "interval": interval}

    def _on_heartbeat(self, link: StationLink, call: Call) -> dict[str, Any]:
        return {"currentTime": self.current_time()}

    def _on_authorize(self, link: StationLink, call: Call) -> dict[str, Any]:
        return {"idTagInfo": self.id_tag_info(call.payload["idTag"])}

    def _on_start(self, link: StationLink, call: Call) -> dict[str, Any]:
        # a retried StartTransaction keeps its message id ([JERRATA] 3.1): answer it with the same transactionId
        tx_id = link.starts.get(call.unique_id)
        if tx_id is None:
            tx_id = link.starts[call.unique_id] = next(self._tx_ids)
            if not self.keep_history and len(link.starts) > STARTS_KEPT:
                del link.starts[next(iter(link.starts))]  # only a recent StartTransaction is retried
        link.last_transaction_id = tx_id
        p = call.payload
        link.open_transactions[tx_id] = {
            "transactionId": tx_id,
            **{k: p[k] for k in ("connectorId", "idTag", "meterStart", "timestamp", "reservationId") if k in p},
        }
        if not self.keep_history and len(link.open_transactions) > OPEN_KEPT:  # stops lost: forget the oldest
            del link.open_transactions[next(iter(link.open_transactions))]
        return {"transactionId": tx_id, "idTagInfo": self.id_tag_info(call.payload["idTag"])}

    def _on_stop(self, link: StationLink, call: Call) -> dict[str, Any]:
        tx_id = call.payload["transactionId"]
        link.open_transactions.pop(tx_id, None)
        if not self.keep_history:  # (with history, tests read every start's id in ``starts``)
            for uid in [u for u, t in link.starts.items() if t == tx_id]:  # stopped: no retry of its start comes
                del link.starts[uid]
        id_tag = call.payload.get("idTag")
        return {"idTagInfo": self.id_tag_info(id_tag)} if id_tag is not None else {}

    def _on_sign_certificate(self, link: StationLink, call: Call) -> dict[str, Any]:
        """[SEC] A02: Accepted; with a CA, its CertificateSigned follows once the answer is out."""
        if self.ca is None:
            return {"status": "Accepted"}
        try:
            chain = self.ca.sign_csr(call.payload["csr"])
        except ValueError as exc:
            log.warning("%s: SignCertificate: %s", link.identity, exc)
            return {"status": "Rejected"}

        async def send() -> None:
            try:
                answer = await link.call("CertificateSigned", {"certificateChain": chain})
                log.info("%s: CertificateSigned answered %s", link.identity, answer.get("status"))
            except (ConnectionError, TimeoutError, CallErrorReceived, AssertionError) as exc:
                log.warning("%s: CertificateSigned: %s", link.identity, exc)

        self._then.append(send)
        return {"status": "Accepted"}

    def _on_data_transfer(self, link: StationLink, call: Call) -> dict[str, Any]:
        # requirements digest §2.3 DataTransfer: an unknown vendorId is answered UnknownVendorId
        return self.data_transfer.get(call.payload["vendorId"], {"status": "UnknownVendorId"})


def _empty(link: StationLink, call: Call) -> dict[str, Any]:
    return {}


def _fail_answers(link: StationLink, ws: ServerConnection | None, exc: Exception) -> None:
    """Fail the link.call() futures sent on ``ws`` (every one when None)."""
    if not link._answers:
        return
    for uid, (_, fut, sent_on) in list(link._answers.items()):
        if ws is None or sent_on is ws:
            link._answers.pop(uid, None)
            if not fut.done():
                fut.set_exception(exc)


def _printable(data: str | bytes) -> str:
    if isinstance(data, str):
        return data if len(data) <= 2000 else data[:2000] + f"... ({len(data)} chars)"
    return f"<binary {len(data)} bytes>"


class OperatorListenError(Exception):
    """The operator API's address cannot be bound (``ocpp-station csms --operator-listen``)."""


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 9000,
    boot_status: str = "Accepted",
    boot_interval: int = 10,
    print_frames: bool = True,
    out: Callable[[str], None] | None = None,
    *,
    operator_listen: tuple[str, int] | None = None,
    policy: dict[str, Any] | None = None,
    message_log: int = 10_000,
    files_dir: Path | None = None,
    files_listen: tuple[str, int] | None = None,
    ftp_listen: tuple[str, int] | None = None,
    ftp_user: tuple[str, str] = ("ocpp", "ocpp"),
    https_cert: Path | None = None,
    https_key: Path | None = None,
    ssl: Any = None,
    basic_auth: dict[str, bytes] | None = None,
    ca: Any = None,
    files_rate: int | None = None,
    stats_file: Path | None = None,
    worker: tuple[int, int] | None = None,
) -> None:
    """Run a :class:`DevCsms` until cancelled (``ocpp-station csms --port 9000``).

    With ``print_frames`` every frame is printed as one line
    ``HH:MM:SS.mmm <identity> <-|-> <frame>`` through ``out`` (default: print, flushed).
    The first line printed is ``CSMS listening on ws://.../<identity>``; with ``operator_listen``
    the operator API (docs/dev-csms.md) serves there and the second line is ``Operator API on
    http://HOST:PORT/api`` (the port actually bound). ``policy`` is what
    :func:`~ocpp_station.csms.policy.parse_policy` returned, applied before any station connects;
    ``message_log`` frames are kept for the operator API's ``messages`` (0: none).
    With ``files_dir`` the file server for Firmware Management (csms/files.py) serves that directory over
    HTTP on ``files_listen`` (HTTPS with ``https_cert``/``https_key``) and, with ``ftp_listen``, over FTP;
    its addresses are printed next. ``ssl`` (an SSLContext)
    serves wss://, ``basic_auth`` (identity or ``*`` -> password bytes) checks HTTP Basic auth, ``ca``
    (a :class:`~.pki.DevCa`) signs the stations' CSRs.
    The CSMS's CPU, memory and garbage-collector figures (:mod:`.stats`) are in the operator API's
    ``/api/status`` and, with ``stats_file``, written there every second. ``worker`` = (index, count):
    one of ``count`` processes accepting on the same port (SO_REUSEPORT), handing out the transactionIds
    ``index + 1 + k * count``.
    Raises :class:`OperatorListenError` when the operator address cannot be bound.
    """
    from .messages import MessageLog
    from .operator_api import start_operator_api
    from .policy import apply_policy

    write = out or (lambda line: print(line, flush=True))

    def on_frame(identity: str, direction: Direction, data: str | bytes, _t: float) -> None:
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        write(f"{stamp} {identity} {'<-' if direction == 'in' else '->'} {_printable(data)}")

    csms = DevCsms(
        host,
        port,
        boot_status=boot_status,
        boot_interval=boot_interval,
        log_frames=False,
        on_frame=on_frame if print_frames else None,
        keep_history=False,
        message_log=MessageLog(message_log) if message_log > 0 and operator_listen is not None else None,
        ssl=ssl,
        basic_auth=basic_auth,
        ca=ca,
    )
    if policy:
        apply_policy(csms, policy)
    if worker is not None:
        csms.reuse_port = True
        csms.stripe_transaction_ids(*worker)
    from .stats import CsmsStats

    csms.stats = CsmsStats(csms, worker[0] if worker is not None else None)
    async with csms:  # the websocket endpoint first: its address is reported before the operator's
        runner = None
        if operator_listen is not None:
            try:
                runner, bound = await start_operator_api(csms, operator_listen)
            except OSError as exc:
                raise OperatorListenError(_listen_error(operator_listen, exc)) from None
        files = None
        housekeeping = asyncio.ensure_future(csms.stats.housekeeping(stats_file))
        try:
            write(f"CSMS listening on {csms.url}/<identity>")
            if runner is not None:
                write(f"Operator API on http://{_format_host(operator_listen[0])}:{bound}/api")  # type: ignore[index]
            if files_dir is not None:
                from .files import FileServer

                ctx = None
                if https_cert is not None:
                    ctx = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
                    ctx.load_cert_chain(str(https_cert), str(https_key) if https_key else None)
                files = FileServer(files_dir, ctx, rate=files_rate)
                csms.files = files
                listen = files_listen or (host, 0)
                try:
                    await files.start_http(*listen)
                except OSError as exc:
                    raise FilesListenError("--files-listen", _listen_error(listen, exc)) from None
                write(f"Files on {files.http_url}/firmware/<name> (uploads: {files.http_url}/diagnostics/)")
                if ftp_listen is not None:
                    try:
                        port = files.start_ftp(ftp_listen[0], ftp_listen[1], *ftp_user,
                                               certfile=str(https_cert) if https_cert else None,
                                               keyfile=str(https_key) if https_key else None)
                    except OSError as exc:
                        raise FilesListenError("--ftp", _listen_error(ftp_listen, exc)) from None
                    write(f"FTP on ftp://{ftp_user[0]}:{ftp_user[1]}@{_format_host(ftp_listen[0])}:{port}/ "
                          f"(uploads: /diagnostics/)")
            await asyncio.Future()  # until cancelled
        finally:
            housekeeping.cancel()
            await asyncio.gather(housekeeping, return_exceptions=True)
            if files is not None:
                await files.stop()
            if runner is not None:
                await runner.cleanup()


class FilesListenError(Exception):
    """The file server's HTTP or FTP address could not be bound; ``option`` names the option."""

    def __init__(self, option: str, text: str) -> None:
        super().__init__(text)
        self.option = option


def _listen_error(listen: tuple[str, int], exc: OSError) -> str:
    import errno

    where = f"{_format_host(listen[0])}:{listen[1]}"
    if exc.errno == errno.EADDRINUSE:
        return f"address {where} is in use"
    return f"cannot listen on {where}: {exc.strerror or exc}"


__all__ = [
    "NO_ANSWER",
    "CallErrorReceived",
    "DevCsms",
    "FilesListenError",
    "OperatorListenError",
    "ReceivedCall",
    "StationLink",
    "serve_forever",
    "utc_now_iso",
]

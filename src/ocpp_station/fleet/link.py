"""A websocket client link for fleet stations: websockets' sans-I/O ``ClientProtocol`` on a bare
``asyncio.Protocol``.

Theory of operation
-------------------
The asyncio client of ``websockets`` gives every connection a reader (an assembler, futures, a task
woken per message) and a drain per send: cheap for one station, the largest cost of the process for
thousands. A :class:`Link` keeps the same RFC 6455 machinery (handshake, framing, masking, ping/pong,
closing handshake: all of it from ``websockets.client.ClientProtocol``) and drops the rest:

* a message is handed to ``on_message`` synchronously, as its bytes are read;
* :meth:`send` writes the frame to the transport at once (asyncio buffers what the socket does not
  take); nothing waits, so nothing needs a task;
* every link of the process reads into one shared buffer (``asyncio.BufferedProtocol``): its bytes
  are handed on before the next read, and no buffer is allocated per read (asyncio's default
  256 KiB read buffer is an mmap/mremap/munmap per message);
* text frames are built here, masked with keys drawn from a pool of ``os.urandom`` bytes (RFC 6455
  §5.3: unpredictable keys from a strong source of entropy), one system call per 1,024 frames
  instead of one per frame;
* once the connection is open, the link cuts the byte stream into frames itself: a final, unmasked
  TEXT frame (the CSMS's every answer and CALL) is UTF-8 decoded and handed on here, without
  websockets' per-frame parser (a generator, a ``Frame`` and an event list: ~20 µs a frame). Every
  other frame -- control frames (ping, pong, close), fragments, BINARY, a masked frame, invalid UTF-8
  -- goes whole to the ``ClientProtocol``, which so always stands at a frame boundary and enforces
  RFC 6455 as before (the opening handshake too gets only the response's bytes); a frame with reserved
  bits or larger than ``max_size`` goes to it with everything after it, and it fails the connection;
* two futures tell the connection loop what it awaits: :attr:`opened` (the handshake's outcome) and
  :attr:`closed` (the TCP connection is gone).

WebSocketPingInterval: a ping every ``ping_interval`` s; a pong still missing at the next ping fails
the link (the CSMS or the network is gone).
"""

from __future__ import annotations

import asyncio
import os
import ssl as ssl_module
import struct
from typing import Callable

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

CLOSE_TIMEOUT = 2.0  # s: a closing handshake the CSMS does not finish is cut

_READ_BUFFER = memoryview(bytearray(256 * 1024))  # shared: each read is handed on before the next one


class _MaskKeys:
    """4-byte masking keys (RFC 6455 §5.3) cut from a pool of os.urandom bytes."""

    POOL = 4096

    def __init__(self) -> None:
        self._pool = b""  # random bytes not handed out yet start at _pos
        self._pos = 0

    def __call__(self) -> bytes:
        if self._pos >= len(self._pool):
            self._pool, self._pos = os.urandom(self.POOL), 0
        key = self._pool[self._pos:self._pos + 4]
        self._pos += 4
        return key


_mask_key = _MaskKeys()


def text_frame(payload: bytes) -> bytes:
    """One masked, final TEXT frame as a client sends it (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, 0x80 | n))
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x81, 0xFE, n)
    else:
        header = struct.pack("!BBQ", 0x81, 0xFF, n)
    key = _mask_key()
    return header + key + apply_mask(payload, key)


def _retrieved(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


class Link(asyncio.BufferedProtocol):
    """One websocket connection to the CSMS (subprotocol ``ocpp1.6``)."""

    # thousands per process: attributes in slots, not a dict each
    __slots__ = ("proto", "_headers", "loop", "transport", "opened", "closed", "on_message", "_pending",
                 "_fragments", "_fragmented_text", "_ping_interval", "_ping_timer", "_ping_unanswered",
                 "_close_timer", "_max_size", "_split", "_rest")

    def __init__(self, uri: str, max_size: int, ping_interval: float | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.proto = ClientProtocol(parse_uri(uri), subprotocols=["ocpp1.6"], max_size=max_size)  # RFC 6455 state
        self._headers = headers or {}  # added to the opening handshake (e.g. Authorization: Basic ...)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None  # the TCP (or TLS) transport, once made
        self.opened: asyncio.Future[None] = self.loop.create_future()  # the handshake's outcome
        # its failure is raised by open(); one that comes after open() gave up (a timeout) is not news
        self.opened.add_done_callback(_retrieved)
        self.closed: asyncio.Future[None] = self.loop.create_future()  # the connection is gone
        self.on_message: Callable[[str | bytes], None] | None = None  # None: messages wait in _pending
        self._pending: list[str | bytes] = []  # messages read before on_message was set
        self._fragments: list[bytes] = []  # a fragmented message being assembled
        self._fragmented_text = False  # its first frame was TEXT
        self._ping_interval = ping_interval  # s, or None: no pings
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_unanswered = False  # the last ping has had no pong yet
        self._close_timer: asyncio.TimerHandle | None = None
        self._max_size = max_size
        self._split = False  # open: frames are cut here, the ClientProtocol gets whole ones
        self._rest = b""  # the start of a frame not read whole yet (or the handshake's last 3 bytes)

    # -- opening ---------------------------------------------------------------------

    @classmethod
    async def open(cls, uri: str, max_size: int, ping_interval: float | None = None,
                   timeout: float = 30.0, headers: dict[str, str] | None = None,
                   ssl: ssl_module.SSLContext | None = None) -> Link:
        """Connect and complete the opening handshake, or raise (OSError, InvalidHandshake,
        TimeoutError). ``ssl``: the TLS context of a wss:// URI (default: the system's trust store)."""
        link = cls(uri, max_size, ping_interval, headers)
        wsuri = link.proto.uri
        ctx = (ssl or ssl_module.create_default_context()) if wsuri.secure else None
        try:
            async with asyncio.timeout(timeout):
                await link.loop.create_connection(lambda: link, wsuri.host, wsuri.port, ssl=ctx)
                await link.opened
        except BaseException:
            link.abort()
            raise
        return link

    @property
    def subprotocol(self) -> str | None:
        return self.proto.subprotocol

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request = self.proto.connect()
        for name, value in self._headers.items():
            request.headers[name] = value
        self.proto.send_request(request)
        self._write()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_READ_BUFFER[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self._split:
            self._frames(self._rest + data if self._rest else data)
        elif not self.opened.done():
            self._handshake(data)
        else:
            self._slow(data)

    def _handshake(self, data: bytes) -> None:
        """The opening handshake: the ClientProtocol gets the bytes up to the end of the response's head
        (RFC 7230 §3: CRLF CRLF; a 101 has no body), so that it stands at a frame boundary once it is
        open; the frames that came with the response are cut here."""
        tail = self._rest  # the end of what was read before: the CRLF CRLF may span two reads
        i = (tail + data).find(b"\r\n\r\n")
        if i < 0:
            self._rest = (tail + data)[-3:]
            self._slow(data)
            return
        cut = i + 4 - len(tail)  # > 0: tail alone held no CRLF CRLF
        self._rest = b""
        self._slow(data[:cut])
        if len(data) > cut:
            self.data_received(data[cut:])

    def _frames(self, buf: bytes) -> None:
        """Open: cut ``buf`` into frames (RFC 6455 §5.2). A final, unmasked TEXT frame outside a fragmented
        message is decoded and handed on here; every other frame goes whole to the ClientProtocol, which so
        always stands at a frame boundary; the start of a frame not read whole waits in ``_rest``. A frame
        the ClientProtocol must refuse (reserved bits, larger than ``max_size``) goes to it with all that
        follows: it fails the connection."""
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, h = b1 & 0x7F, 2
            if n == 126:
                if end - pos < 4:
                    break
                n, h = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif n == 127:
                if end - pos < 10:
                    break
                n, h = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if b1 & 0x80:
                h += 4  # masked: a protocol error from a server (§5.1), the ClientProtocol says so
            if b0 & 0x70 or n > self._max_size:
                self._split = False
                self._rest = b""
                self._slow(buf[pos:])
                return
            stop = pos + h + n
            if stop > end:
                break
            t = self.transport
            if t is None or t.is_closing():
                self._rest = b""
                return  # aborted (a drop, a power cut): what is still buffered is lost with the link
            text = None
            p = self.proto
            if b0 == 0x81 and not b1 & 0x80 and p.state is State.OPEN and not p.expect_continuation_frame:
                try:
                    text = buf[pos + h:stop].decode()
                except UnicodeDecodeError:  # the ClientProtocol fails the connection (1007)
                    pass
            if text is None:
                self._slow(buf[pos:stop])
            elif self.on_message is None:
                self._pending.append(text)
            else:
                self.on_message(text)
            pos = stop
        self._rest = buf[pos:] if pos < end else b""

    def _slow(self, data: bytes) -> None:
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            if self.transport is None or self.transport.is_closing():
                break  # aborted (a drop, a power cut): what is still buffered is lost with the link
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Response) and not self.opened.done():
                if self.proto.handshake_exc is not None:
                    self.opened.set_exception(self.proto.handshake_exc)
                else:
                    self.opened.set_result(None)
                    self._split = self.proto.state is State.OPEN
                    self._arm_ping()
                    # the parser's suspended handshake step keeps the response for the connection's life:
                    # its headers are read (subprotocol, extensions) and not needed any more (~2 KiB)
                    event.headers.clear()
                    self._headers = {}
        if self.proto.handshake_exc is not None and not self.opened.done():
            self.opened.set_exception(self.proto.handshake_exc)  # a response that could not be parsed
        self._write()
        if self.proto.close_expected() and self._close_timer is None and self.transport is not None:
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.abort)

    def eof_received(self) -> bool | None:
        self.proto.receive_eof()
        self._write()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.proto.receive_eof()  # idempotent: the protocol's state becomes CLOSED
        for timer in (self._ping_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        if not self.opened.done():  # the handshake's own error first (e.g. not an HTTP response at all)
            self.opened.set_exception(self.proto.handshake_exc or exc
                                      or ConnectionError("connection closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- messages -------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        op = frame.opcode
        if op is Opcode.PONG:
            self._ping_unanswered = False
            return
        if op is Opcode.TEXT or op is Opcode.BINARY:
            if not frame.fin:
                self._fragments = [frame.data]
                self._fragmented_text = op is Opcode.TEXT
                return
            self._deliver(frame.data, op is Opcode.TEXT)
        elif op is Opcode.CONT and self._fragments:
            self._fragments.append(frame.data)
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), []
                self._deliver(data, self._fragmented_text)

    def _deliver(self, data: bytes, text: bool) -> None:
        message: str | bytes = data.decode("utf-8", "replace") if text else data
        if self.on_message is None:
            self._pending.append(message)
        else:
            self.on_message(message)

    def attach(self, on_message: Callable[[str | bytes], None]) -> None:
        """From now on messages go to ``on_message``; those read before it are handed over first."""
        self.on_message = on_message
        pending, self._pending = self._pending, []
        for message in pending:
            on_message(message)

    def send(self, text: str) -> None:
        """Write one text message now. Frames for a link that is closing are dropped."""
        t = self.transport
        if self.proto.state is State.OPEN and t is not None and not t.is_closing():
            t.write(text_frame(text.encode()))  # data frames change no protocol state

    # -- closing --------------------------------------------------------------------

    async def close(self) -> None:
        """The closing handshake (1000), then the TCP connection; cut after CLOSE_TIMEOUT."""
        if self.proto.state is State.OPEN and self.transport is not None and not self.transport.is_closing():
            self.proto.send_close(1000)
            self._write()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self.closed)
        except TimeoutError:
            self.abort()
            await asyncio.shield(self.closed)

    def abort(self) -> None:
        """Drop the link at once, as a pulled cable: no closing handshake."""
        if self.transport is not None:
            self.transport.abort()

    # -- internals --------------------------------------------------------------------

    def _write(self) -> None:
        t = self.transport
        if t is None:
            return
        for data in self.proto.data_to_send():
            if data:
                t.write(data)
            elif t.can_write_eof():  # half-close after the closing handshake (no TLS)
                try:
                    t.write_eof()
                except Exception:
                    pass
            else:
                t.close()

    def _arm_ping(self) -> None:
        if self._ping_interval:
            self._ping_timer = self.loop.call_later(self._ping_interval, self._ping)

    def _ping(self) -> None:
        if self.proto.state is not State.OPEN:
            return
        if self._ping_unanswered:  # no pong within a whole interval
            self.proto.fail(1011, "keepalive ping timeout")
            self._write()
            self.abort()
            return
        self._ping_unanswered = True
        self.proto.send_ping(b"")
        self._write()
        self._arm_ping()


__all__ = ["Link", "InvalidHandshake", "CLOSE_TIMEOUT"]

"""fleet/link.py: the fleet's websocket client link over websockets' sans-I/O ClientProtocol, against a
real websockets server (and a raw one that never answers pings) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import struct

import pytest
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.utils import accept_key, apply_mask

from ocpp_station.fleet.link import Link, text_frame


def _unframe(frame: bytes) -> tuple[int, bytes]:
    """(first byte, unmasked payload) of one masked client frame."""
    assert frame[1] & 0x80, "client frames are masked"
    n, i = frame[1] & 0x7F, 2
    if n == 126:
        n, i = struct.unpack("!H", frame[2:4])[0], 4
    elif n == 127:
        n, i = struct.unpack("!Q", frame[2:10])[0], 10
    key, payload = frame[i:i + 4], frame[i + 4:]
    assert len(payload) == n
    return frame[0], apply_mask(payload, key)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frame_lengths_and_masking(size):
    payload = ("é" * size).encode()[:size]
    first, data = _unframe(text_frame(payload))
    assert first == 0x81 and data == payload  # FIN + TEXT


def test_masking_keys_differ():
    keys = {_key(text_frame(b"x")) for _ in range(2000)}
    assert len(keys) > 1990  # 32 random bits each (a handful of collisions at most)


def _key(frame: bytes) -> bytes:
    return frame[2:6]


async def test_messages_both_ways_fragments_and_messages_before_attach():
    got_by_server: list[str] = []

    async def handler(ws):
        await ws.send("early")  # may arrive with the handshake, before attach()
        await ws.send(["frag", "mented"])  # a fragmented message
        async for msg in ws:
            got_by_server.append(msg)
            await ws.send(f"echo {msg}")

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        link = await Link.open(f"ws://127.0.0.1:{port}/ocpp/CP1", max_size=1 << 20)
        assert link.subprotocol == "ocpp1.6"
        received: list[str | bytes] = []
        three = asyncio.get_running_loop().create_future()

        def on_message(m):
            received.append(m)
            if len(received) == 3 and not three.done():
                three.set_result(None)

        await asyncio.sleep(0)
        link.attach(on_message)
        link.send("[2,\"1\",\"Heartbeat\",{}]")
        await asyncio.wait_for(three, 5)
        assert received == ["early", "fragmented", "echo [2,\"1\",\"Heartbeat\",{}]"]
        assert got_by_server == ["[2,\"1\",\"Heartbeat\",{}]"]
        await link.close()
        assert link.closed.done()
        link.send("after close")  # dropped, no error


async def test_refused_handshake_raises_invalid_status():
    def refuse(connection, request):
        return connection.respond(403, "no\n")

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(InvalidStatus) as info:
            await Link.open(f"ws://127.0.0.1:{port}/ocpp/CP1", max_size=1 << 20)
        assert info.value.response.status_code == 403


def _switching(request_head: bytes) -> bytes:
    """A server's 101 answer to the opening handshake ``request_head`` (RFC 6455 §4.2.2), subprotocol ocpp1.6."""
    key = next(line.split(b":", 1)[1].strip() for line in request_head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n"
            b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n")


async def test_missing_pong_drops_the_link():
    """WebSocketPingInterval: a ping still unanswered at the next one fails the link."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_switching(await reader.readuntil(b"\r\n\r\n")))
        await reader.read()  # reads the pings, answers nothing, until the client goes

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        link = await Link.open(f"ws://127.0.0.1:{port}/ocpp/CP1", max_size=1 << 20, ping_interval=0.1)
        link.attach(lambda m: None)
        await asyncio.wait_for(link.closed, 5)  # two ping intervals, then the link is cut



def _server_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    head = bytes((0x80 | opcode, n)) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 126, n)
    return head + payload


async def test_frames_parsed_in_the_link_across_reads_with_control_frames_and_bad_utf8():
    """Final TEXT frames are parsed by the link itself, whatever the read boundaries; a ping in between goes to
    websockets (a pong comes back), and so does a close; invalid UTF-8 is handed on with replacement
    characters, as websockets' path does (the station answers what it cannot parse)."""
    frames_from_client: list[tuple[int, bytes]] = []
    closed_by_client = asyncio.get_running_loop().create_future()

    async def raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_switching(await reader.readuntil(b"\r\n\r\n")))
        await writer.drain()
        big = ("é" * 150).encode()  # 300 bytes: a 16-bit length
        stream = (_server_frame(0x1, b'[3,"1",{}]') + _server_frame(0x1, big) + _server_frame(0x9, b"hi")
                  + _server_frame(0x1, b'[3,"2",{}]') + _server_frame(0x1, b"\xff\xfe")
                  + _server_frame(0x8, struct.pack("!H", 1000)))
        for cut in (1, 2, 5, 13, 40, 200, 330, len(stream)):  # reads that end mid-header and mid-payload
            writer.write(stream[:cut])
            stream = stream[cut:]
            await writer.drain()
            await asyncio.sleep(0.005)
        while True:
            head2 = await reader.readexactly(2)
            n = head2[1] & 0x7F
            mask = await reader.readexactly(4)
            payload = apply_mask(await reader.readexactly(n), mask)
            frames_from_client.append((head2[0], payload))
            if head2[0] & 0x0F == 0x8:
                closed_by_client.set_result(payload)
                writer.close()
                return

    server = await asyncio.start_server(raw, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        link = await Link.open(f"ws://127.0.0.1:{port}/ocpp/CP1", max_size=1 << 20)
        got: list[str | bytes] = []
        link.attach(got.append)
        close = await asyncio.wait_for(closed_by_client, 5)
        assert got == ['[3,"1",{}]', "é" * 150, '[3,"2",{}]', "\ufffd\ufffd"]
        assert frames_from_client[0] == (0x8A, b"hi")  # the pong to the ping
        assert struct.unpack("!H", close[:2])[0] == 1000  # the closing handshake's answer
        await asyncio.wait_for(link.closed, 5)


class _Wire:
    """The transport under a Link, fed by the test: what it reads arrives in the chunks the test chooses."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closing

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    abort = close


def _client_frames(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        n, i = data[pos + 1] & 0x7F, pos + 2
        if n == 126:
            n, i = struct.unpack("!H", data[pos + 2:pos + 4])[0], pos + 4
        key = data[i:i + 4]
        out.append((data[pos], apply_mask(bytes(data[i + 4:i + 4 + n]), key)))
        pos = i + 4 + n
    return out


async def test_every_read_boundary_from_the_handshake_on_gives_the_same_messages_and_pongs():
    """The CSMS's bytes cut at every position (in the handshake's response, in a frame's header, between a
    header and its payload, with a control frame in between): the same messages in the same order, a pong
    for each ping, never a frame read from the middle of another."""
    big = ("é" * 100).encode()  # 200 bytes: a 16-bit length
    # a ping's payload is any 4 bytes (websockets draws them at random): here ones that also read as the
    # header of a final TEXT frame, as a reader at a wrong boundary would take them
    frames = (_server_frame(0x9, b"\x81\x02ab") + _server_frame(0x1, b'[3,"1",{}]') + _server_frame(0x9, b"")
              + _server_frame(0x1, big) + _server_frame(0x1, b'[3,"2",{}]'))
    expected = ['[3,"1",{}]', "é" * 100, '[3,"2",{}]']
    for cut in range(1, 200):
        for second in (None, cut + 1, cut + 3):
            link = Link("ws://127.0.0.1:1/ocpp/CP1", max_size=1 << 20)
            wire = _Wire()
            link.connection_made(wire)
            stream = _switching(bytes(wire.out)) + frames
            wire.out.clear()
            bounds = [0, cut] + ([second] if second else []) + [len(stream)]
            got: list[str | bytes] = []
            link.attach(got.append)
            for a, b in zip(bounds, bounds[1:]):
                link.data_received(stream[a:b])
            assert link.opened.done() and link.opened.exception() is None, (cut, second)
            assert got == expected, (cut, second)
            assert _client_frames(bytes(wire.out)) == [(0x8A, b"\x81\x02ab"), (0x8A, b"")], (cut, second)


async def test_a_handshake_failing_after_open_gave_up_leaves_no_unretrieved_error():
    """A response that is no HTTP at all, read when nobody awaits the handshake any more (open() timed out,
    the fleet is closing): not reported as an error nobody retrieved (asyncio's "Future exception was never
    retrieved")."""
    import gc

    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        link = Link("ws://127.0.0.1:1/ocpp/CP1", max_size=1 << 20)
        link.connection_made(_Wire())
        link.data_received(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        link.connection_lost(None)  # the transport closes: its timers go, nothing else holds the link
        assert link.opened.done() and not link.opened.cancelled()
        link = None
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert [c.get("message") for c in reported] == []

"""Reading a control API body: the whole body up to the limit, however it arrives on the wire.

Raw sockets, so the test decides where the TCP segments and the chunks end."""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from inprocess_api import in_process_api


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = dict(
        line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
    )
    body = await reader.readexactly(int(headers[b"Content-Length"]))
    return status, orjson.loads(body)


async def test_a_json_body_in_two_tcp_segments_is_read_whole():
    async with in_process_api() as (client, rt):
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        body = b'{"idTag": "04A2B3C4", "connectorId": 1}'
        head = (b"POST /api/id-tag HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        writer.write(head + body[:12])
        await writer.drain()
        await asyncio.sleep(0.2)  # the rest of the body comes in a later segment
        writer.write(body[12:])
        await writer.drain()
        status, doc = await asyncio.wait_for(_response(reader), 10)
        writer.close()
        assert status == 200, doc
        assert doc["identity"] == "CP001"


async def test_a_chunked_body_in_two_writes_is_read_whole():
    async with in_process_api() as (client, rt):
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(b"POST /api/id-tag HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"c\r\n{\"idTag\": \"0\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"8\r\n4A2B3C4\"\r\n1\r\n}\r\n0\r\n\r\n")
        await writer.drain()
        status, doc = await asyncio.wait_for(_response(reader), 10)
        writer.close()
        assert status == 200, doc


async def test_a_20_mb_chunked_body_is_413():
    async with in_process_api() as (client, rt):
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(b"POST /api/id-tag HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % (64 * 1024) + b"x" * (64 * 1024) + b"\r\n"

        async def send() -> None:
            with contextlib.suppress(ConnectionError):
                writer.write(b'b\r\n{"idTag": "\r\n')
                await writer.drain()
                await asyncio.sleep(0.2)  # the server has a first, short piece of the body
                for _ in range(20 * 16):  # 20 MB
                    writer.write(chunk)
                    await writer.drain()
                writer.write(b'2\r\n"}\r\n0\r\n\r\n')
                await writer.drain()

        sender = asyncio.create_task(send())
        status, doc = await asyncio.wait_for(_response(reader), 20)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
        assert status == 413, doc
        assert doc == {"error": "body exceeds 65536 bytes"}

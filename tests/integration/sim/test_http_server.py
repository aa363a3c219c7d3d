"""The lean HTTP/1.1 server the simulator runs on, at the byte level."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio

from daemon.webhook.server import PortInUse
from sim.http import serve_http


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = (await receive())["body"]
    reply = (
        f"{scope['method']} {scope['path']} {scope['query_string'].decode()} {len(body)}".encode()
    )
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-echo", b"1")]})
    await send({"type": "http.response.body", "body": reply})


async def _exchange(port: int, raw: bytes, until: bytes = b"", close_after: bool = False) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(raw)
        got = b""
        with trio.move_on_after(2):
            while until not in got or not until:
                data = await stream.receive_some(65536)
                if not data:
                    break
                got += data
        return got


@pytest.fixture
async def port(nursery: trio.Nursery) -> int:
    urls = await nursery.start(partial(serve_http, echo, "127.0.0.1", 0))
    return int(urls[0].rsplit(":", 1)[1])


async def test_pipelined_keep_alive_requests(port: int) -> None:
    raw = (
        b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
        + b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    )
    got = await _exchange(port, raw, b"POST /b  3")
    assert got.count(b"HTTP/1.1 200 OK") == 2
    assert b"GET /a x=1 0" in got


async def test_chunked_body_and_expect_continue(port: int) -> None:
    raw = (
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"
    )
    got = await _exchange(port, raw, b"POST /c  9")
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


async def test_http10_closes_and_bad_requests_get_4xx(port: int) -> None:
    got = await _exchange(port, b"GET /old HTTP/1.0\r\n\r\n")
    assert b"connection: close" in got
    assert got.endswith(b"GET /old  0")
    assert (await _exchange(port, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400")
    assert (await _exchange(port, b"GET / HTTP/2.0\r\n\r\n")).startswith(b"HTTP/1.1 505")
    assert (await _exchange(port, b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000)).startswith(
        b"HTTP/1.1 431"
    )
    big = b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"
    assert (await _exchange(port, big)).startswith(b"HTTP/1.1 413")


async def test_port_in_use_raises_before_started(port: int, nursery: trio.Nursery) -> None:
    with pytest.raises(PortInUse) as info:
        await nursery.start(partial(serve_http, echo, "127.0.0.1", port))
    assert str(info.value) == (
        f"cannot listen on 127.0.0.1:{port} for the sandbox simulator: address already in use"
    )

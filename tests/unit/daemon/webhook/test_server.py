"""Hypercorn inside the nursery (the metrics endpoint, the webhook app's Unix socket):
an address it cannot listen on is a :class:`PortInUse` naming it, raised before
``started``, and what it can listen on is served as before."""

from __future__ import annotations

import re
import socket
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from daemon.webhook.server import PortInUse, serve_asgi, split_listen


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def _serve(listen: str, stop: trio.Event) -> Any:
    return partial(serve_asgi, hello, listen, what="metrics endpoint", shutdown=stop)


async def test_it_serves_a_free_port_and_stops(nursery: trio.Nursery) -> None:
    stop = trio.Event()
    url = await nursery.start(_serve("127.0.0.1:0", stop))
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", url)
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).text == "hello"
    stop.set()


async def test_a_stale_unix_socket_is_replaced(tmp_path: Path, nursery: trio.Nursery) -> None:
    path = tmp_path / "app.sock"
    with socket.socket(socket.AF_UNIX) as dead:  # left by a process that died
        dead.bind(str(path))
    stop = trio.Event()
    await nursery.start(_serve(f"unix:{path}", stop))
    transport = httpx.AsyncHTTPTransport(uds=str(path))
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.get("http://app/")).text == "hello"
    stop.set()


@pytest.mark.parametrize(
    ("listen", "reason"),
    [
        ("10.255.255.1:9108", "cannot assign requested address (not an address of this host)"),
        ("nosuchhost.invalid:9108", "cannot resolve the host ("),
        ("127.0.0.1:99999", "port must be 0 to 65535"),
        ("127.0.0.1:70000", "port must be 0 to 65535"),
    ],
)
async def test_an_address_it_cannot_listen_on_is_one_line_naming_it(
    listen: str, reason: str, nursery: trio.Nursery
) -> None:
    with pytest.raises(PortInUse) as info:
        await nursery.start(_serve(listen, trio.Event()))
    assert str(info.value).startswith(
        f"cannot listen on {listen} for the metrics endpoint: {reason}"
    )


async def test_a_port_in_use_is_refused_before_started(nursery: trio.Nursery) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        listen = f"127.0.0.1:{other.getsockname()[1]}"
        with pytest.raises(PortInUse) as info:
            await nursery.start(_serve(listen, trio.Event()))
    assert str(info.value) == (
        f"cannot listen on {listen} for the metrics endpoint: address already in use"
    )


def test_a_port_out_of_range_is_not_wrapped_round() -> None:
    """getaddrinfo takes ``:99999`` as port 34463: it must be refused instead."""
    assert split_listen("127.0.0.1:8089", "x") == ("127.0.0.1", 8089)
    assert split_listen("127.0.0.1:0", "x") == ("127.0.0.1", 0)
    for listen in ("127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:", "127.0.0.1:٣"):
        with pytest.raises(PortInUse, match="port must be 0 to 65535"):
            split_listen(listen, "x")

"""The front door's relay: all but a webhook POST reaches the daemon's app.

Over a real TCP socket, with the app on its Unix socket behind the door: the GET
handshake and the app's other routes reach it (and the app's socket itself stores no
webhook); relayed requests and webhook POSTs share the client's connection, answered in
the order sent; a request that asks to close is answered, then closed; an app that fails
or is down is a 502 that leaves the connection usable, and webhooks are still taken.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.flows.endpoint import FlowsEndpoint
from daemon.flows.handlers.shift_booking import MemoryShiftBoard, ShiftBooking
from daemon.webhook.app import create_app
from tests.unit.daemon.flows.meta_side import open_response, seal_request
from tests.unit.daemon.webhook.clients import (
    PATH,
    SECRET,
    TOKEN,
    Client,
    Reply,
    request_bytes,
    signed,
)
from tests.unit.daemon.webhook.front_door import BODY, Door, front_door


async def _once(door: Door, method: str, path: str = PATH, **request: Any) -> Reply:
    """One request on a fresh connection."""
    client = await door.connect()
    try:
        return await client.request(method, path, **request)
    finally:
        await client.aclose()


async def test_the_handshake_and_other_routes_reach_the_app() -> None:
    async with front_door() as door:
        query = b"hub.mode=subscribe&hub.verify_token=%s&hub.challenge=1158201444" % (
            TOKEN.encode()
        )
        ok = await _once(door, "GET", query=query, content_length=False)
        assert (ok.status, ok.body) == (200, b"1158201444")
        wrong = b"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444"
        refused = await _once(door, "GET", query=wrong, content_length=False)
        assert refused.status == 403
        assert b"1158201444" not in refused.body
        assert (await _once(door, "GET", "/healthz", content_length=False)).status == 200
        assert (await _once(door, "POST", "/elsewhere", body=b"{}")).status == 404
        put = await _once(door, "PUT", PATH, body=BODY, headers=signed(BODY))
        assert put.status == 405
        # None of these touched the webhook path or its counts.
        assert door.ingest.counters.by_status == {}
        assert door.observed == []
        assert door.inbox.bodies == []


async def test_the_app_socket_itself_never_stores_a_webhook() -> None:
    """A client that reaches the app's Unix socket directly gets 405 for a webhook POST."""
    async with front_door() as door:
        stream = await trio.open_unix_socket(door.upstream)
        client = Client(stream)
        door.clients.append(client)
        reply = await client.request(body=BODY, headers=signed(BODY))
        assert reply.status == 405
        assert door.inbox.bodies == []
        await client.aclose()


# --- the client's connection across relayed requests -------------------------------------------

CHALLENGE = b"hub.mode=subscribe&hub.verify_token=%s&hub.challenge=" % TOKEN.encode()


async def test_relayed_requests_and_webhook_posts_share_one_connection() -> None:
    async with front_door() as door:
        client = await door.connect()
        first = await client.request("GET", query=CHALLENGE + b"1", content_length=False)
        health = await client.request("GET", "/healthz", content_length=False)
        posted = await client.request(body=BODY, headers=signed(BODY))
        again = await client.request("GET", query=CHALLENGE + b"2", content_length=False)
        assert [(r.status, r.body) for r in (first, health, posted, again)] == [
            (200, b"1"),
            (200, b"ok"),
            (200, b"OK"),
            (200, b"2"),
        ]
        assert all(r.header(b"connection") is None for r in (first, health, posted, again))
        assert all(r.header(b"content-length") is not None for r in (first, health, again))
        # Pipelined, relayed and taken requests are answered in the order sent.
        await client.send(
            request_bytes("GET", query=CHALLENGE + b"3", content_length=False)
            + request_bytes(body=BODY, headers=signed(BODY))
            + request_bytes("GET", "/nowhere", content_length=False)
            + request_bytes("GET", query=CHALLENGE + b"4", content_length=False)
        )
        answers = [await client.reply() for _ in range(4)]
        assert [(r.status, r.body[:1]) for r in answers] == [
            (200, b"3"),
            (200, b"O"),
            (404, b"<"),
            (200, b"4"),
        ]
        assert door.inbox.bodies == [BODY, BODY]
        assert not await client.closed_by_server(timeout=0.2)
        await client.aclose()


async def test_flows_exchanges_keep_meta_s_connection() -> None:
    """Meta calls the Flows endpoint once per screen: one connection for all of them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint = FlowsEndpoint(
        app_secret=SECRET.encode(),
        private_key=key,
        handlers={"shift_booking": ShiftBooking(MemoryShiftBoard.demo())},
    )
    app = create_app(path=PATH, verify_token=TOKEN, flows=endpoint.in_front_of)
    async with front_door(app=app) as door:
        client = await door.connect()
        for _ in range(3):
            sealed = seal_request(key.public_key(), {"version": "3.0", "action": "ping"})
            reply = await client.request(
                "POST", "/flows/shift_booking", body=sealed.body, headers=signed(sealed.body)
            )
            assert reply.status == 200
            assert open_response(reply.body, sealed.aes_key, sealed.iv) == {
                "data": {"status": "active"}
            }
        assert (await client.request(body=BODY, headers=signed(BODY))).status == 200
        assert endpoint.counters.by_status == {200: 3}
        assert door.inbox.bodies == [BODY]
        await client.aclose()


@pytest.mark.parametrize(
    "request_line",
    [b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close", b"GET /healthz HTTP/1.0"],
    ids=["close", "http-1.0"],
)
async def test_a_relayed_request_that_asks_to_close_is_answered_then_closed(
    request_line: bytes,
) -> None:
    async with front_door() as door:
        client = await door.connect()
        await client.send(request_line + b"\r\n\r\n")
        reply = await client.reply()
        assert (reply.status, reply.body) == (200, b"ok")
        assert reply.header(b"connection") == b"close"
        assert await client.closed_by_server()
        await client.aclose()


async def _failing_app(path: str, *, task_status: trio.TaskStatus[None]) -> None:
    """Stands in for an app in trouble: ``/early`` closes mid-answer, ``/garbage`` answers
    no HTTP, ``/silent`` closes without a word; anything else is answered properly."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen()

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive_some(65536)
            target = head.split(b" ", 2)[1]
            if target == b"/early":
                await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart")
            elif target == b"/garbage":
                await stream.send_all(b"\x00\x01 not http\r\n\r\n")
            elif target != b"/silent":
                await stream.send_all(b"HTTP/1.1 200 \r\ncontent-length: 2\r\n\r\nok")

    task_status.started()
    await trio.serve_listeners(answer, [trio.SocketListener(sock)])


async def test_an_upstream_that_fails_is_502_and_the_connection_stays_usable() -> None:
    """The request was read whole before it was relayed, so the client's connection is
    in step after a 502: the next request on it is served."""
    async with front_door(upstream_server=_failing_app) as door:
        client = await door.connect()
        for target in ("/early", "/garbage", "/silent"):
            failed = await client.request("GET", target, content_length=False)
            assert failed.status == 502, target
            assert failed.header(b"connection") is None
            assert (await client.request(body=BODY, headers=signed(BODY))).status == 200
        fine = await client.request("GET", "/fine", content_length=False)
        assert (fine.status, fine.body) == (200, b"ok")
        assert door.inbox.bodies == [BODY] * 3
        await client.aclose()


async def test_without_the_app_relayed_requests_are_502_and_webhooks_still_taken() -> None:
    async def nothing(path: str, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()  # no socket at ``path``: the app is down

    async with front_door(upstream_server=nothing) as door:
        client = await door.connect()
        assert (await client.request("GET", query=CHALLENGE + b"1")).status == 502
        assert (await client.request(body=BODY, headers=signed(BODY))).status == 200
        assert (await client.request("GET", "/healthz")).status == 502
        assert door.inbox.bodies == [BODY]
        await client.aclose()

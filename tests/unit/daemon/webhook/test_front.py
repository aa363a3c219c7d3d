"""The webhook port's front door: binding, the POST path over HTTP/1.1, the relay and
the stop.

Most tests here speak raw HTTP/1.1 over a real TCP socket to :func:`serve_front`, with
the daemon's real app (quart-trio on hypercorn) on its Unix socket behind it: what is
pinned is what a webhook POST's HTTP framing may do (the body bound and its 413, a
declared, understated, malformed or chunked length, which header is the signature), that
the connection stays usable after every answer that is not a 413, and that the rest of
the port reaches the app. The property tests drive the same per-connection server on
in-memory streams (:func:`~tests.unit.daemon.webhook.clients.front_call`), for speed.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, example, given, settings, strategies as st

from daemon.flows.endpoint import FlowsEndpoint
from daemon.flows.handlers.shift_booking import MemoryShiftBoard, ShiftBooking
from daemon.webhook.app import create_app
from daemon.webhook.front import bind_listeners, serve_front
from daemon.webhook.ingest import REASONS, WebhookIngest
from daemon.webhook.server import PortInUse, serve_asgi
from tests.unit.daemon.flows.meta_side import open_response, seal_request
from tests.unit.daemon.webhook.clients import (
    MAX_BODY,
    PATH,
    SECRET,
    TOKEN,
    Client,
    FakeInbox,
    Reply,
    front_call,
    front_exchange,
    make_app,
    oracle,
    request_bytes,
    signature_of,
    signed,
)

BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_listeners_share_one_port_resolved_once() -> None:
    sockets = bind_listeners("127.0.0.1:0", 3)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(ports) == 1
        assert ports != {0}
        assert all(s.get_inheritable() for s in sockets)  # for worker processes
        # Another program on the port is a clear error, not a silent share.
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            other.listen()
            with pytest.raises(PortInUse, match="webhook endpoint"):
                bind_listeners(f"127.0.0.1:{other.getsockname()[1]}", 2)
    finally:
        for s in sockets:
            s.close()
    (mine,) = bind_listeners("127.0.0.1:0", 1, inheritable=False)
    with mine:
        assert not mine.get_inheritable()  # the daemon's own: no child inherits it


async def _upstream(path: Path, seen: list[bytes], *, task_status: trio.TaskStatus[None]) -> None:
    """A stand-in for the daemon's app on its Unix socket: one fixed answer."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen()
    listener = trio.SocketListener(sock)

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            seen.append(bytes(await stream.receive_some(65536)))
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")

    task_status.started()
    await trio.serve_listeners(answer, [listener])


async def test_posts_are_taken_here_the_rest_relayed_and_a_stop_ends_it(tmp_path: Path) -> None:
    inbox = FakeInbox()
    ingest = make_app(inbox)
    observed: list[tuple[int, float]] = []
    seen: list[bytes] = []
    stop = trio.Event()
    upstream = tmp_path / "app.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(_upstream, upstream, seen)
        base = await nursery.start(
            lambda task_status: serve_front(
                "127.0.0.1:0",
                ingest,
                str(upstream),
                shutdown=stop,
                observe=lambda status, s: observed.append((status, s)),
                task_status=task_status,
            )
        )
        async with httpx.AsyncClient(base_url=base) as client:
            ok = await client.post(PATH, content=BODY, headers=dict(signed(BODY)))
            bad = await client.post(PATH, content=BODY, headers={"x-hub-signature-256": "no"})
            other = await client.get("/healthz")
        assert (ok.status_code, bad.status_code) == (200, 401)
        assert inbox.bodies == [BODY]
        assert ingest.counters.by_status == {200: 1, 401: 1}
        assert [status for status, _ in observed] == [200, 401]
        assert (other.status_code, other.text) == (200, "hello")
        assert seen[0].startswith(b"GET /healthz HTTP/1.1\r\n")
        with trio.fail_after(2):  # the front returns once stopped; the test's upstream not
            stop.set()
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))):
                        pass
                except ConnectionRefusedError:
                    break
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


# --- over a real socket, with the daemon's app behind ------------------------------------------


@dataclass
class Door:
    """A front door on a free port with the real app behind it, as the daemon runs it."""

    port: int
    ingest: WebhookIngest
    inbox: FakeInbox
    upstream: str
    observed: list[int] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)

    async def connect(self) -> Client:
        """A client connection, closed with the door if the test does not close it."""
        client = await Client.open(self.port)
        self.clients.append(client)
        return client


def socket_dir() -> str:
    """A short directory for Unix sockets (their paths are limited to ~100 bytes)."""
    return tempfile.mkdtemp(prefix="metad-front-")


Upstream = Callable[[str], Awaitable[None]]
"""A stand-in for the app: serves the Unix socket path it is given (bound on return)."""


@asynccontextmanager
async def front_door(
    *, max_body: int = MAX_BODY, app: Any = None, upstream_server: Any = None
) -> AsyncIterator[Door]:
    """The daemon's app (or ``app``) on hypercorn behind the front door; with
    ``upstream_server`` (started with the socket path) that stands in for it instead."""
    inbox = FakeInbox()
    ingest = make_app(inbox, max_body=max_body)
    upstream = os.path.join(socket_dir(), "app.sock")
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        if upstream_server is not None:
            await nursery.start(upstream_server, upstream)
        else:
            await nursery.start(
                lambda task_status: serve_asgi(
                    app if app is not None else create_app(path=PATH, verify_token=TOKEN),
                    f"unix:{upstream}",
                    what="webhook app",
                    shutdown=stop,
                    task_status=task_status,
                )
            )
        observed: list[int] = []
        base = await nursery.start(
            lambda task_status: serve_front(
                "127.0.0.1:0",
                ingest,
                upstream,
                shutdown=stop,
                observe=lambda status, _: observed.append(status),
                task_status=task_status,
            )
        )
        door = Door(int(base.rsplit(":", 1)[1]), ingest, inbox, upstream, observed)
        try:
            yield door
        finally:
            for client in door.clients:
                await trio.aclose_forcefully(client.stream)
            stop.set()
            if upstream_server is not None:
                nursery.cancel_scope.cancel()


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


async def test_signature_is_read_from_x_hub_signature_256_only_as_latin_1() -> None:
    async with front_door() as door:
        client = await door.connect()
        good = signature_of(BODY).encode()
        other_name = await client.request(body=BODY, headers=[(b"x-hub-signature", good)])
        latin_1 = await client.request(
            body=BODY, headers=[(b"x-hub-signature-256", b"sha256=" + b"\xff" * 64)]
        )
        upper_name = await client.request(body=BODY, headers=[(b"X-Hub-Signature-256", good)])
        assert (other_name.status, latin_1.status, upper_name.status) == (401, 401, 200)
        assert door.inbox.bodies == [BODY]
        assert door.inbox.rejected == 2
        await client.aclose()


async def test_every_answer_but_413_keeps_the_connection() -> None:
    """Meta reuses its connections: a refusal must not cost the next delivery."""
    async with front_door() as door:
        client = await door.connect()
        unsigned = await client.request(body=BODY)
        not_json = await client.request(body=b"[]", headers=signed(b"[]"))
        door.inbox.fail = ConnectionError("store down")
        unavailable = await client.request(body=BODY, headers=signed(BODY))
        door.inbox.fail = None
        stored = await client.request(body=BODY, headers=signed(BODY))
        answers = [unsigned, not_json, unavailable, stored]
        assert [r.status for r in answers] == [401, 400, 503, 200]
        assert [r.body for r in answers] == [REASONS[s] for s in (401, 400, 503, 200)]
        assert all(r.header(b"connection") is None for r in answers)
        assert door.ingest.counters.by_status == {401: 1, 400: 1, 503: 1, 200: 1}
        assert door.observed == [401, 400, 503, 200]
        assert door.inbox.bodies == [BODY]
        await client.aclose()


async def test_a_declared_length_over_the_bound_is_413_before_the_body_is_sent() -> None:
    async with front_door() as door:
        client = await door.connect()
        raw = b"{" + b" " * MAX_BODY + b"}"
        head = request_bytes(body=raw, headers=signed(raw))
        await client.send(head[: head.index(b"\r\n\r\n") + 4])  # the headers only
        reply = await client.reply()
        assert reply.status == 413
        assert reply.header(b"connection") == b"close"  # keep-alive clients must know
        assert await client.closed_by_server()
        assert door.inbox.bodies == []
        assert door.inbox.rejected == 0
        assert door.ingest.counters.too_large == 1
        assert door.ingest.counters.by_status == {413: 1}
        await client.aclose()


async def test_a_chunked_body_over_the_bound_is_413_and_closes() -> None:
    """No length declared: the bound holds while the body is read."""
    async with front_door() as door:
        client = await door.connect()
        chunks = [b'{"pad":"', b"x" * (MAX_BODY // 2), b"x" * (MAX_BODY // 2), b'"}']
        raw = b"".join(chunks)
        reply = await client.request(chunks=chunks, headers=signed(raw))
        assert reply.status == 413
        assert reply.header(b"connection") == b"close"
        assert await client.closed_by_server()
        assert door.inbox.bodies == []
        assert door.ingest.counters.too_large == 1
        await client.aclose()


async def test_an_understated_length_frames_the_body_and_does_not_lift_the_bound() -> None:
    """The declared length is the body: the rest is no request (400, closed); the
    signature over the whole does not match the part, and nothing is stored."""
    async with front_door() as door:
        client = await door.connect()
        raw = b'{"pad":"' + b"x" * MAX_BODY + b'"}'
        await client.send(
            request_bytes(
                body=raw, headers=[*signed(raw), (b"content-length", b"10")], content_length=False
            )
        )
        first, second = await client.reply(), await client.reply()
        assert (first.status, second.status) == (401, 400)
        assert second.header(b"connection") == b"close"
        assert await client.closed_by_server()
        assert door.inbox.bodies == []
        await client.aclose()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "length"])
async def test_a_body_of_exactly_the_bound_in_pieces_is_accepted(chunked: bool) -> None:
    async with front_door() as door:
        client = await door.connect()
        raw = b'{"pad":"' + b"x" * (MAX_BODY - 10) + b'"}'
        assert len(raw) == MAX_BODY
        pieces = [raw[:100], raw[100:2000], raw[2000:]]
        data = request_bytes(chunks=pieces if chunked else None, body=raw, headers=signed(raw))
        cut = data.index(b"\r\n\r\n") + 4
        for part in (data[:cut], data[cut : cut + 150], data[cut + 150 :]):
            await client.send(part)
            await trio.sleep(0.01)
        assert (await client.reply()).status == 200
        assert door.inbox.bodies == [raw]
        await client.aclose()


@pytest.mark.parametrize("length", [b"abc", b"", b"-1", b"9" * 5000, b"+2", b"2, 2"])
async def test_a_malformed_content_length_is_400_and_closes(length: bytes) -> None:
    """Without a length it can read, HTTP/1.1 cannot frame the body: the connection is
    refused (RFC 9112 §6.3), never read past the bound, nothing stored or counted."""
    async with front_door() as door:
        client = await door.connect()
        headers = [*signed(b"{}"), (b"content-length", length)]
        reply = await client.request(body=b"{}", headers=headers, content_length=False)
        assert reply.status == 400
        assert reply.header(b"connection") == b"close"
        assert await client.closed_by_server()
        assert door.inbox.bodies == []
        assert door.ingest.counters.by_status == {}
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


# --- properties, on in-memory streams -------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(coro_fn: Any, *args: Any, **kwargs: Any) -> Any:
    return trio.run(lambda: coro_fn(*args, **kwargs))


field_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
"""Header values: any bytes but the line ends (those would write another request)."""

junk_headers = st.lists(
    st.tuples(
        st.sampled_from([b"content-type", b"x-hub-signature", b"x-junk", b"connection"]),
        field_values,
    ),
    max_size=3,
)


def chunked(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(raw)) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@PROPERTY
@given(body=st.binary(max_size=2048), signature=st.none() | field_values, extra=junk_headers)
@example(body=BODY, signature=None, extra=[])
@example(body=BODY, signature=b"sha256=" + b"0" * 64, extra=[])
def test_property_nothing_unsigned_is_accepted(
    body: bytes, signature: bytes | None, extra: list[tuple[bytes, bytes]]
) -> None:
    inbox = FakeInbox()
    headers = list(extra)
    if signature is not None:
        headers.append((b"x-hub-signature-256", signature))
    reply = run(front_call, make_app(inbox), body=body, headers=headers)
    assert reply.status in (400, 401)  # 400: a junk header the HTTP layer refuses
    assert inbox.bodies == []


@PROPERTY
@given(
    raw=st.binary(max_size=2 * MAX_BODY)
    | st.dictionaries(st.text(), st.text()).map(lambda d: repr(d).replace("'", '"').encode()),
    cuts=st.lists(st.integers(0, 2 * MAX_BODY), max_size=4),
)
@example(raw=b"{}", cuts=[1])
@example(raw=b'{"a":"' + b"x" * (MAX_BODY - 8) + b'"}', cuts=[MAX_BODY // 2])
@example(raw=b'{"a":"' + b"x" * (MAX_BODY - 7) + b'"}', cuts=[MAX_BODY // 2])
def test_property_a_signed_chunked_body_is_bounded_then_judged(raw: bytes, cuts: list[int]) -> None:
    """Whatever its chunking: over the bound 413 and not stored; else take's answer."""
    inbox = FakeInbox()
    ingest = make_app(inbox)
    reply = run(front_call, ingest, chunks=chunked(raw, cuts), headers=signed(raw))
    if len(raw) > MAX_BODY:
        assert reply.status == 413
        assert ingest.counters.too_large == 1
    else:
        assert reply.status == oracle(raw)
    assert inbox.rejected == 0
    assert inbox.bodies == ([raw] if reply.status == 200 else [])


@PROPERTY
@given(
    raw=st.sampled_from([BODY, b"{}", b'{"pad":"' + b"x" * MAX_BODY + b'"}']),
    length=st.integers(0, 2 * MAX_BODY + 100).map(lambda n: b"%d" % n) | field_values,
)
@example(raw=BODY, length=b"%d" % len(BODY))
def test_property_a_declared_length_never_lifts_the_bound(raw: bytes, length: bytes) -> None:
    """Whatever length is declared, a body is stored only when it is framed exactly as
    signed and within the bound; nothing over the bound is even read."""
    inbox = FakeInbox()
    ingest = make_app(inbox)
    headers = [*signed(raw), (b"content-length", length)]
    replies = run(
        front_exchange, ingest, request_bytes(body=raw, headers=headers, content_length=False)
    )
    exact = length == b"%d" % len(raw)
    if exact and len(raw) <= MAX_BODY:
        assert [r.status for r in replies] == [200]
        assert inbox.bodies == [raw]
    else:
        assert inbox.bodies == []
        assert all(r.status in (400, 401, 413) for r in replies)
    if length.isdigit() and int(length) > MAX_BODY:
        assert [r.status for r in replies] == [413]


@PROPERTY
@given(
    raw=st.binary(max_size=256),
    signed_ok=st.booleans(),
    fail=st.booleans(),
    extra=junk_headers,
    size=st.integers(1, 300),
)
def test_property_every_request_gets_exactly_one_known_answer(
    raw: bytes, signed_ok: bool, fail: bool, extra: list[tuple[bytes, bytes]], size: int
) -> None:
    inbox = FakeInbox(fail=ConnectionError("down") if fail else None, reject_fails=fail)
    headers = [*extra, *(signed(raw) if signed_ok else [])]
    ingest = make_app(inbox, max_body=size)
    replies = run(front_exchange, ingest, request_bytes(body=raw, headers=headers))
    assert len(replies) == 1
    (reply,) = replies
    assert reply.status in (200, 400, 401, 413, 503)
    if reply.body == b"malformed HTTP request":  # a junk header: refused before routing
        assert ingest.counters.by_status == {}
    else:
        assert ingest.counters.by_status == {reply.status: 1}
        assert reply.body == REASONS[reply.status]
    if reply.status == 200:
        assert signed_ok
        assert not fail
        assert len(raw) <= size
        assert inbox.bodies == [raw]
    else:
        assert inbox.bodies == []

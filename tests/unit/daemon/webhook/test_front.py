"""The webhook port's front door: binding, the POST path over HTTP/1.1 and the stop.

The tests here speak raw HTTP/1.1 over a real TCP socket to :func:`serve_front`, with
the daemon's real app (quart-trio on hypercorn) on its Unix socket behind it: what is
pinned is what a webhook POST's HTTP framing may do (the body bound and its 413, a
declared, understated, malformed or chunked length, which header is the signature) and
that the connection stays usable after every answer that is not a 413. That the rest of
the port reaches the app is pinned in test_front_relay.py; the property tests, on
in-memory streams, are in test_front_properties.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import trio

from daemon.webhook.front import bind_listeners, serve_front
from daemon.webhook.ingest import REASONS
from daemon.webhook.server import PortInUse
from tests.unit.daemon.webhook.clients import (
    MAX_BODY,
    PATH,
    FakeInbox,
    make_app,
    request_bytes,
    signature_of,
    signed,
)
from tests.unit.daemon.webhook.front_door import BODY, front_door


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


def _listener(*, reuseport: bool) -> socket.socket:
    """Another program's listening socket on a free port of 127.0.0.1."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("reuseport", [True, False])
@pytest.mark.parametrize("count", [1, 2])
def test_a_port_someone_listens_on_is_refused_even_with_so_reuseport(
    reuseport: bool, count: int
) -> None:
    """SO_REUSEPORT would let a second daemon join the first one's group and take part
    of its webhooks: the port must be refused whatever options its listener has."""
    with _listener(reuseport=reuseport) as other:
        listen = f"127.0.0.1:{other.getsockname()[1]}"
        with pytest.raises(PortInUse) as info:
            bind_listeners(listen, count)
    assert str(info.value) == (
        f"cannot listen on {listen} for the webhook endpoint: address already in use"
    )


@pytest.mark.parametrize("second", [1, 2])
def test_a_second_daemon_on_the_port_fails_instead_of_sharing_it(second: int) -> None:
    for first in (1, 3):
        mine = bind_listeners("127.0.0.1:0", first)
        try:
            port = mine[0].getsockname()[1]
            with pytest.raises(PortInUse, match="address already in use"):
                bind_listeners(f"127.0.0.1:{port}", second)
            with pytest.raises(PortInUse, match="address already in use"):
                bind_listeners(f"0.0.0.0:{port}", second)
        finally:
            for sock in mine:
                sock.close()
        again = bind_listeners(f"127.0.0.1:{port}", second)  # closed: free again
        for sock in again:
            sock.close()


def test_only_a_group_of_workers_shares_the_port_by_so_reuseport() -> None:
    """What SO_REUSEPORT is for (one accept queue per worker) is kept for the group."""
    group = bind_listeners("127.0.0.1:0", 2)
    (single,) = bind_listeners("127.0.0.1:0", 1)
    try:
        reuseport = [s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in group]
        assert all(reuseport)
        assert not single.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    finally:
        for sock in [*group, single]:
            sock.close()


def test_a_metad_binding_the_port_right_now_holds_it() -> None:
    """Between its probe and its group another metad holds a claim on the port: a
    second one probing then could otherwise find the port free and join the group."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as claim:
        claim.bind(f"\0metad-listen:{port}")
        with pytest.raises(PortInUse, match="address already in use"):
            bind_listeners(f"127.0.0.1:{port}", 2)
    for sock in bind_listeners(f"127.0.0.1:{port}", 2):
        sock.close()


@pytest.mark.parametrize(
    ("listen", "reason"),
    [
        ("10.255.255.1:18288", "cannot assign requested address (not an address of this host)"),
        ("nosuchhost.invalid:18288", "cannot resolve the host ("),
        ("127.0.0.1:99999", "port must be 0 to 65535"),
    ],
)
def test_every_reason_a_listener_fails_is_one_line_naming_the_address(
    listen: str, reason: str
) -> None:
    for count in (1, 2):
        with pytest.raises(PortInUse) as info:
            bind_listeners(listen, count)
        assert str(info.value).startswith(
            f"cannot listen on {listen} for the webhook endpoint: {reason}"
        )


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

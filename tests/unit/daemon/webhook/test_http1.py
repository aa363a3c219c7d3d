"""The front door's HTTP/1.1 server on in-memory streams: framing, limits; and the relay
to the daemon's app over a stand-in Unix-socket server (real sockets: test_front_relay.py)."""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from daemon.webhook.http1 import Request, Response, relay, reply, serve_connection

MAX = 1000


async def _exchange(
    raw: bytes | list[bytes],
    *,
    max_body: int = MAX,
    answer: Callable[[Request], Response] | None = None,
) -> tuple[bytes, list[Request], int]:
    """Feed ``raw`` (one or several writes) to a connection; what came back, the
    requests the handler saw, and how many 413s were counted."""
    client, server = trio.testing.memory_stream_pair()
    seen: list[Request] = []
    too_large = 0

    async def handle(request: Request) -> Response:
        seen.append(request)
        if answer is not None:
            return answer(request)
        return reply(200, b"OK", close=False)

    def count() -> None:
        nonlocal too_large
        too_large += 1

    received = b""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: serve_connection(server, handle, max_body=max_body, on_too_large=count)
        )
        for part in raw if isinstance(raw, list) else [raw]:
            await client.send_all(part)
            await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):
            while chunk := await client.receive_some(65536):
                received += chunk
        nursery.cancel_scope.cancel()
    return received, seen, too_large


def _post(body: bytes, *, extra: bytes = b"", path: bytes = b"/webhook") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n%s\r\n%s" % (
        path,
        len(body),
        extra,
        body,
    )


async def test_keep_alive_and_pipelined_requests_are_answered_in_order() -> None:
    raw = _post(b'{"a":1}') + _post(b'{"b":2}', path=b"/webhook?x=1")
    got, seen, _ = await _exchange([raw[:30], raw[30:], _post(b"{}")])
    assert got.count(b"HTTP/1.1 200 OK") == 3
    assert [r.body for r in seen] == [b'{"a":1}', b'{"b":2}', b"{}"]
    assert (seen[1].path, seen[1].query, seen[1].target) == (b"/webhook", b"x=1", b"/webhook?x=1")
    assert seen[0].header(b"host") == b"x"
    assert all(r.method == b"POST" and r.keep_alive for r in seen)


async def test_chunked_body_is_decoded() -> None:
    raw = (
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        b'3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
    )
    got, seen, _ = await _exchange(raw)
    assert [r.body for r in seen] == [b'{"a":1}']
    assert got.startswith(b"HTTP/1.1 200 OK")


async def test_expect_100_continue_is_answered_before_the_body() -> None:
    head = b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n"
    got, seen, _ = await _exchange([head, b"{}"])
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert [r.body for r in seen] == [b"{}"]


@pytest.mark.parametrize(
    "raw",
    [
        _post(b"x" * (MAX + 1)),  # declared length over the bound: refused unread
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        + (b"190\r\n" + b"x" * 400 + b"\r\n") * 3
        + b"0\r\n\r\n",  # no length, the stream itself goes over
    ],
    ids=["declared", "chunked"],
)
async def test_a_body_over_the_bound_is_413_and_the_connection_closes(raw: bytes) -> None:
    got, seen, too_large = await _exchange(raw + _post(b"{}"))
    assert got.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in got
    assert got.count(b"HTTP/1.1") == 1  # nothing after it is read
    assert (seen, too_large) == ([], 1)


@pytest.mark.parametrize(
    "raw",
    [b"NOT HTTP AT ALL\r\n\r\n", b"POST /webhook HTTP/1.1\r\ncontent-length: nope\r\n\r\n"],
)
async def test_malformed_requests_are_400_and_close(raw: bytes) -> None:
    got, seen, _ = await _exchange(raw)
    assert got.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in got
    assert seen == []


async def test_connection_close_from_either_side_ends_the_connection() -> None:
    asked = _post(b"{}", extra=b"connection: close\r\n") + _post(b"{}")
    got, seen, _ = await _exchange(asked)
    assert len(seen) == 1  # the client said close: the second request is not read
    got, seen, _ = await _exchange(
        _post(b"{}") + _post(b"{}"), answer=lambda r: reply(503, b"later", close=True)
    )
    assert got.count(b"HTTP/1.1 503") == 1
    assert len(seen) == 1
    http10 = b"POST /webhook HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}"
    _, seen, _ = await _exchange(http10 + http10)
    assert [r.keep_alive for r in seen] == [False]


async def test_a_client_that_goes_away_mid_request_is_no_error() -> None:
    client, server = trio.testing.memory_stream_pair()

    async def handle(request: Request) -> Response:  # pragma: no cover - never reached
        raise AssertionError("no complete request")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: serve_connection(server, handle, max_body=MAX))
        await client.send_all(b"POST /webhook HTTP/1.1\r\ncontent-length: 10\r\n\r\n{")
        await client.aclose()


# --- relaying to the daemon's app --------------------------------------------------------------


async def _upstream(
    path: str,
    answer: bytes,
    seen: list[bytes],
    *,
    hold: bool = True,
    task_status: trio.TaskStatus[None],
) -> None:
    """A Unix-socket server that records each request's head and answers ``answer``,
    then holds the connection open (as hypercorn does) or, with ``hold=False``, closes."""
    with trio.socket.socket(trio.socket.AF_UNIX) as sock:
        await sock.bind(path)
        sock.listen()
        task_status.started()
        while True:
            conn, _ = await sock.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += await conn.recv(65536)
                seen.append(data)
                if answer:
                    await conn.send(answer)
                if hold:
                    await trio.sleep_forever()


@pytest.fixture
def socket_path() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="metad-relay-"), "app.sock")


def _get(
    target: bytes = b"/healthz", *, method: bytes = b"GET", keep_alive: bool = True
) -> Request:
    path, _, query = target.partition(b"?")
    return Request(method, path, query, target, [(b"host", b"x")], b"", keep_alive)


async def _relayed(
    socket_path: str,
    answer: bytes,
    request: Request | None = None,
    *,
    hold: bool = True,
    **kw: float,
) -> tuple[Response, list[bytes]]:
    seen: list[bytes] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: _upstream(
                socket_path, answer, seen, hold=hold, task_status=task_status
            )
        )
        with trio.fail_after(5):
            response = await relay(request or _get(), socket_path, **kw)  # type: ignore[arg-type]
        nursery.cancel_scope.cancel()
    return response, seen


async def test_relay_forwards_the_request_and_reframes_the_answer(socket_path: str) -> None:
    request = Request(
        method=b"GET",
        path=b"/webhook",
        query=b"hub.challenge=8841",
        target=b"/webhook?hub.challenge=8841",
        headers=[
            (b"host", b"x"),
            (b"connection", b"keep-alive, x-hop"),
            (b"x-hop", b"mine"),
            (b"upgrade", b"h2c"),
            (b"x-a", b"1"),
        ],
        body=b"",
        keep_alive=True,
    )
    answer = b"HTTP/1.1 200 \r\ncontent-length: 4\r\ndate: today\r\n\r\n8841"
    response, seen = await _relayed(socket_path, answer, request)
    assert not response.close  # the client's connection goes on
    assert response.data == b"HTTP/1.1 200 OK\r\ndate: today\r\ncontent-length: 4\r\n\r\n8841"
    sent = seen[0]
    assert sent.startswith(b"GET /webhook?hub.challenge=8841 HTTP/1.1\r\n")
    assert b"x-a: 1\r\n" in sent
    for hop in (b"keep-alive", b"x-hop", b"upgrade"):  # hop-by-hop headers are the relay's own
        assert hop not in sent
    assert sent.endswith(b"content-length: 0\r\nconnection: close\r\n\r\n")


async def test_relay_says_close_when_the_client_asked_to(socket_path: str) -> None:
    answer = b"HTTP/1.1 200 \r\ncontent-length: 2\r\n\r\nok"
    response, _ = await _relayed(socket_path, answer, _get(keep_alive=False))
    assert response.close
    assert response.data == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"


@pytest.mark.parametrize(
    ("answer", "hold", "method", "expected"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            True,
            b"GET",
            b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\nabcde",
            id="chunked",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nabc",
            False,
            b"GET",
            b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 3\r\n\r\nabc",
            id="until-close",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Done\r\ncontent-length: 2\r\n\r\nok",
            True,
            b"POST",
            b"HTTP/1.1 201 Done\r\ncontent-length: 2\r\n\r\nok",
            id="interim-first",
        ),
        pytest.param(
            b"HTTP/1.1 204 \r\ndate: today\r\n\r\n",
            True,
            b"POST",
            b"HTTP/1.1 204 No Content\r\ndate: today\r\n\r\n",
            id="no-content",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n",
            True,
            b"HEAD",
            b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n",
            id="head",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nconnection: x-private\r\nx-private: 1\r\nx-a: 1\r\n"
            b"content-length: 0\r\n\r\n",
            True,
            b"GET",
            b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n",
            id="connection-named",
        ),
    ],
)
async def test_every_complete_answer_is_reframed_with_a_length(
    socket_path: str, answer: bytes, hold: bool, method: bytes, expected: bytes
) -> None:
    """Whatever framing the upstream chose, the client gets one it can keep reading
    after: a length (or none, where no body may follow), never a close."""
    response, _ = await _relayed(socket_path, answer, _get(method=method), hold=hold)
    assert (response.data, response.close) == (expected, False)


@pytest.mark.parametrize(
    ("answer", "hold", "reason"),
    [
        pytest.param(b"", False, b"daemon gave no complete answer", id="closes-unanswered"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
            False,
            b"daemon gave no complete answer",
            id="closes-early",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
            False,
            b"daemon gave no complete answer",
            id="closes-mid-chunks",
        ),
        pytest.param(b"SMTP ready\r\n\r\n", True, b"daemon gave a malformed answer", id="garbage"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n" + b"x" * 5000,
            True,
            b"daemon's answer too large",
            id="too-large",
        ),
        pytest.param(b"", True, b"daemon unavailable", id="never-answers"),
    ],
)
@pytest.mark.parametrize("keep_alive", [True, False])
async def test_an_upstream_that_fails_is_a_framed_502(
    socket_path: str, answer: bytes, hold: bool, reason: bytes, keep_alive: bool
) -> None:
    """The client's request was read whole, so a 502 leaves its connection in step: it
    stays open unless the client asked to close."""
    response, _ = await _relayed(
        socket_path,
        answer,
        _get(keep_alive=keep_alive),
        hold=hold,
        timeout_s=0.3,
        max_answer_bytes=4096,
    )
    assert response.data.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert response.data.endswith(b"\r\n\r\n" + reason)
    assert response.close is not keep_alive
    assert (b"connection: close" in response.data) is not keep_alive


async def test_relay_without_a_daemon_is_502(tmp_path: Path) -> None:
    response = await relay(_get(), str(tmp_path / "nobody.sock"))
    assert response.data.startswith(b"HTTP/1.1 502 ")
    assert not response.close


async def test_an_idle_connection_is_closed_after_the_timeout_and_not_before() -> None:
    client, server = trio.testing.memory_stream_pair()

    async def handle(request: Request) -> Response:
        return reply(200, b"OK", close=False)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: serve_connection(server, handle, max_body=MAX, idle_timeout_s=0.3)
        )
        for _ in range(3):  # each request restarts the idle time
            await trio.sleep(0.2)
            await client.send_all(_post(b"{}"))
            assert (await client.receive_some(65536)).startswith(b"HTTP/1.1 200 OK")
        started = trio.current_time()
        with trio.fail_after(2):
            assert await client.receive_some(65536) == b""  # closed by the server
        assert trio.current_time() - started >= 0.25


async def test_a_request_without_host_gets_one_upstream(socket_path: str) -> None:
    """HTTP/1.0 allows a request without Host; the relay speaks HTTP/1.1 upstream."""
    answer = b"HTTP/1.1 200 \r\ncontent-length: 2\r\n\r\nok"
    request = Request(b"GET", b"/healthz", b"", b"/healthz", [], b"", False)
    response, seen = await _relayed(socket_path, answer, request)
    assert b"\r\nhost: localhost\r\n" in seen[0]
    assert response.close


async def _cycles_left_by(work: Callable[[], Awaitable[object]]) -> list[object]:
    """This module's objects that only the cycle collector would free after ``work``."""
    gc.collect()
    gc.disable()
    try:
        await work()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return [o for o in gc.garbage if type(o).__module__ == "daemon.webhook.http1"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_a_finished_connection_leaves_no_cycle_for_the_collector() -> None:
    """The daemon makes full collections rare (daemon.gctune): a cycle per connection
    kept every closed connection's last body alive until one, and its RSS grew."""
    assert await _cycles_left_by(lambda: _exchange([_post(b'{"a":1}'), _post(b'{"b":2}')])) == []


async def test_a_relayed_answer_leaves_no_cycle(socket_path: str) -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    assert await _cycles_left_by(lambda: _relayed(socket_path, answer)) == []

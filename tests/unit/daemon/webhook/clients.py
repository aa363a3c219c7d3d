"""Test doubles and clients for the webhook port: a recording inbox, the ingest object,
and three ways to talk to what serves the port.

- :func:`asgi_call`: one exchange with an ASGI app (the app behind the front door, the
  Flows endpoint), driven the way hypercorn would.
- :func:`front_call`: one request to the front door's real per-connection server
  (:func:`daemon.webhook.front.connection_server`) on an in-memory stream: the same
  HTTP/1.1 framing, body bound and routing as production, cheap enough for hypothesis.
- :class:`Client`: a raw HTTP/1.1 connection over a real socket, for framing, keep-alive
  and close (tests/unit/daemon/webhook/test_front.py and test_front_relay.py).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httptools
import trio
import trio.testing

from daemon.webhook.front import connection_server
from daemon.webhook.ingest import WebhookIngest
from daemon.webhook.signature import sign

SECRET = "test-app-secret"
TOKEN = "test-verify-token"
PATH = "/webhook"
MAX_BODY = 4096


@dataclass
class FakeInbox:
    """Records what the endpoint stores; ``fail`` makes ``append`` raise like a dead store."""

    bodies: list[bytes] = field(default_factory=list)
    rejected: int = 0
    fail: BaseException | None = None
    reject_fails: bool = False
    woken: int = 0
    """How often the endpoint called ``on_stored`` (the processor's wake-up)."""

    def wake(self) -> None:
        self.woken += 1

    async def append(self, body: bytes) -> None:
        await trio.lowlevel.checkpoint()
        if self.fail is not None:
            raise self.fail
        self.bodies.append(body)

    async def reject(self) -> None:
        await trio.lowlevel.checkpoint()
        if self.reject_fails:
            raise ConnectionError("store down")
        self.rejected += 1


def make_app(inbox: FakeInbox | None = None, *, max_body: int = MAX_BODY) -> WebhookIngest:
    """The ingest object as the daemon builds it, on a recording inbox."""
    inbox = inbox if inbox is not None else FakeInbox()
    return WebhookIngest(
        path=PATH,
        app_secret=SECRET.encode(),
        max_body_bytes=max_body,
        inbox=inbox,
        on_stored=inbox.wake,
    )


def signature_of(body: bytes, secret: str = SECRET) -> str:
    return sign(secret.encode(), body)


def signed(body: bytes, secret: str = SECRET) -> list[tuple[bytes, bytes]]:
    return [(b"x-hub-signature-256", signature_of(body, secret).encode())]


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]
    """Names lower-cased, in the order received."""

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


async def asgi_call(
    app: Any,
    method: str = "POST",
    path: str = PATH,
    *,
    body: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    query: bytes = b"",
) -> Reply:
    """One HTTP exchange with an ASGI app, the way hypercorn would drive it."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    all_headers = [(b"host", b"metad.test"), *headers, (b"content-length", b"%d" % len(body))]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await trio.sleep_forever()  # the client waits for the answer; the app ends this
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": all_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "extensions": {},
    }
    with trio.fail_after(5):
        await app(scope, receive, send)
    start = [m for m in sent if m["type"] == "http.response.start"]
    assert len(start) == 1, sent
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start[0]["status"], text, list(start[0]["headers"]))


def request_bytes(
    method: str = "POST",
    path: str = PATH,
    *,
    body: bytes = b"",
    chunks: Sequence[bytes] | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
    query: bytes = b"",
    content_length: bool = True,
) -> bytes:
    """An HTTP/1.1 request as a client writes it: ``chunks`` sends the body with
    ``transfer-encoding: chunked`` (no length), else a ``content-length`` unless
    ``content_length`` is False (the caller's ``headers`` then frame it, or nothing)."""
    target = path.encode() + (b"?" + query if query else b"")
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target), b"host: metad.test"]
    lines += [b"%s: %s" % (name, value) for name, value in headers]
    if chunks is not None:
        lines.append(b"transfer-encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    else:
        if content_length:
            lines.append(b"content-length: %d" % len(body))
        payload = body
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


class Responses:
    """Splits the bytes a server writes into complete answers (httptools' response
    parser, which the front door's relay uses too)."""

    def __init__(self) -> None:
        self.done: deque[Reply] = deque()
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._parser = httptools.HttpResponseParser(self)

    def feed(self, data: bytes | bytearray) -> None:
        self._parser.feed_data(data)

    def on_message_begin(self) -> None:
        self._headers, self._body = [], []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        self.done.append(Reply(status, b"".join(self._body), self._headers))


async def front_call(
    ingest: WebhookIngest,
    method: str = "POST",
    path: str = PATH,
    *,
    upstream: str = "/nonexistent/webhook-app.sock",
    **request: Any,
) -> Reply:
    """One request to the front door's per-connection server on an in-memory stream;
    its answer (a relayed request goes to ``upstream``: none there is a 502)."""
    raw = request_bytes(method, path, **request)
    client, server = trio.testing.memory_stream_pair()
    responses = Responses()

    async def send() -> None:
        with contextlib.suppress(trio.BrokenResourceError):  # answered early and closed
            await client.send_all(raw)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection_server(ingest, upstream), server)
        nursery.start_soon(send)
        with trio.fail_after(5):
            while not responses.done:
                data = await client.receive_some(65536)
                assert data, "the front door closed without an answer"
                responses.feed(data)
        nursery.cancel_scope.cancel()
    return responses.done.popleft()


async def call(app: Any, method: str = "POST", path: str = PATH, **request: Any) -> Reply:
    """One exchange with what serves the webhook port: a :class:`WebhookIngest` is
    reached through the front door (:func:`front_call`), anything else is an ASGI app.

    Kept under this name because tests outside this directory call it
    (tests/reliability/test_regressions.py, tests/unit/daemon/flows/test_endpoint.py).
    """
    if isinstance(app, WebhookIngest):
        return await front_call(app, method, path, **request)
    return await asgi_call(app, method, path, **request)


class Client:
    """One raw HTTP/1.1 client connection over a real socket."""

    def __init__(self, stream: trio.SocketStream) -> None:  # TCP, or the app's Unix socket
        self.stream = stream
        self.responses = Responses()

    @classmethod
    async def open(cls, port: int) -> Client:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def reply(self, timeout: float = 5.0) -> Reply:
        """The next complete answer; fails if the server closes first."""
        with trio.fail_after(timeout):
            while not self.responses.done:
                data = await self.stream.receive_some(65536)
                assert data, "the server closed the connection without an answer"
                self.responses.feed(data)
        return self.responses.done.popleft()

    async def request(self, method: str = "POST", path: str = PATH, **request: Any) -> Reply:
        await self.send(request_bytes(method, path, **request))
        return await self.reply()

    async def closed_by_server(self, timeout: float = 2.0) -> bool:
        """True once the server has closed its end (EOF or reset) with nothing more sent."""
        with trio.move_on_after(timeout):
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return True  # reset: the server closed with our bytes unread
            assert not data, f"unexpected bytes: {data[:80]!r}"
            return True
        return False

    async def aclose(self) -> None:
        await self.stream.aclose()


async def front_exchange(ingest: WebhookIngest, raw: bytes) -> list[Reply]:
    """Write ``raw`` to the front door's per-connection server on an in-memory stream,
    then end the client's side; every complete answer it wrote before closing."""
    client, server = trio.testing.memory_stream_pair()
    responses = Responses()

    async def send() -> None:
        with contextlib.suppress(trio.BrokenResourceError):  # answered early and closed
            await client.send_all(raw)
            await trio.testing.wait_all_tasks_blocked()
            await client.send_stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection_server(ingest, "/nonexistent/webhook-app.sock"), server)
        nursery.start_soon(send)
        with trio.fail_after(5):
            while data := await client.receive_some(65536):
                responses.feed(data)
    return list(responses.done)


def _finite(text: str) -> float:
    """A JSON number must fit a double: ``1e400`` is refused, not read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of a double's range: {text[:20]}")
    return value


def _finite_int(text: str) -> int:
    _finite(text)  # metad's parser reads a large integer as a double
    return int(text)


def oracle(raw: bytes) -> int:
    """What a correctly signed body of at most the bound must be answered: 200 for a JSON
    object, else 400 (the standard library's parser as the reference). A number beyond a
    double's range (the standard library reads ``1e400`` as infinity, which JSON has no
    value for) makes the body invalid, as for metad's parser: Meta sends none."""
    try:
        doc = json.loads(raw, parse_float=_finite, parse_int=_finite_int)
    except (ValueError, RecursionError):
        return 400
    return 200 if isinstance(doc, dict) else 400

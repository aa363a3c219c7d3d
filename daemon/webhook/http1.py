"""A small HTTP/1.1 server for one job: taking webhook POSTs as cheaply as Python can.

Why not hypercorn here: on its trio worker a bare ASGI handler peaks at ~3.5k POSTs/s on
this machine, where uvicorn with the httptools parser does ~7k (stack-notes §3). The
webhook port's front door (:mod:`daemon.webhook.front`, in the daemon or in its ingest
worker processes) only ever answers a handful of fixed responses, so it speaks HTTP/1.1
itself: the C parser ``httptools`` (the one
uvicorn uses) turns bytes into requests, and each request costs one ``receive_some``
and one ``send_all`` on the trio stream. Keep-alive and pipelining are kept, chunked
bodies are decoded by the parser, ``Expect: 100-continue`` is answered, bodies are
bounded (413 and close), anything unparsable gets 400 and close.

Everything that is not the hot path is relayed to the daemon's own ASGI server
(:func:`relay`), so this module never grows into a web framework; the client's
connection stays open across relayed requests as across webhook POSTs.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httptools
import trio

__all__ = ["Handler", "Request", "Response", "relay", "reply", "serve_connection"]

log = logging.getLogger("metad.webhook")

_STATUS_TEXT = {
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Payload Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}


@dataclass(slots=True)
class Request:
    method: bytes
    path: bytes
    query: bytes
    target: bytes
    """The request target as sent (path and query), for relaying."""
    headers: list[tuple[bytes, bytes]]
    """Names lower-cased, in the order received."""
    body: bytes
    keep_alive: bool

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Response:
    """Bytes ready to write, and whether the connection ends after them."""

    data: bytes
    close: bool = False


def reply(
    status: int, body: bytes, *, content_type: bytes = b"text/plain; charset=utf-8", close: bool
) -> Response:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n" % (
        status,
        _STATUS_TEXT.get(status, b"Status"),
        content_type,
        len(body),
    )
    if close:
        head += b"connection: close\r\n"
    return Response(head + b"\r\n" + body, close)


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = reply(400, b"malformed HTTP request", close=True)
_TOO_LARGE = reply(413, b"body too large", close=True)


class _TooLarge(Exception):
    pass


@dataclass(slots=True)
class _Collector:
    """httptools' callback object: assembles complete requests in ``done``."""

    max_body: int
    parser: httptools.HttpRequestParser | None = None
    url: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    expect_continue: bool = False
    too_large: bool = False
    done: deque[Request] = field(default_factory=deque)

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.chunks = []
        self.size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self.headers.append((name, value))
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return  # the parser itself rejects a malformed length
            if length > self.max_body:
                self.too_large = True
                raise _TooLarge
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self.too_large = True
            raise _TooLarge
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        assert parser is not None
        url = httptools.parse_url(self.url)
        self.done.append(
            Request(
                method=parser.get_method(),
                path=url.path,
                query=url.query or b"",
                target=self.url,
                headers=self.headers,
                body=b"".join(self.chunks),
                keep_alive=parser.should_keep_alive(),
            )
        )
        self.chunks = []  # the body lives on in the request only
        self.expect_continue = False


Handler = Callable[[Request], Awaitable[Response]]


async def serve_connection(
    stream: trio.abc.Stream,
    handle: Handler,
    *,
    max_body: int,
    idle_timeout_s: float = 75.0,
    on_too_large: Callable[[], None] = lambda: None,
) -> None:
    """Serve one client connection until it closes, idles out or must be closed."""
    collector = _Collector(max_body)
    parser = httptools.HttpRequestParser(collector)
    collector.parser = parser
    # One scope for the connection's life, its deadline pushed on after every read:
    # cheaper than a fresh timeout scope per request on the hot path.
    idle = trio.CancelScope()
    try:
        with idle:
            await _serve(stream, handle, collector, parser, idle, idle_timeout_s, on_too_large)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return  # the client went away; nothing to answer
    finally:
        # The parser holds the collector's bound methods and the collector the parser:
        # left as a cycle, every closed connection (with its last headers and body)
        # waited for a full collection, which the daemon's GC settings make rare, and
        # the daemon's RSS grew by tens of MiB over 100,000 webhook connections.
        collector.parser = None
        await trio.aclose_forcefully(stream)


async def _serve(
    stream: trio.abc.Stream,
    handle: Handler,
    collector: _Collector,
    parser: httptools.HttpRequestParser,
    idle: trio.CancelScope,
    idle_timeout_s: float,
    on_too_large: Callable[[], None],
) -> None:
    """The connection's loop; returns when it must close (cancelled by ``idle``)."""
    while True:
        idle.deadline = trio.current_time() + idle_timeout_s
        data = bytes(await stream.receive_some(65536))
        if not data:  # closed by the client
            return
        malformed = False
        try:
            parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if not collector.too_large:
                raise
            on_too_large()
            await stream.send_all(_TOO_LARGE.data)
            return
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # Requests completed before the bad bytes are still answered (llhttp
            # also lands here for bytes after a request that said close).
            malformed = True
        if collector.expect_continue and not collector.done:
            collector.expect_continue = False
            await stream.send_all(_CONTINUE)
        while collector.done:
            request = collector.done.popleft()
            response = await handle(request)
            await stream.send_all(response.data)
            if response.close or not request.keep_alive:
                return
        if malformed:
            await stream.send_all(_BAD_REQUEST.data)
            return


_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"content-length",
        b"expect",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
"""Headers about one hop's framing and connection: each hop sets its own (RFC 9110 §7.6.1)."""

MAX_ANSWER_BYTES = 1 << 20
"""The most of one upstream answer the relay buffers (head and body). The app's answers
(a handshake's challenge, a sealed Flows screen, health) are a few kilobytes; a larger
one is a fault upstream, answered 502 rather than held in the daemon's memory."""

_NO_BODY = frozenset({204, 304})


def _hop_headers(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The standard hop-by-hop names and those a ``Connection`` header lists."""
    named = [
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    ]
    return _HOP_BY_HOP.union(named) if named else _HOP_BY_HOP


class _AnswerTooLarge(Exception):
    pass


@dataclass(slots=True)
class _Answer:
    """httptools' callback object for the upstream's answer: its parts, and where it ends."""

    head_only: bool
    """The request was HEAD: the answer ends with its headers, whatever length they say."""
    parser: httptools.HttpResponseParser | None = None
    status: int = 0
    reason: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    framed: bool = False
    """It declared a length or chunked framing, so it ends by itself, not by a close."""
    headers_done: bool = False
    complete: bool = False

    def on_message_begin(self) -> None:  # again after an interim (1xx) answer
        self.reason = b""
        self.headers = []
        self.chunks = []
        self.framed = False
        self.headers_done = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self.headers.append((name, value))
        if name in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.status = self.parser.get_status_code()
        self.headers_done = True
        if self.head_only and self.status >= 200:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.status >= 200:  # an interim answer is not the answer: the next one is
            self.complete = True

    def framed_for_client(self, *, close: bool) -> bytes:
        """The answer re-framed for the client: the upstream's own headers, a
        ``content-length`` of the (de-chunked) body, ``connection: close`` if closing."""
        status = self.status
        reason = self.reason or _STATUS_TEXT.get(status, b"")
        drop = _hop_headers(self.headers)
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        lines += [b"%s: %s\r\n" % kv for kv in self.headers if kv[0] not in drop]
        body = b"".join(self.chunks)
        if self.head_only or status in _NO_BODY:
            # No body follows; a length, if any, describes the one a GET would get.
            lines += [
                b"content-length: %s\r\n" % v for k, v in self.headers if k == b"content-length"
            ]
            body = b""
        else:
            lines.append(b"content-length: %d\r\n" % len(body))
        if close:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines) + body


async def relay(
    request: Request,
    upstream: str,
    *,
    timeout_s: float = 30.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> Response:
    """Forward ``request`` to the ASGI server on the Unix socket ``upstream``; its answer,
    ready for the client's connection, which stays open unless the client asked to close.

    For the requests that are not webhook POSTs (the verification handshake, Flows,
    health). Why keep the client's connection: Meta calls the Flows endpoint once per
    screen, and a new connection per call would cost a TCP (behind TLS, a TLS) handshake
    each time. The client's request was read whole before it is relayed, so every
    outcome leaves the connection in step, a 502 included: the upstream being down,
    closing early, answering malformed or more than ``max_answer_bytes``, or not within
    ``timeout_s``.

    Upstream, one Unix-socket connection per request, ``connection: close``: the body was
    already read and de-chunked, so it goes on with a plain length. The answer is read
    until the response parser says it is complete (hypercorn does not close its end
    after answering a ``connection: close`` request over a Unix socket), or until the
    upstream closes when it declared no length; then it is re-framed with a length, so
    the client's connection needs no close to delimit it.
    """
    close = not request.keep_alive
    drop = _hop_headers(request.headers)
    head = [b"%s %s HTTP/1.1\r\n" % (request.method, request.target)]
    head += [b"%s: %s\r\n" % kv for kv in request.headers if kv[0] not in drop]
    if request.header(b"host") is None:  # HTTP/1.0 may omit it; HTTP/1.1 upstream needs one
        head.append(b"host: localhost\r\n")
    head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(request.body))
    answer = _Answer(head_only=request.method == b"HEAD")
    parser = httptools.HttpResponseParser(answer)
    answer.parser = parser
    received = 0
    try:
        with trio.fail_after(timeout_s):
            stream = await trio.open_unix_socket(upstream)
            async with stream:
                await stream.send_all(b"".join(head) + request.body)
                while not answer.complete:
                    chunk = bytes(await stream.receive_some(65536))
                    if not chunk:
                        if answer.headers_done and not answer.framed:
                            answer.complete = True  # its end is the close (RFC 9112 §6.3)
                        break
                    received += len(chunk)
                    if received > max_answer_bytes:
                        raise _AnswerTooLarge
                    parser.feed_data(chunk)
    except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
        log.warning("relay of %s %r to the daemon failed: %s", request.method, request.path, exc)
        return reply(502, b"daemon unavailable", close=close)
    except _AnswerTooLarge:
        log.warning("the daemon's answer to %r is over %d bytes", request.path, max_answer_bytes)
        return reply(502, b"daemon's answer too large", close=close)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
        log.warning("the daemon's answer to %r did not parse: %s", request.path, exc)
        return reply(502, b"daemon gave a malformed answer", close=close)
    finally:
        answer.parser = None  # no cycle to wait for the collector (see serve_connection)
    if not answer.complete:
        log.warning("the daemon closed before answering %r completely", request.path)
        return reply(502, b"daemon gave no complete answer", close=close)
    return Response(answer.framed_for_client(close=close), close)

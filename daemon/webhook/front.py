"""The webhook port's front door: webhook POSTs are taken here, the rest is relayed.

Why not hypercorn on the public port: at campaign rate Meta posts a few hundred status
webhooks a second, and hypercorn's trio worker with quart-trio spent about half a
millisecond of the daemon's CPU on each, a tenth of all its CPU (bench/RESULTS.md,
"Campaign throughput work, 2026-11-26"). The small HTTP/1.1 server of
:mod:`daemon.webhook.http1` takes the same POST for a fraction of that, and it is what
the ingest worker processes already ran: so the hot path is one piece of code whether
the daemon takes the POSTs itself or its workers do. Everything else on the port (the
GET handshake, Flows, health, metrics) is the quart-trio app on hypercorn, reached over
the Unix socket ``upstream`` (:func:`~daemon.webhook.http1.relay`).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Awaitable, Callable

import trio

from daemon.webhook.http1 import Handler, Request, Response, relay, reply, serve_connection
from daemon.webhook.ingest import REASONS, WebhookIngest
from daemon.webhook.server import PortInUse

__all__ = [
    "GRACE_S",
    "bind_listeners",
    "connection_server",
    "handler",
    "serve_front",
    "serve_listener",
]

GRACE_S = 1.0
"""After a stop: how long open connections may finish the request they are in (as
hypercorn's ``graceful_timeout``: Meta keeps idle connections open)."""

Observe = Callable[[int, float], None]
"""Told (status, seconds) after each webhook POST: the request-latency metric."""


def bind_listeners(
    listen: str, count: int, *, backlog: int = 1024, inheritable: bool = True
) -> list[socket.socket]:
    """``count`` listening TCP sockets on one ``HOST:PORT`` (``SO_REUSEPORT``), one per
    worker, inheritable (for worker processes) unless told otherwise.

    Why one each rather than one shared: with a shared accept queue the busiest worker
    kept winning the accepts (measured: one worker served ~5x the connections of the
    other); the kernel spreads connections over ``SO_REUSEPORT`` sockets evenly. The
    daemon keeps every socket open, so a restarting worker's connections wait in its
    backlog instead of being refused.
    """
    host, _, port = listen.rpartition(":")
    family, kind, proto, _, address = socket.getaddrinfo(
        host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.set_inheritable(inheritable)
            address = sock.getsockname()  # a port of 0 resolves once, for all
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(listen, "webhook endpoint") from None
        raise
    return sockets


def handler(ingest: WebhookIngest, upstream: str, observe: Observe | None = None) -> Handler:
    """The port's whole routing: webhook POSTs here, the rest to the app on ``upstream``."""
    path = ingest.path.encode()
    answers: dict[int, Response] = {
        status: reply(status, text, close=False) for status, text in REASONS.items()
    }
    by_status = ingest.counters.by_status

    async def handle(request: Request) -> Response:
        if request.method == b"POST" and request.path == path:
            started = trio.current_time() if observe is not None else 0.0
            signature = request.header(b"x-hub-signature-256")
            status = await ingest.take(
                request.body, signature.decode("latin-1") if signature is not None else None
            )
            by_status[status] = by_status.get(status, 0) + 1
            if observe is not None:
                observe(status, trio.current_time() - started)
            return answers[status]
        return await relay(request, upstream)

    return handle


def _too_large_counter(ingest: WebhookIngest) -> Callable[[], None]:
    """What a 413 (a body over the bound, answered by the HTTP layer) counts."""
    counters = ingest.counters

    def count() -> None:
        counters.too_large += 1
        counters.by_status[413] = counters.by_status.get(413, 0) + 1

    return count


def connection_server(
    ingest: WebhookIngest, upstream: str, observe: Observe | None = None
) -> Callable[[trio.abc.Stream], Awaitable[None]]:
    """What serves one client connection of the port, until it closes: the HTTP/1.1
    layer bounding bodies to ``ingest.max_body_bytes`` (a 413 is counted in
    ``ingest.counters``), then :func:`handler`. Tests drive it on in-memory streams."""
    handle = handler(ingest, upstream, observe)
    too_large = _too_large_counter(ingest)
    max_body = ingest.max_body_bytes

    async def serve(stream: trio.abc.Stream) -> None:
        await serve_connection(stream, handle, max_body=max_body, on_too_large=too_large)

    return serve


async def serve_front(
    listen: str,
    ingest: WebhookIngest,
    upstream: str,
    *,
    shutdown: trio.Event,
    observe: Observe | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Take the port ``listen`` in this process until ``shutdown``; started with the
    base URL actually bound (a port of 0 resolves to a free one)."""
    (sock,) = bind_listeners(listen, 1, inheritable=False)
    listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
    host, port = sock.getsockname()[:2]
    task_status.started(f"http://{host}:{port}")  # listening already: clients queue
    await serve_listener(listener, ingest, upstream, shutdown=shutdown, observe=observe)


async def serve_listener(
    listener: trio.SocketListener,
    ingest: WebhookIngest,
    upstream: str,
    *,
    shutdown: trio.Event,
    observe: Observe | None = None,
) -> None:
    """Serve ``listener`` until ``shutdown``, then give the open connections
    :data:`GRACE_S` to finish the request they are in. The ingest workers run this too."""
    serve = connection_server(ingest, upstream, observe)

    async def stop(accepting: trio.CancelScope) -> None:
        await shutdown.wait()
        accepting.cancel()

    async with trio.open_nursery() as connections:
        with trio.CancelScope() as accepting:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop, accepting)
                await trio.serve_listeners(serve, [listener], handler_nursery=connections)
        connections.cancel_scope.deadline = trio.current_time() + GRACE_S

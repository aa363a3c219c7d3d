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

import contextlib
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import trio

from daemon.webhook.http1 import Handler, Request, Response, relay, reply, serve_connection
from daemon.webhook.ingest import REASONS, WebhookIngest
from daemon.webhook.server import listen_errors, split_listen

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

_WHAT = "webhook endpoint"

Observe = Callable[[int, float], None]
"""Told (status, seconds) after each webhook POST: the request-latency metric."""


def bind_listeners(
    listen: str, count: int, *, backlog: int = 1024, inheritable: bool = True
) -> list[socket.socket]:
    """``count`` listening TCP sockets on one ``HOST:PORT``, one per worker, inheritable
    (for worker processes) unless told otherwise. Raises
    :class:`~daemon.webhook.server.PortInUse` if the address cannot be listened on, also
    when another program, or another metad, listens there.

    Why one each rather than one shared: with a shared accept queue the busiest worker
    kept winning the accepts (measured: one worker served ~5x the connections of the
    other); the kernel spreads connections over ``SO_REUSEPORT`` sockets evenly. The
    daemon keeps every socket open, so a restarting worker's connections wait in its
    backlog instead of being refused.

    Why the port is still this daemon's alone: ``SO_REUSEPORT`` lets any process of the
    same user join the group, and a second metad started on the port took part of the
    first one's webhooks into its own database. So a single socket is bound without it
    (one needs no group), and a group only after :func:`_probe` proved the port free.
    """
    host, port = split_listen(listen, _WHAT)
    with listen_errors(listen, _WHAT):
        family, address = _resolve(host, port)
        if count == 1:
            sockets = [_listening(family, address, backlog, reuseport=False)]
        else:
            with _claim(port):
                sockets = _group(family, _probe(family, address), count, backlog)
    for sock in sockets:
        sock.set_inheritable(inheritable)
    return sockets


def _resolve(host: str, port: int) -> tuple[socket.AddressFamily, Any]:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, address


def _bound(family: socket.AddressFamily, address: Any, *, reuseport: bool) -> socket.socket:
    """A TCP socket bound to ``address``. ``SO_REUSEADDR`` always: the connections a
    stopped daemon left in TIME_WAIT must not keep the next one off its port."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _listening(
    family: socket.AddressFamily, address: Any, backlog: int, *, reuseport: bool
) -> socket.socket:
    sock = _bound(family, address, reuseport=reuseport)
    try:
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _probe(family: socket.AddressFamily, address: Any) -> Any:
    """Prove that nothing listens on ``address``; the address, a port of 0 resolved.

    A bind without ``SO_REUSEPORT`` fails while any socket listens there, a reuseport
    group of the same user included, which a reuseport bind would join. The probe is
    closed before the group is bound (a socket without the option would keep every
    reuseport bind off the port) and never listens (no client is accepted and reset).
    """
    with _bound(family, address, reuseport=False) as probe:
        return probe.getsockname()


def _group(
    family: socket.AddressFamily, address: Any, count: int, backlog: int
) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(_listening(family, address, backlog, reuseport=True))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@contextlib.contextmanager
def _claim(port: int) -> Iterator[None]:
    """Hold ``port`` among this host's metads from the probe until the group listens.

    Why: two metads starting together could each probe the port free before either
    group listened, and then share it. The claim is an abstract Unix socket named after
    the port: binding it is exclusive and it goes with the process. Held by another
    metad, it is binding the port right now: "address already in use". A port of 0
    needs no claim (each probe gets a port of its own).
    """
    if port == 0 or not sys.platform.startswith("linux"):
        yield
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as claim:
        claim.bind(f"\0metad-listen:{port}")
        yield


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

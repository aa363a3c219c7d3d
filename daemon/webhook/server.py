"""Serve an ASGI app with hypercorn's trio worker inside the daemon's nursery, and say in
one line why a listener could not be opened.

Why inside the nursery: the webhook endpoint lives and dies with the daemon; shutdown
is the daemon's shutdown. ``graceful_timeout`` is short because a keep-alive client
(Meta keeps connections open) would otherwise hold shutdown for hypercorn's default
5 s (stack-notes §3).

Why :class:`PortInUse` lives here and every listener raises it (the webhook front door,
its ingest workers' sockets, the sandbox simulator, the metrics endpoint): a bare
``[Errno 99] Cannot assign requested address`` does not say which of the daemon's
addresses is wrong, and the CLI can print one line for one exception class.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Iterator
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

__all__ = ["PortInUse", "listen_errors", "prebind", "serve_asgi", "split_listen"]

log = logging.getLogger("metad.webhook")

_REASONS = {
    errno.EADDRINUSE: "address already in use",
    errno.EADDRNOTAVAIL: "cannot assign requested address (not an address of this host)",
}
_PORT_RANGE = "port must be 0 to 65535"


class PortInUse(Exception):
    """A listener could not be opened: which address, for what, and why.

    The name is from when an address in use was the only reason; an address that is not
    this host's, a host name that does not resolve or a port out of range are reported
    the same way: ``cannot listen on 10.255.255.1:8088 for the webhook endpoint: cannot
    assign requested address (not an address of this host)``.
    """

    def __init__(self, listen: str, what: str, reason: str = "address already in use") -> None:
        super().__init__(f"cannot listen on {listen} for the {what}: {reason}")
        self.listen = listen
        self.what = what
        self.reason = reason


def _reason(exc: OSError | OverflowError) -> str:
    """The OS's words for why, lower-cased to continue our sentence."""
    if isinstance(exc, OverflowError):  # socket.bind's word for a port out of range
        return _PORT_RANGE
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host ({(exc.strerror or str(exc)).lower()})"
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


@contextlib.contextmanager
def listen_errors(listen: str, what: str) -> Iterator[None]:
    """Around the binding of a listener: its failure becomes :class:`PortInUse`.

    Only the binding goes inside: an OSError while serving is not about the address.
    """
    try:
        yield
    except (OSError, OverflowError) as exc:
        raise PortInUse(listen, what, _reason(exc)) from None


def split_listen(listen: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port), or PortInUse for a port out of range.

    Why check here as well as in the config: getaddrinfo takes a port modulo 65536, so
    ``:99999`` would silently listen on 34463 (``metad sim --listen`` is not a config).
    """
    host, _, port = listen.rpartition(":")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise PortInUse(listen, what, _PORT_RANGE)
    return host, int(port)


def prebind(config: Config, listen: str, what: str) -> None:
    """Bind ``listen`` now and leave it to hypercorn (``config.bind``) as ``fd://``.

    Why not let hypercorn bind: it starts the app's lifespan first, so an OSError out of
    it could be either, its TCP bind wraps an out-of-range port, and a socket it fails to
    bind is left open. Hypercorn owns the descriptor from here on (it closes it when it
    stops).
    """
    family, address = _address(listen, what)
    with listen_errors(listen, what):
        sock = _listening(family, address, config.backlog)
    config.bind = [f"fd://{sock.detach()}"]


def _address(listen: str, what: str) -> tuple[socket.AddressFamily, Any]:
    """``unix:PATH`` or ``HOST:PORT`` as the family and address to bind."""
    if listen.startswith("unix:"):
        return socket.AF_UNIX, listen.removeprefix("unix:")
    host, port = split_listen(listen, what)
    with listen_errors(listen, what):
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    return family, address


def _listening(family: socket.AddressFamily, address: Any, backlog: int) -> socket.socket:
    """A listening socket set up as hypercorn sets one up (a stale Unix socket file, left
    by a process that died, is replaced)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_UNIX:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(os.stat(address).st_mode):
                    os.remove(address)
        else:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_asgi(
    app: Any,
    listen: str,
    *,
    what: str,
    shutdown: trio.Event,
    graceful_timeout: float = 1.0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set; ``started`` gets the base URL actually bound.

    An address that cannot be listened on raises :class:`PortInUse` before ``started``.
    """
    config = Config()
    config.bind = [listen]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 75  # Meta reuses connections; don't churn them
    # Bodies are bounded by the front door before it relays a request (and by the Flows
    # endpoint itself); hypercorn's stays a generous backstop for headers.
    config.h11_max_incomplete_size = 64 * 1024
    prebind(config, listen, what)
    await serve(app, config, shutdown_trigger=shutdown.wait, task_status=_Started(task_status))


class _Started:
    """Turns hypercorn's list of bound URLs into our single base URL."""

    def __init__(self, inner: trio.TaskStatus[str]) -> None:
        self._inner = inner

    def started(self, binds: Any = None) -> None:
        urls = list(binds or [])
        self._inner.started(urls[0] if urls else "")

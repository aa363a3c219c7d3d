"""Serve an ASGI app with hypercorn's trio worker inside the daemon's nursery.

Why inside the nursery: the webhook endpoint lives and dies with the daemon; shutdown
is the daemon's shutdown. ``graceful_timeout`` is short because a keep-alive client
(Meta keeps connections open) would otherwise hold shutdown for hypercorn's default
5 s (stack-notes §3).
"""

from __future__ import annotations

import logging
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

__all__ = ["PortInUse", "serve_asgi"]

log = logging.getLogger("metad.webhook")


class PortInUse(Exception):
    def __init__(self, listen: str, what: str) -> None:
        super().__init__(f"cannot listen on {listen} for the {what}: address already in use")


async def serve_asgi(
    app: Any,
    listen: str,
    *,
    what: str,
    shutdown: trio.Event,
    graceful_timeout: float = 1.0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set; ``started`` gets the base URL actually bound."""
    config = Config()
    config.bind = [listen]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 75  # Meta reuses connections; don't churn them
    # Bodies are bounded by the front door before it relays a request (and by the Flows
    # endpoint itself); hypercorn's stays a generous backstop for headers.
    config.h11_max_incomplete_size = 64 * 1024
    try:
        await serve(app, config, shutdown_trigger=shutdown.wait, task_status=_Started(task_status))
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE
            raise PortInUse(listen, what) from None
        raise


class _Started:
    """Turns hypercorn's list of bound URLs into our single base URL."""

    def __init__(self, inner: trio.TaskStatus[str]) -> None:
        self._inner = inner

    def started(self, binds: Any = None) -> None:
        urls = list(binds or [])
        self._inner.started(urls[0] if urls else "")

"""The webhook port's front door as the daemon runs it, for the tests over real sockets
(test_front.py, test_front_relay.py): :func:`front_door` serves it on a free port with
the daemon's real app (or a stand-in) behind it on a Unix socket.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from daemon.webhook.app import create_app
from daemon.webhook.front import serve_front
from daemon.webhook.ingest import WebhookIngest
from daemon.webhook.server import serve_asgi
from tests.unit.daemon.webhook.clients import (
    MAX_BODY,
    PATH,
    TOKEN,
    Client,
    FakeInbox,
    make_app,
)

BODY = b'{"object":"whatsapp_business_account","entry":[]}'


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

"""An ingest worker process: takes webhook POSTs and commits them to the inbox.

Why separate processes (``[webhook] ingest_workers``): the daemon's one interpreter
runs the actors, the inbox processor, the campaigns and the asyncpg thread under one
GIL; measured under a load of batched status webhooks, taking the POSTs was a third of
its CPU and the rest starved it. A worker does only what must happen before the 200 —
bound, verify the signature, check JSON, group-commit the body — with the same
:class:`~daemon.webhook.ingest.WebhookIngest` and :class:`~daemon.store.Store` code as
the in-process path, so there is one implementation of the rules. The daemon still
parses and routes from the inbox, woken by the inbox's NOTIFY trigger.

The daemon owns the listening sockets (one per worker on the same port, see
:func:`daemon.webhook.workers.bind_listeners`) and passes each its own (``--fd``).
Anything but ``POST <path>`` (the GET handshake, Flows, health)
is relayed to the daemon's app on a Unix socket.

Protocol with the daemon: settings arrive as one JSON line on stdin (the app secret
never appears in ``ps``); stdin reaching EOF means the daemon is gone, and the worker
stops. On stdout the worker writes ``READY`` once listening, then JSON lines of counter
increments (``{"stored": 12, "by_status": {"200": 12}}``) for the daemon's metrics.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import trio

from config.model import StorageConfig
from daemon import gctune
from daemon.logs import LogFormat, configure_logging
from daemon.store import open_store
from daemon.webhook.front import serve_listener
from daemon.webhook.ingest import IngestCounters, WebhookIngest

__all__ = ["WorkerSettings", "counter_delta", "main"]

log = logging.getLogger("metad.webhook")

REPORT_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    dsn: str
    path: str
    app_secret: str
    max_body_bytes: int
    upstream: str
    """Unix socket of the daemon's app, for everything that is not a webhook POST."""
    writer_batch_rows: int = 500
    writer_flush_ms: float = 5.0
    log_level: str = "info"
    log_format: LogFormat = "text"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode() + b"\n"


def counter_delta(now: IngestCounters, before: IngestCounters) -> dict[str, Any]:
    """What changed since the last report (empty when nothing did)."""
    delta: dict[str, Any] = {}
    for name in ("stored", "bad_json", "bad_signature", "too_large", "unavailable"):
        change = getattr(now, name) - getattr(before, name)
        if change:
            delta[name] = change
    by_status = {
        str(code): count - before.by_status.get(code, 0)
        for code, count in now.by_status.items()
        if count != before.by_status.get(code, 0)
    }
    if by_status:
        delta["by_status"] = by_status
    return delta


def _snapshot(counters: IngestCounters) -> IngestCounters:
    return IngestCounters(
        stored=counters.stored,
        bad_json=counters.bad_json,
        bad_signature=counters.bad_signature,
        too_large=counters.too_large,
        unavailable=counters.unavailable,
        by_status=dict(counters.by_status),
    )


async def serve(settings: WorkerSettings, listen_fd: int) -> None:
    storage = StorageConfig(
        dsn=settings.dsn,
        pool_min_size=1,
        pool_max_size=2,
        writer_batch_rows=settings.writer_batch_rows,
        writer_flush_ms=settings.writer_flush_ms,
    )
    sock = trio.socket.from_stdlib_socket(socket.socket(fileno=listen_fd))
    listener = trio.SocketListener(sock)
    async with open_store(storage, state_dir=Path("."), run_migrations=False) as store:
        ingest = WebhookIngest(
            path=settings.path,
            app_secret=settings.app_secret.encode(),
            max_body_bytes=settings.max_body_bytes,
            inbox=store.inbox,
        )
        reporter = _Reporter(ingest.counters)
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_parent_exit, stop)
            nursery.start_soon(_stop_on_sigterm, stop)
            nursery.start_soon(reporter.run)
            gctune.settle()
            await reporter.line(b"READY\n")
            await serve_listener(listener, ingest, settings.upstream, shutdown=stop)
            nursery.cancel_scope.cancel()
        await reporter.flush()


async def _stop_on_parent_exit(stop: trio.Event) -> None:
    """stdin is the daemon's pipe: EOF means the daemon exited (even by ``kill -9``)."""
    stdin = trio.lowlevel.FdStream(os.dup(0))
    while await stdin.receive_some(4096):
        pass
    stop.set()


async def _stop_on_sigterm(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()
            return


class _Reporter:
    """Sends counter increments to the daemon over stdout."""

    def __init__(self, counters: IngestCounters) -> None:
        self._counters = counters
        self._sent = IngestCounters()
        self._out = trio.lowlevel.FdStream(os.dup(1))

    async def line(self, data: bytes) -> None:
        await self._out.send_all(data)

    async def run(self) -> None:
        while True:
            await trio.sleep(REPORT_EVERY_S)
            await self.flush()

    async def flush(self) -> None:
        now = _snapshot(self._counters)
        delta = counter_delta(now, self._sent)
        self._sent = now
        if delta:
            # BrokenResourceError: the daemon is gone, and its metrics with it.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self._out.send_all(json.dumps(delta).encode() + b"\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m daemon.webhook.worker",
        description="metad's webhook ingest worker (started by `metad run`, not by hand): "
        "reads its settings as one JSON line on stdin and serves the listening socket "
        "passed as --fd.",
    )
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    args = parser.parse_args(argv)
    line = sys.stdin.buffer.readline()
    if not line:
        print("metad ingest worker: no settings on stdin", file=sys.stderr)
        return 2
    settings = WorkerSettings(**json.loads(line))
    configure_logging(settings.log_level, settings.log_format)
    try:
        trio.run(serve, settings, args.fd)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

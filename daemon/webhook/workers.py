"""The daemon's side of the ingest workers: the socket, the processes, their counters.

Why the daemon binds: it owns the port for its whole life, so a worker that dies (and
is restarted here) loses no connection (they wait in its socket's backlog), the
configured address is checked once with a clear error, and a port of 0 (tests,
benchmarks) resolves to one port for all. Each worker inherits its listening socket; see
:mod:`daemon.webhook.worker` for what they do with it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from daemon.webhook.front import GRACE_S, bind_listeners
from daemon.webhook.ingest import IngestCounters
from daemon.webhook.worker import WorkerSettings

__all__ = [
    "IngestWorkerError",
    "WorkerStatus",
    "add_delta",
    "bind_listeners",
    "serve_ingest_workers",
]

log = logging.getLogger("metad.webhook")

RESTART_BACKOFF_S = (0.2, 5.0)
"""First and longest wait before restarting a worker that died."""
READY_TIMEOUT_S = 30.0


@dataclass(slots=True)
class WorkerStatus:
    """What readiness and metrics see of the workers."""

    wanted: int
    up: set[int] = field(default_factory=set)
    """Indexes of the workers accepting now."""
    restarts: int = 0

    def reasons(self) -> list[str]:
        """Why the endpoint is not fully up; empty when every worker accepts."""
        if len(self.up) >= self.wanted:
            return []
        return [f"webhook ingest workers up: {len(self.up)} of {self.wanted}"]


class IngestWorkerError(Exception):
    """A worker could not start: the daemon does not claim to be ready without it."""


def add_delta(counters: IngestCounters, delta: Mapping[str, Any]) -> None:
    """Fold one worker report into the daemon's counters (read by /metrics and health)."""
    for name in ("stored", "bad_json", "bad_signature", "too_large", "unavailable"):
        if name in delta:
            setattr(counters, name, getattr(counters, name) + int(delta[name]))
    for code, count in dict(delta.get("by_status", {})).items():
        status = int(code)
        counters.by_status[status] = counters.by_status.get(status, 0) + int(count)


async def serve_ingest_workers(
    listen: str,
    settings: WorkerSettings,
    count: int,
    counters: IngestCounters,
    *,
    shutdown: trio.Event,
    status: WorkerStatus | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``count`` workers on ``listen`` until ``shutdown``; started with the base URL
    once every worker is accepting."""
    sockets = bind_listeners(listen, count)
    status = status if status is not None else WorkerStatus(count)
    try:
        host, port = sockets[0].getsockname()[:2]
        async with trio.open_nursery() as nursery:
            for index, sock in enumerate(sockets):
                await nursery.start(
                    _keep_running, index, sock.fileno(), settings, counters, shutdown, status
                )
            task_status.started(f"http://{host}:{port}")
    finally:
        for sock in sockets:
            sock.close()


async def _keep_running(
    index: int,
    fd: int,
    settings: WorkerSettings,
    counters: IngestCounters,
    shutdown: trio.Event,
    status: WorkerStatus,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    """One worker slot: start it, restart it when it dies, stop it on shutdown."""
    backoff = RESTART_BACKOFF_S[0]
    first = True
    while not shutdown.is_set():
        started_at = trio.current_time()
        code = await _run_once(
            index, fd, settings, counters, shutdown, status, task_status if first else None
        )
        first = False
        if shutdown.is_set():
            return
        if trio.current_time() - started_at > 10 * RESTART_BACKOFF_S[1]:
            backoff = RESTART_BACKOFF_S[0]  # it had been running well: not a crash loop
        log.error(
            "webhook ingest worker %d exited with code %s; restarting in %.1f s",
            index,
            code,
            backoff,
        )
        with trio.move_on_after(backoff):
            await shutdown.wait()
        backoff = min(backoff * 2, RESTART_BACKOFF_S[1])
        status.restarts += 1


async def _run_once(
    index: int,
    fd: int,
    settings: WorkerSettings,
    counters: IngestCounters,
    shutdown: trio.Event,
    status: WorkerStatus,
    task_status: trio.TaskStatus[None] | None,
) -> int | None:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "daemon.webhook.worker", "--fd", str(fd)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(fd,),
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None
    assert stdout is not None
    try:
        await stdin.send_all(settings.to_json())
        lines = _lines(stdout)
        with trio.move_on_after(READY_TIMEOUT_S):
            first = await anext(lines, None)
        if first != b"READY":
            if task_status is not None:
                raise IngestWorkerError(
                    f"webhook ingest worker {index} did not start (exit code "
                    f"{proc.poll()}; its error is above)"
                )
            return proc.poll()
        status.up.add(index)
        if task_status is not None:
            task_status.started()
        async with trio.open_nursery() as nursery:

            async def stop_on_shutdown() -> None:
                await shutdown.wait()
                await stdin.aclose()  # EOF: the worker stops

            nursery.start_soon(stop_on_shutdown)
            async for line in lines:
                with contextlib.suppress(ValueError, TypeError):
                    add_delta(counters, json.loads(line))
            nursery.cancel_scope.cancel()
        with trio.move_on_after(GRACE_S + 2.0):
            return await proc.wait()
        log.warning("webhook ingest worker %d did not stop in time; killing it", index)
        return None
    finally:
        status.up.discard(index)
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await stdin.aclose()
            await stdout.aclose()


async def _lines(stream: trio.abc.ReceiveStream) -> Any:
    buffer = b""
    while chunk := await stream.receive_some(65536):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line

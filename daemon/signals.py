"""Stop signals of ``metad run``: taken from the first instant of :func:`~daemon.main.
run_daemon` to its last.

Why from the first instant: a signal's default action kills the process, and one that
came during the start (say just after the embedded PostgreSQL was up) once did exactly
that, with no ``stopped`` line and that PostgreSQL left running. So the receiver is
opened before anything starts and kept until after ``stopped`` is logged: a SIGTERM
before READY cancels the start, and what had started (the embedded PostgreSQL above
all) is stopped as the cancellation unwinds; after READY it starts the ordered, bounded
shutdown (:mod:`daemon.main`). Either way the daemon logs ``stopped`` and exits 0.
What the start waits on must be reachable by that cancel: a wait in a worker thread is
not (``trio.to_thread`` waits for the thread), and the wait for another process's start
of the embedded PostgreSQL (``pg.lock``) once held a stop for a whole minute; it is
polled in trio now (:func:`daemon.store.pglock.lock_interruptibly`).
Further SIGTERM/SIGINT while stopping are logged once and ignored, so they cannot cut
the bounded shutdown short and leave an orphaned PostgreSQL; there is no "third signal
kills" rule — the shutdown is already bounded, and SIGKILL (systemd's, after
``TimeoutStopSec``) is the hard stop.

SIGHUP reloads the config, but only once the config reloader runs
(:func:`~daemon.reloader.reload_on_sighup`); before it does (start-up) and after it has
gone (shutdown), a SIGHUP is logged and ignored instead of killing the daemon.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import trio

from daemon.systemd import Notifier, while_starting

__all__ = ["STOP_SIGNALS", "Stopping", "ask_for_time", "stop_signals", "watch_signals"]

log = logging.getLogger("metad.daemon")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(slots=True)
class Stopping:
    """What a stop signal does, depending on how far the start has got.

    Why two ways: before READY nothing runs that an ordered shutdown would wait for, and
    the start may be in the middle of anything (PostgreSQL starting, migrations, actors
    loading); cancelling it unwinds every ``async with`` that opened something, and those
    exits (shielded) close the store and stop the embedded server. After READY, ``stop``
    starts the ordered, bounded shutdown (``_serve_with`` in :mod:`daemon.main`)."""

    stop: trio.Event
    """:attr:`daemon.main.Daemon.stop`."""
    ready: trio.Event
    """Set when the daemon says READY."""
    notifier: Notifier
    start: trio.CancelScope = field(default_factory=trio.CancelScope)
    """Around the whole start and run; cancelled only by a signal before READY."""
    asking: trio.CancelScope = field(default_factory=trio.CancelScope)
    """Around :func:`~daemon.systemd.while_starting`: a cancelled start asks systemd
    for no more start time (nor says "starting") while it unwinds."""

    def request(self, name: str) -> None:
        self.stop.set()
        if self.ready.is_set():
            log.info("received %s, shutting down", name)
            return
        log.info("received %s during start-up, cancelling the start", name)
        # What _serve_with says once READY: systemd learns the start is over.
        self.notifier.notify(STOPPING=1, STATUS="stopping")
        self.asking.cancel()
        self.start.cancel()


async def ask_for_time(stopping: Stopping) -> None:
    """Ask systemd for more start time until READY, or until a signal cancels the start."""
    with stopping.asking:
        await while_starting(stopping.notifier, stopping.ready)


async def watch_signals(signals: AsyncIterator[int], stopping: Stopping, grace_s: float) -> None:
    """The first SIGTERM/SIGINT stops the daemon; later ones are logged once and ignored.

    Why not return after the first (as it once did): leaving the receiver restored the
    default action, so a second SIGTERM during the shutdown killed the process on the
    spot, with no ``stopped`` line and the embedded PostgreSQL orphaned."""
    repeated = False
    async for signum in signals:
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            # Only while the reloader is not running: a SIGHUP during the start (a
            # config edited meanwhile) killed the daemon and orphaned its PostgreSQL.
            log.warning(
                "received SIGHUP while %s: not reloaded (metad ctl reload once READY)",
                "stopping" if stopping.stop.is_set() else "starting",
            )
            continue
        if not stopping.stop.is_set():
            stopping.request(name)
        elif not repeated:
            repeated = True
            log.warning(
                "received %s while stopping: ignored; the shutdown is bounded by"
                " daemon.shutdown_timeout_s (%g s), SIGKILL stops at once",
                name,
                grace_s,
            )


@contextlib.contextmanager
def stop_signals(handle_signals: bool) -> Iterator[AsyncIterator[int] | None]:
    """SIGTERM and SIGINT, queued from now on (None when the process is not ours); and
    SIGHUP, whose default action kills, until the config reloader takes it over (its
    receiver is opened later, so it gets SIGHUP while it runs) and after it has gone."""
    if not handle_signals:
        yield None
        return
    with trio.open_signal_receiver(*STOP_SIGNALS, signal.SIGHUP) as signals:
        yield signals

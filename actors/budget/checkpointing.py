"""When the budget coordinator stores the ledger's checkpoint, and how a start uses one.

Why apart from the coordinator: a checkpoint is not a booking. It is taken between the
mailbox's batches once an hour and at a clean stop, stored by a task of its own, and
read once at a start; what it needs of the coordinator is its ledger, its lock and
journal position (:class:`~actors.budget.ports.Books`) and whether its journal writer
has written all it was given. What a checkpoint holds is the ledger's own
(:meth:`~actors.budget.ledger.Ledger.checkpoint`, :meth:`~actors.budget.ledger.Ledger.
restore`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import trio

from actors.budget.ledger import Ledger
from actors.budget.ports import Books, Checkpoints
from actors.budget.values import LedgerEntry

__all__ = ["CHECKPOINT_EVERY_S", "CHECKPOINT_WAIT_S", "REPLAY_SLICE", "Checkpointing", "replay"]

log = logging.getLogger("metad.budget")

CHECKPOINT_EVERY_S = 3600.0
"""How often the ledger's checkpoint is stored (:meth:`Ledger.checkpoint`): a start
replays the journal after the latest one, at most this long of it (and a clean stop
stores one: then nothing)."""
CHECKPOINT_WAIT_S = 1.0
"""The longest the mailbox waits for the journal writer to take a checkpoint."""
REPLAY_SLICE = 20_000
"""Entries replayed between two yields to the event loop (a tenth of a second or so)."""


async def replay(ledger: Ledger, rows: Sequence[dict[str, Any]]) -> None:
    """:meth:`Ledger.replay` of ``rows``, a slice at a time. Why: a start without a
    usable checkpoint replays weeks of journal, millions of entries at a busy daemon;
    in one go that blocks the daemon for minutes, and its start-up notifications to
    systemd (which extend the start timeout) and everything else wait meanwhile."""
    for start in range(0, len(rows), REPLAY_SLICE):
        ledger.replay(LedgerEntry.from_json(r) for r in rows[start : start + REPLAY_SLICE])
        await trio.lowlevel.checkpoint()


class Checkpointing:
    """The coordinator's checkpoints in ``store``: :meth:`take` between batches,
    :meth:`saver` beside the mailbox, :meth:`last` at a clean stop, :meth:`restore` at
    a start. ``parked`` tells whether the journal writer waits for entries (it has
    written all it was given; an entry handed to it un-parks it at once)."""

    def __init__(self, store: Checkpoints, books: Books, parked: Callable[[], bool]) -> None:
        self.store = store
        self._books = books
        self._parked = parked
        self._due = math.inf
        self._saves_send, self._saves = trio.open_memory_channel[tuple[int, dict[str, Any]]](1)
        self._drained: trio.Event | None = None
        """Set by the journal writer when it has written everything (:meth:`take` waits)."""

    def started(self, now: float) -> None:
        """The ledger was just loaded: the first checkpoint is due an hour from now."""
        self._due = now + CHECKPOINT_EVERY_S

    def written(self, *, empty: bool) -> None:
        """The journal writer committed a batch; ``empty``: nothing more is queued."""
        if self._drained is not None and empty:
            self._drained.set()

    async def take(self, now: float) -> None:
        """Hand the ledger's checkpoint to :meth:`saver`, at most every
        :data:`CHECKPOINT_EVERY_S`, at a moment it stands for one journal position.

        Why the mailbox waits for the writer: the ledger runs ahead of the journal (an
        entry is applied, then committed), so under load there is never a batch end at
        which both agree. Once an hour the loop stops taking messages until the writer
        has committed what it was given (one commit, a few milliseconds; at most
        :data:`CHECKPOINT_WAIT_S`), and with shared caps holds the lock, so no other
        daemon's entries are half applied. Then the ledger is exactly the journal up to
        the last entry written."""
        if now < self._due:
            return
        self._due = now + CHECKPOINT_EVERY_S
        if not self._parked():
            self._drained = trio.Event()
            with trio.move_on_after(CHECKPOINT_WAIT_S):
                await self._drained.wait()
            self._drained = None
        taken: tuple[int, dict[str, Any]] | None = None

        async def at(position: int) -> int:
            nonlocal taken
            if self._parked():  # else busy for too long: the next hour
                taken = (position, self._books.ledger.checkpoint(now))
            return position

        await self._books.locked(at)
        if taken is not None:
            with contextlib.suppress(trio.WouldBlock):  # the previous one still being saved
                self._saves_send.send_nowait(taken)

    async def saver(self) -> None:
        """Store the checkpoints handed over; one that fails is logged, the next hour's
        replaces it (the journal alone still rebuilds everything)."""
        async for position, data in self._saves:
            try:
                await self.store.save_checkpoint(position, data)
            except Exception as exc:
                log.warning("budget checkpoint not stored (the journal still has it): %r", exc)

    async def last(self, position: int, now: float) -> None:
        """A clean stop has written everything: a checkpoint now is all the next start
        needs (a restart under systemd replays no journal)."""
        try:
            await self.store.save_checkpoint(position, self._books.ledger.checkpoint(now))
        except Exception as exc:
            log.warning("budget checkpoint not stored at stop (the journal has it): %r", exc)

    async def restore(self, empty: Callable[[], Ledger], now: float) -> tuple[Ledger, int] | None:
        """A ledger rebuilt from the latest checkpoint and the journal after it, and the
        journal's position; None when there is none worth it (none, another zone's, or
        older than the oldest current period: then replaying from that period reads
        less). ``empty`` makes the ledger to restore into (caps set)."""
        latest = await self.store.latest_checkpoint()
        if latest is None:
            return None
        position, data = latest
        ledger = empty()
        taken_at = float(data.get("at", 0.0))
        if taken_at < ledger.replay_from(now):
            return None
        try:
            ledger.restore(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("budget checkpoint %d not usable (%s): replaying", position, exc)
            return None
        after, high = await self.store.entries_after(position)
        await replay(ledger, after)
        log.info(
            "budget: restored from checkpoint %d and %d entries after it", position, len(after)
        )
        return ledger, high

"""The budget coordinator's reconciliation: its reservations checked against the outbox.

A pass releases the reservations of messages that will never be charged, and settles
at their estimate those of messages Meta accepted whose price never came
(``[budget] unpriced_settle_days`` after they were reserved): both end a reservation
nothing else would end (:mod:`actors.budget.reconcile` says why and which).

Why apart from the coordinator: the mailbox books money; the reconciliation is a loop
beside it with its own state (the reservations a send reused, the messages asked about)
and its own way of reading the outbox, under the shared lock when several daemons
share the caps. It changes the ledger only through the coordinator it is given (its
ledger, journal writer, lock and journal position: :class:`~actors.budget.ports.Books`),
so a release or settlement here is journalled, replayed and seen by the other daemons
like any other.

What it decides is the pure rule of :mod:`actors.budget.reconcile`; this module reads
the rows and applies the decision in one step (nothing interleaves between the ledger
being read and changed: the coordinator's mailbox runs on the same trio thread).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import trio

from actors.budget.ports import Books, OutboxStates, SharedJournal
from actors.budget.reconcile import RowState, outbox_ref, to_release, to_settle
from actors.budget.values import LedgerEntry

__all__ = ["RECONCILE_EVERY_S", "RECONCILE_GRACE_S", "Diverged", "Reconciliation"]

log = logging.getLogger("metad.budget")

RECONCILE_EVERY_S = 60.0
"""How often held reservations are checked against their outbox rows."""
RECONCILE_GRACE_S = 30.0
"""A reservation this young, or a row that ended this recently, is left to the send path
(which releases within milliseconds of ending a row, see :mod:`actors.budget.reconcile`)."""
_NAMED = 5
"""Messages named in the log line of a pass that settled some at their estimate."""


class Diverged(Exception):
    """A shared reconciliation failed after it had changed the ledger (see
    :meth:`Reconciliation.run`)."""


class Reconciliation:
    """Releases the reservations of messages that can no longer be charged, and settles
    those of messages accepted but never priced (:meth:`_apply`): a pass over every
    reservation older than the grace period once the ledger is loaded and every
    ``every_s``, and one over the messages :meth:`ask` names as soon as they come (those
    without the grace period)."""

    def __init__(
        self,
        books: Books,
        outbox: OutboxStates,
        *,
        now: Callable[[], float],
        shared: SharedJournal | None = None,
        every_s: float = RECONCILE_EVERY_S,
        grace_s: float = RECONCILE_GRACE_S,
    ) -> None:
        self._books = books
        self._outbox = outbox
        self._now = now
        self._shared = shared
        self._every_s = every_s
        self._grace_s = grace_s
        self._reused: dict[str, float] = {}
        """Reservation id → when a send last found it held and reused it (one daemon):
        kept by a pass that read rows before then."""
        self._asked_send, self._asked = trio.open_memory_channel[tuple[str, ...]](math.inf)

    def reused(self, ref: str, at: float) -> None:
        """A send found ``ref`` held at ``at`` and reuses it (one daemon; with shared
        caps the reuse is confirmed under the lock instead)."""
        self._reused[ref] = at

    def ask(self, refs: tuple[str, ...]) -> None:
        """Check these reservations at once, without the grace period (the operator's
        decision: :class:`~actors.budget.messages.Reconcile`)."""
        if refs:
            self._asked_send.send_nowait(refs)

    async def run(self, loaded: trio.Event) -> None:
        """The passes, once ``loaded`` is set.

        A pass whose reading fails is logged and left to the next one, unless shared
        caps had already changed the ledger for it: then the ledger no longer matches
        the journal, and :class:`Diverged` crashes the actor to rebuild it (as a failed
        booking does)."""
        await loaded.wait()
        asked: tuple[str, ...] | None = None
        while True:
            try:
                entries = await self.reconcile(asked)
            except Diverged:
                raise
            except Exception as exc:
                log.warning("budget reconciliation failed (retried later): %r", exc)
            else:
                self._log(entries)
            asked = None
            with trio.move_on_after(self._every_s):
                asked = await self._asked.receive()
                more = [asked]
                while True:
                    try:
                        more.append(self._asked.receive_nowait())
                    except trio.WouldBlock:
                        break
                asked = tuple(ref for refs in more for ref in refs)

    def _log(self, entries: Sequence[LedgerEntry]) -> None:
        released = sum(1 for e in entries if e.op == "release")
        if released:
            log.info(
                "budget: released %d reservation(s) of messages that will not be charged",
                released,
            )
        settled = [e for e in entries if e.op == "settle"]
        if settled:
            log.warning(
                "budget: settled %d reservation(s) at their estimate (%s USD): Meta accepted"
                " the message(s) and no price came in %g days (%s)",
                len(settled),
                sum(e.amount for e in settled),
                self._books.ledger.unpriced_settle_s / 86400,
                ", ".join(e.id for e in settled[:_NAMED])
                + (f" and {len(settled) - _NAMED} more" if len(settled) > _NAMED else ""),
            )

    async def reconcile(self, asked: tuple[str, ...] | None) -> list[LedgerEntry]:
        """One pass (see :meth:`run`): all reservations older than the grace period when
        ``asked`` is None, else those named. Returns the releases and settlements it
        booked."""
        ledger = self._books.ledger
        grace = self._grace_s if asked is None else 0.0
        read_at = self._now()
        if asked is None:
            held = ledger.stale_reservations(read_at - grace)
        else:
            held = [r for r in dict.fromkeys(asked) if ledger.reserved(r) is not None]
        ids = [oid for ref in held if (oid := outbox_ref(ref)) is not None]
        try:
            if not ids:
                return []
            if self._shared is None:
                rows = await self._outbox.outbox_states(ids)
                return self._apply(held, rows, grace, read_at)
            return await self._reconcile_shared(self._shared, held, ids, grace, read_at)
        finally:
            # A reuse noted before this reading cannot matter to any later pass.
            self._reused = {r: t for r, t in self._reused.items() if t >= read_at}

    async def _reconcile_shared(
        self,
        shared: SharedJournal,
        held: Sequence[str],
        ids: Sequence[int],
        grace: float,
        read_at: float,
    ) -> list[LedgerEntry]:
        """The rows are read under the shared lock, after the other daemons' entries are
        applied (a release or settlement by another daemon is seen there), and what this
        pass books is written in the same transaction."""
        booked: list[LedgerEntry] = []

        def decide(others: list[dict[str, Any]], rows: dict[int, RowState]) -> list[dict[str, Any]]:
            decided.set()
            self._books.apply_others(others)
            booked[:] = self._apply(held, rows, grace, read_at, persist=False)
            return [e.to_json() for e in booked]

        decided = trio.Event()
        try:
            await self._books.locked(lambda position: shared.reconciled(position, ids, decide))
        except Exception as exc:
            if decided.is_set():
                raise Diverged(str(exc)) from exc
            raise
        return booked

    def _apply(
        self,
        held: Sequence[str],
        rows: dict[int, RowState],
        grace: float,
        read_at: float,
        *,
        persist: bool = True,
    ) -> list[LedgerEntry]:
        """Release what :func:`~actors.budget.reconcile.to_release` names among ``held``,
        settle at their estimate those :func:`~actors.budget.reconcile.to_settle` names,
        of what is still held, in one step (nothing can interleave): journalled through
        the writer, or (shared caps, ``persist=False``) by the caller. Returns the
        entries booked.

        A settlement at the estimate moves an amount from reserved to spent, so it
        reaches no threshold its reservation had not: an alert it returns can only be of
        a cap lowered since, for a period that ended (a current one was announced when
        the cap changed). It is not announced, on any daemon."""
        ledger = self._books.ledger
        now = self._now()
        out: list[LedgerEntry] = []
        for ref in to_release(held, rows, grace_s=grace, reused=self._reused, read_at=read_at):
            released = ledger.release(ref, now)
            if released is not None:  # else released or settled meanwhile
                out.append(released.entry)
        ages = {r: at for r in held if (at := ledger.reserved_at(r)) is not None}
        hold = ledger.unpriced_settle_s
        for ref in to_settle(
            ages, rows, hold_s=hold, now=now, reused=self._reused, read_at=read_at
        ):
            settled = ledger.settle_estimate(ref)
            if settled is not None and settled.entry is not None:
                out.append(settled.entry)
        if persist:
            for entry in out:
                self._books.persist(entry)
        return out

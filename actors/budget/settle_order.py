"""Settlements of one message by two daemons sharing caps, written in journal order.

Why: with shared caps each daemon settles the prices its own status webhooks carry, and
Meta may send a message's statuses to any of them. A daemon makes its settlement at once
(the ledger moves the price from reserved to spent), but writes it later, under the
shared lock, after whatever the other daemons wrote meanwhile. When another daemon's
settlement of the same message was written in between, the journal has two
settlements, and the second said it replaces nothing (``prev`` None: the daemon did
not know of the first when it made its own). A full replay still counts the message
once (the second finds it settled), but a start from a checkpoint taken between the two
does not hold the message any more (checkpoints keep only held reservations), so it
booked the price a second time: a node restarted under load showed twice its real
spend. Written with ``prev`` and ``booked_at``, the second settlement replaces the
first in every replay, as a late price does (:meth:`Ledger._apply_settle`).

Pure bookkeeping; the coordinator calls it around its shared writes.
"""

from __future__ import annotations

import dataclasses

from actors.budget.values import LedgerEntry

__all__ = ["SettleOrder"]


class SettleOrder:
    """Other daemons' settlements applied since this daemon's unwritten entries were made.

    Stamps count this daemon's entries: an entry gets :meth:`made`'s number when it is
    made; another daemon's settlement is stamped with the count when it is applied. An
    entry made at or before that stamp was made without knowing of it."""

    def __init__(self) -> None:
        self._made = 0
        self._settled: dict[str, tuple[int, LedgerEntry]] = {}

    def __len__(self) -> int:
        return len(self._settled)

    def made(self) -> int:
        """The stamp of an entry this daemon makes now."""
        self._made += 1
        return self._made

    def applied(self, entry: LedgerEntry) -> None:
        """A settlement now in the journal (another daemon's, or this one's as written)
        was applied to the ledger."""
        if entry.op == "settle":
            self._settled[entry.id] = (self._made, entry)

    def as_written(self, entry: LedgerEntry, made: int) -> LedgerEntry:
        """``entry`` (stamped ``made``) as it must be written now: a settlement made
        before a later-applied settlement of the same message replaces that one."""
        seen = self._settled.get(entry.id)
        if entry.op != "settle" or seen is None or seen[0] < made:
            return entry
        before = seen[1]
        booked_at = entry.booked_at
        if booked_at is None:  # the first settlement had no reservation either
            booked_at = before.booked_at if before.booked_at is not None else before.at
        return dataclasses.replace(entry, prev=before.amount, booked_at=booked_at)

    def written(self, upto: int) -> None:
        """Entries stamped up to ``upto`` are written: what was applied before any
        later entry was made cannot concern one."""
        self._settled = {k: v for k, v in self._settled.items() if v[0] > upto}

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
    """Other daemons' entries applied since this daemon's unwritten entries were made.

    Stamps count this daemon's entries: an entry gets :meth:`made`'s number when it is
    made; another daemon's entry is stamped with the count when it is applied. An entry
    made at or before that stamp was made without knowing of it."""

    def __init__(self) -> None:
        self._made = 0
        self._seen: dict[str, tuple[int, LedgerEntry | None, LedgerEntry | None]] = {}
        """Message id → (stamp, its latest settlement in journal order, its
        reservation): of the messages whose entries were applied lately."""

    def __len__(self) -> int:
        return len(self._seen)

    def made(self) -> int:
        """The stamp of an entry this daemon makes now."""
        self._made += 1
        return self._made

    def applied(self, entry: LedgerEntry) -> None:
        """An entry now in the journal (another daemon's, or this one's as written) was
        applied to the ledger."""
        _, settled, reserved = self._seen.get(entry.id, (0, None, None))
        if entry.op == "settle":
            settled = entry
        elif entry.op == "reserve":
            reserved = entry
        self._seen[entry.id] = (self._made, settled, reserved)

    def as_written(self, entry: LedgerEntry, made: int) -> tuple[LedgerEntry, bool]:
        """``entry`` (stamped ``made``) as it must be written now, and whether the ledger
        must apply it again: a settlement made before another daemon's entry of the same
        message was applied comes after that entry in the journal. It replaces that
        daemon's settlement (``prev``), and is booked when and where the message was
        (made without knowing the reservation, it named no campaign: campaign status,
        which sums the journal's rows of the campaign, missed its price)."""
        seen = self._seen.get(entry.id)
        if entry.op != "settle" or seen is None or seen[0] < made:
            return entry, False
        _, before, reserved = seen
        origin = reserved if reserved is not None else before
        booked_at = entry.booked_at
        if booked_at is None and before is not None:
            booked_at = before.booked_at if before.booked_at is not None else before.at
        if booked_at is None and reserved is not None:
            booked_at = reserved.at
        prev = entry.prev if before is None else before.amount
        written = dataclasses.replace(entry, prev=prev, booked_at=booked_at)
        if origin is not None:
            written = dataclasses.replace(
                written,
                waba=entry.waba if entry.waba is not None else origin.waba,
                campaign=entry.campaign if entry.campaign is not None else origin.campaign,
            )
        return written, True

    def written(self, upto: int) -> None:
        """Entries stamped up to ``upto`` are written: what was applied before any
        later entry was made cannot concern one."""
        self._seen = {k: v for k, v in self._seen.items() if v[0] > upto}

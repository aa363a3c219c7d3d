"""Recalling settled messages the ledger does not hold, before a later price settles them.

Why: Meta prices a message with its ``sent`` status and again with ``delivered`` (the
same price, or another when it re-categorises it), and a webhook may come days late.
The ledger replaces a message's earlier price only while it holds the message. It used
to hold every message of the last 8 days, and a start replayed those 8 days of journal
to hold them again: at a million messages a day some 20 million entries, minutes of
start-up in which systemd's start timeout kills the daemon. Now a start restores the
checkpoint and the journal after it, and the ledger keeps settled messages a day; a
price for a message it does not hold first recalls the message from the journal
(:meth:`~actors.budget.ledger.Ledger.remember_settled`), one query per mailbox batch.

Only a message that may have entries the ledger does not hold is looked up: its outbox
id is at most the highest one the journal had when the ledger was loaded, or one the
ledger has since forgotten (outbox ids grow with time, so a message sent since is held).
A free message's first price, the common unknown one, is above that line and costs no
query.

With shared caps the journal is read up to the ledger's own position: another daemon's
later entries reach the ledger in order through the catch-up, and a settlement says
what it replaces (:class:`~actors.budget.values.LedgerEntry`), so nothing is counted
twice either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from actors.budget.messages import BudgetMsg, Settle
from actors.budget.ports import Books, Recall
from actors.budget.reconcile import outbox_ref

__all__ = ["SETTLED_MEMORY_S", "SettledRecall"]

SETTLED_MEMORY_S = 86400.0
"""How long the ledger keeps a settled message once it can recall it: a later price
mostly comes within minutes (``delivered`` after ``sent``); a later one is recalled."""


class SettledRecall:
    """The coordinator's recall of settled messages from ``journal`` into ``books``'
    ledger. ``shared``: several daemons write the journal (read it only up to the
    ledger's position)."""

    def __init__(self, journal: Recall, books: Books, *, shared: bool) -> None:
        self._journal = journal
        self._books = books
        self._shared = shared
        self._upto = 0
        """The highest outbox id that may have entries the ledger does not hold."""
        self.recalled = 0
        """Messages recalled so far (for tests and the log)."""

    async def loaded(self, position: int) -> None:
        """The ledger was just loaded up to journal ``position``: every message the
        journal has an entry of may be one it does not hold."""
        self._upto = await self._journal.last_message(position if self._shared else None)

    def forgot(self, ref: str) -> None:
        """The ledger forgot ``ref`` (:meth:`~actors.budget.ledger.Ledger.prune`)."""
        outbox_id = outbox_ref(ref)
        if outbox_id is not None and outbox_id > self._upto:
            self._upto = outbox_id

    async def before(self, batch: Sequence[BudgetMsg], position: int) -> None:
        """Recall the messages ``batch`` settles that the ledger may have forgotten."""
        ledger = self._books.ledger
        wanted: dict[int, str] = {}
        for msg in batch:
            if isinstance(msg, Settle) and not ledger.knows(msg.id):
                outbox_id = outbox_ref(msg.id)
                if outbox_id is not None and outbox_id <= self._upto:
                    wanted[outbox_id] = msg.id
        if not wanted:
            return
        found = await self._journal.settled(list(wanted), position if self._shared else None)
        for record in found:
            ledger.remember_settled(
                str(record["id"]),
                Decimal(str(record["amount"])),
                float(record["booked_at"]),
                record["waba"],
                record["campaign"],
            )
        self.recalled += len(found)

"""``InboxRepository``: the durable webhook inbox and its bookkeeping.

Why the inbox: Meta retries an unanswered webhook for days but forgets one answered
with 200, so a body must be committed before the 200 goes out. Appends go through the
batching writer (group commit); parsing and routing happen afterwards from the inbox,
and a restart simply resumes with the rows still ``pending``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from daemon.store.connection import Queries
    from daemon.store.writer import BatchWriter

__all__ = [
    "COUNTED",
    "COUNTED_COLUMNS",
    "Handoff",
    "InboxRepository",
    "InboxRow",
    "InboxStats",
    "Outcome",
    "pruned_counts_sql",
]

_COLUMNS = ("body", "signature_ok", "state")


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Handoff:
    """The events of ``chip`` in inbox row ``inbox_id``, left by the node that processed
    the row for the node that runs ``chip`` (several daemons, see daemon.cluster)."""

    inbox_id: int
    chip: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing made of one inbox row."""

    id: int
    state: str  # parsed | unparsed | duplicate
    events: int = 0
    unknown_changes: int = 0
    unknown_number: int = 0


@dataclass(frozen=True, slots=True)
class InboxStats:
    received: int
    duplicates: int
    parsed: int
    unparsed: int
    pending: int
    unknown_number: int
    rejected_signature: int


# What stats() counts: per inbox row, one integer for each InboxStats field, summed.
# Why one table of expressions: the same sums are taken over the rows kept (_STATS) and
# over the rows retention deletes (pruned_counts_sql), so "ever received" = pruned +
# kept holds by construction. The expressions read only COUNTED_COLUMNS.
COUNTED: Final = (
    ("received", "signature_ok::int"),
    ("duplicates", "(state = 'duplicate')::int"),
    ("parsed", "(state = 'parsed')::int"),
    ("unparsed", "(state = 'unparsed')::int"),
    ("pending", "(state = 'pending')::int"),
    ("unknown_number", "unknown_number"),
    ("rejected_signature", "(NOT signature_ok)::int"),
)
COUNTED_COLUMNS: Final = ("signature_ok", "state", "unknown_number")

# One statement, so one snapshot: a prune batch deletes rows and adds their counts to
# webhook_pruned_counts in one commit, and this sees both or neither.
_KEPT = ", ".join(f"coalesce(sum({expr}), 0) AS {name}" for name, expr in COUNTED)
_PRUNED = ", ".join(
    f"coalesce(sum(n) FILTER (WHERE outcome = '{name}'), 0)::bigint AS {name}"
    for name, _ in COUNTED
)
_BOTH = ", ".join(f"kept.{name} + pruned.{name} AS {name}" for name, _ in COUNTED)
_STATS = f"""
WITH kept AS (SELECT {_KEPT} FROM webhook_inbox),
     pruned AS (SELECT {_PRUNED} FROM webhook_pruned_counts)
SELECT {_BOTH} FROM kept, pruned
"""


def pruned_counts_sql(rows: str) -> str:
    """An ``INSERT`` (for a CTE of the pruning statement) that adds what :meth:`stats`
    counted in the deleted inbox rows of CTE ``rows`` (``RETURNING`` at least
    :data:`COUNTED_COLUMNS`) to ``webhook_pruned_counts``.

    Why in the deleting statement: the delete and the counts commit together, and
    ``RETURNING`` holds only the rows this statement deleted, so a row another pruner
    took is counted by that one alone. Outcome rows are locked in outcome order (the
    ``ORDER BY``) so two pruners cannot deadlock on them; zero counts write nothing."""
    values = ", ".join(f"('{name}', {expr})" for name, expr in COUNTED)
    return f"""INSERT INTO webhook_pruned_counts AS p (outcome, n)
    SELECT c.outcome, sum(c.n) FROM {rows}, LATERAL (VALUES {values}) AS c (outcome, n)
    GROUP BY c.outcome HAVING sum(c.n) > 0 ORDER BY c.outcome
    ON CONFLICT (outcome) DO UPDATE SET n = p.n + excluded.n"""


# The processor has already decided duplicates (against earlier rows and within the
# batch), so the first copy of a body takes its key and later copies take none.
_MARK = """
UPDATE webhook_inbox w SET
    processed_at = now(),
    state = i.state,
    dedupe_key = CASE WHEN i.state = 'duplicate' THEN NULL ELSE i.key END,
    events = i.events,
    unknown_changes = i.unknown_changes,
    unknown_number = i.unknown_number
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[])
    AS i(id, state, key, events, unknown_changes, unknown_number)
WHERE w.id = i.id
"""


def body_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class InboxRepository:
    def __init__(self, db: Queries, writer: BatchWriter) -> None:
        self._db = db
        self._writer = writer

    def on(self, db: Queries) -> InboxRepository:
        """The same repository inside a transaction (``async with store.transaction()``)."""
        return InboxRepository(db, self._writer)

    async def append(self, body: bytes) -> None:
        """Returns once the body is committed (group commit with its neighbours)."""
        await self._writer.append("webhook_inbox", _COLUMNS, (body, True, "pending"))

    async def reject(self) -> None:
        """Count a request refused for its signature; its body is not kept."""
        await self._writer.append("webhook_inbox", _COLUMNS, (b"", False, "rejected"))

    async def pending(self, limit: int, after_id: int = 0) -> list[InboxRow]:
        rows = await self._db.fetch(
            "SELECT id, body FROM webhook_inbox WHERE processed_at IS NULL AND signature_ok"
            " AND id > $1 ORDER BY id LIMIT $2",
            after_id,
            limit,
        )
        return [InboxRow(r["id"], bytes(r["body"])) for r in rows]

    async def known_bodies(self, keys: Iterable[str]) -> set[str]:
        """Which of these body hashes belong to bodies already processed."""
        rows = await self._db.fetch(
            "SELECT dedupe_key FROM webhook_inbox WHERE dedupe_key = ANY($1::text[])", list(keys)
        )
        return {r["dedupe_key"] for r in rows}

    async def seen(self, keys: Sequence[str]) -> set[str]:
        """Which of these event keys were applied before."""
        if not keys:
            return set()
        rows = await self._db.fetch(
            "SELECT key FROM webhook_seen WHERE key = ANY($1::text[])", list(keys)
        )
        return {r["key"] for r in rows}

    async def first_sightings(self, keys: Sequence[str]) -> set[str]:
        """Record event keys; return those never seen before (the ones to apply)."""
        if not keys:
            return set()
        rows = await self._db.fetch(
            "INSERT INTO webhook_seen (key) SELECT unnest($1::text[])"
            " ON CONFLICT (key) DO NOTHING RETURNING key",
            list(keys),
        )
        return {r["key"] for r in rows}

    async def record_orphans(
        self, orphans: Sequence[tuple[int, str | None, str | None, str]]
    ) -> None:
        if orphans:
            await self._db.executemany(
                "INSERT INTO webhook_orphans (inbox_id, phone_number_id, waba_id, kind)"
                " VALUES ($1, $2, $3, $4)",
                orphans,
            )

    async def hand_off(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Leave the events of each (inbox row, chip) to whoever runs the chip."""
        if pairs:
            await self._db.execute(
                "INSERT INTO webhook_handoff (inbox_id, chip)"
                " SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
                [i for i, _ in pairs],
                [c for _, c in pairs],
            )

    async def handoffs(
        self, chips: Iterable[str], limit: int, after: tuple[int, str] = (0, "")
    ) -> list[Handoff]:
        """Pending hand-offs of these chips, oldest inbox row first, after ``after``
        (the (inbox_id, chip) of the last one of the previous page)."""
        chips = list(chips)
        if not chips:
            return []
        rows = await self._db.fetch(
            "SELECT h.inbox_id, h.chip, w.body FROM webhook_handoff h"
            " JOIN webhook_inbox w ON w.id = h.inbox_id"
            " WHERE h.done_at IS NULL AND h.chip = ANY($1::text[])"
            " AND (h.inbox_id, h.chip) > ($2::bigint, $3::text)"
            " ORDER BY h.inbox_id, h.chip LIMIT $4",
            chips,
            after[0],
            after[1],
            limit,
        )
        return [Handoff(r["inbox_id"], r["chip"], bytes(r["body"])) for r in rows]

    async def handoffs_done(self, pairs: Sequence[tuple[int, str]]) -> None:
        if pairs:
            await self._db.execute(
                "UPDATE webhook_handoff h SET done_at = now()"
                " FROM unnest($1::bigint[], $2::text[]) AS d(inbox_id, chip)"
                " WHERE h.inbox_id = d.inbox_id AND h.chip = d.chip AND h.done_at IS NULL",
                [i for i, _ in pairs],
                [c for _, c in pairs],
            )

    async def mark(self, outcomes: Sequence[Outcome], keys: dict[int, str]) -> None:
        if not outcomes:
            return
        await self._db.execute(
            _MARK,
            [o.id for o in outcomes],
            [o.state for o in outcomes],
            [keys[o.id] for o in outcomes],
            [o.events for o in outcomes],
            [o.unknown_changes for o in outcomes],
            [o.unknown_number for o in outcomes],
        )

    async def stats(self) -> InboxStats:
        """Counts of every webhook request ever stored: the rows kept plus those that
        retention deleted (``webhook_pruned_counts``), so pruning changes no number."""
        row = await self._db.fetchrow(_STATS)
        assert row is not None
        return InboxStats(**{k: int(row[k]) for k in InboxStats.__dataclass_fields__})

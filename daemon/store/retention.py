"""``RetentionRepository``: delete the rows of ever-growing tables once nothing needs them.

Why: nothing else ever deletes webhook dedup keys, processed webhook bodies, applied
hand-offs or budget alert claims, so a busy daemon's database grew for ever. What each
row is for, and so when it may go (the ages come from ``[storage.retention]``, whose
minimums :mod:`config.model` enforces):

* ``webhook_seen``: an event key makes a retried event apply once. Meta retries for up
  to 7 days, so a key older than the retention (>= 7 days) guards nothing.
* ``webhook_inbox``: a body is needed until processed, and then its hash
  (``dedupe_key``) catches an identical retry, so a row goes only once processed longer
  ago than the retention (>= 7 days), and never while a hand-off of it is pending (the
  other node reads the body from it). A refused-signature row (empty body, only counted)
  goes by its arrival time. Its orphans (events of unknown numbers, read by nothing) and
  its applied hand-offs go with it, in the same statement, as the foreign keys demand.
  ``metad webhooks stats`` counts every request ever received, so that statement also
  adds what the deleted rows counted to ``webhook_pruned_counts`` (migration 0012),
  which :meth:`InboxRepository.stats` adds to the rows kept.
* ``webhook_handoff``: an applied hand-off is a trace only (its events' keys are in
  ``webhook_seen``); pending ones are work and stay, unless their chip has left the
  configuration: a hand-off pending for longer than the inbox retention, for a chip the
  leader no longer configures, has nobody left to apply it and would keep its body for
  ever. It goes, with a warning naming the chip (its events are lost to that chip, which
  no daemon runs).
* ``budget_alerts``: a claim stops an alert from being raised twice in its period, so it
  must outlive the longest period, a month (the retention is >= 32 days).
* the message history (``outbox``, ``budget_ledger``, ``campaign_recipients``): see
  :mod:`daemon.store.history`, which follows the same rules for batches and daemons.
* ``otp_codes``: a code's row holds its hash, its attempts, its lockout and its hourly
  send count. Once all of those are over for a day it only keeps a hash that a 6-digit
  code could be recovered from, so it goes. ``shift_confirmations``: an offer is
  answered or forgotten within days; it goes with the message history. ``media_cache``:
  Meta forgets an uploaded media id after 30 days, so the row goes once expired.

How: every statement deletes at most ``batch_rows`` rows and commits on its own, so a
backlog never holds locks or a snapshot for long; the caller's ``keep_going`` is asked
between batches, so one run has a bounded duration too. No batch scans a whole table:
``webhook_seen`` and ``budget_alerts`` are found by age (an index on ``seen_at``,
migration 0011; the alerts are a few rows a period), the inbox and the hand-offs by
walking their primary keys in windows from the oldest (ids grow with time) until a
window reaches rows younger than the retention. Ages are measured with the server's
clock, the one that stamped the rows.

Several daemons (:mod:`daemon.cluster`): the leader prunes, but two may overlap while
leadership moves. That is harmless: every row is deleted by one statement only (the
other finds it gone, or waits for its lock and then finds it gone), counts come from
``RETURNING`` so nothing is counted twice (the webhook counts too: they are added from
the same ``RETURNING``, in the deleting statement, so they commit with the delete), and
no decision rests on a row that another statement could change (a processed body stays
processed; a hand-off only goes from pending to applied).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from daemon.store.campaigns import PROGRESS_SQL
from daemon.store.history import HISTORY_TABLES, HistoryRepository
from daemon.store.inbox import COUNTED_COLUMNS, pruned_counts_sql
from daemon.store.sweep import always, sweep

if TYPE_CHECKING:
    from config.model import RetentionConfig
    from daemon.store.connection import Queries, Row

__all__ = ["EXPIRED_TABLES", "TABLES", "Pruned", "RetentionRepository", "Swept"]

EXPIRED_TABLES: Final = ("otp_codes", "shift_confirmations", "media_cache")
"""Tables of rows that expire (:meth:`RetentionRepository.prune_expired`)."""

TABLES: Final = (
    "webhook_inbox",
    "webhook_orphans",
    "webhook_handoff",
    "webhook_seen",
    "budget_alerts",
    *HISTORY_TABLES,
    *EXPIRED_TABLES,
)
"""The tables pruning deletes from (the keys of :attr:`Pruned.rows`)."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Swept:
    """What pruning one table deleted. ``complete``: no expired row is known to be left
    (false when ``keep_going`` stopped it between batches)."""

    rows: int
    complete: bool
    orphans: int = 0
    """Inbox only: ``webhook_orphans`` rows of the deleted bodies."""
    handoffs: int = 0
    """Inbox only: applied ``webhook_handoff`` rows of the deleted bodies."""


@dataclass(frozen=True, slots=True)
class Pruned:
    """One pruning of every table: rows deleted per table (:data:`TABLES`)."""

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    complete: bool = True
    abandoned: dict[str, int] = field(default_factory=dict)
    """Pending hand-offs deleted because their chip left the configuration, per chip
    (counted in ``rows["webhook_handoff"]`` too)."""

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# Candidates oldest first along the seen_at index, from the previous batch's newest (so
# a batch does not walk the index entries its predecessors left dead), deleted by ctid
# (a TID scan: an ``IN (subquery)`` may be planned as a scan of the whole table); the
# age test is repeated on the row deleted. ``found`` (not the rows deleted, which a
# concurrent pruner may have taken) says whether more may be left.
_SEEN = """
WITH doomed AS MATERIALIZED (
    SELECT ctid, seen_at FROM webhook_seen
    WHERE seen_at >= $3 AND seen_at < now() - $1::interval
    ORDER BY seen_at LIMIT $2
), gone AS (
    DELETE FROM webhook_seen
    WHERE ctid = ANY (ARRAY (SELECT ctid FROM doomed)) AND seen_at < now() - $1::interval
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS n,
       (SELECT count(*) FROM doomed) AS found,
       (SELECT max(seen_at) FROM doomed) AS newest
"""

# A window of the next $3 rows by id; of those, the bodies processed before the cutoff
# (or refused-signature rows received before it) with no pending hand-off go, with their
# orphans and applied hand-offs (sibling deletes: the foreign keys are checked at the
# end of the statement). ``recent``: the window reached bodies younger than the cutoff,
# and the ones after it are younger still. ``= ANY (ARRAY (...))`` keeps every delete an
# index lookup. ``counted`` adds what the deleted bodies counted in the webhook stats to
# webhook_pruned_counts. It is read last, so its row locks come after every delete and
# are held only until the commit; they are taken in outcome order, so a second pruner
# queues behind the first rather than deadlocking with it.
_INBOX = f"""
WITH win AS MATERIALIZED (
    SELECT id, received_at, processed_at, state FROM webhook_inbox
    WHERE id > $1 ORDER BY id LIMIT $3
), doomed AS MATERIALIZED (
    SELECT id FROM win
    WHERE (processed_at < now() - $2::interval
           OR (state = 'rejected' AND received_at < now() - $2::interval))
      AND NOT EXISTS (
          SELECT 1 FROM webhook_handoff h WHERE h.inbox_id = win.id AND h.done_at IS NULL)
), orphans AS (
    DELETE FROM webhook_orphans WHERE inbox_id = ANY (ARRAY (SELECT id FROM doomed))
    RETURNING 1
), handoffs AS (
    DELETE FROM webhook_handoff
    WHERE inbox_id = ANY (ARRAY (SELECT id FROM doomed)) AND done_at IS NOT NULL
    RETURNING 1
), gone AS (
    DELETE FROM webhook_inbox WHERE id = ANY (ARRAY (SELECT id FROM doomed))
    RETURNING {", ".join(COUNTED_COLUMNS)}
), counted AS (
    {pruned_counts_sql("gone")}
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS n,
       (SELECT count(*) FROM orphans) AS orphans,
       (SELECT count(*) FROM handoffs) AS handoffs,
       (SELECT count(*) FROM win) AS walked,
       (SELECT max(id) FROM win) AS last_id,
       coalesce((SELECT bool_or(received_at >= now() - $2::interval) FROM win), true)
           AS recent,
       (SELECT count(*) FROM counted) AS outcomes
"""

# The same walk along (inbox_id, chip); a hand-off goes once applied before the cutoff.
_HANDOFF = """
WITH win AS MATERIALIZED (
    SELECT ctid, inbox_id, chip, created_at, done_at FROM webhook_handoff
    WHERE (inbox_id, chip) > ($1::bigint, $2::text) ORDER BY inbox_id, chip LIMIT $4
), gone AS (
    DELETE FROM webhook_handoff
    WHERE ctid = ANY (ARRAY (SELECT ctid FROM win WHERE done_at < now() - $3::interval))
      AND done_at < now() - $3::interval
    RETURNING 1
), last AS (
    SELECT inbox_id, chip FROM win ORDER BY inbox_id DESC, chip DESC LIMIT 1
)
SELECT (SELECT count(*) FROM gone) AS n,
       (SELECT count(*) FROM win) AS walked,
       (SELECT inbox_id FROM last) AS last_inbox_id,
       (SELECT chip FROM last) AS last_chip,
       coalesce((SELECT bool_or(created_at >= now() - $3::interval) FROM win), true)
           AS recent
"""

# Pending hand-offs of chips no longer configured (the pending index: a few rows).
_ABANDONED = """
WITH doomed AS MATERIALIZED (
    SELECT inbox_id, chip FROM webhook_handoff
    WHERE done_at IS NULL AND created_at < now() - $1::interval AND chip <> ALL ($2::text[])
    LIMIT $3
), gone AS (
    DELETE FROM webhook_handoff h USING doomed d
    WHERE h.inbox_id = d.inbox_id AND h.chip = d.chip AND h.done_at IS NULL
    RETURNING h.chip
)
SELECT (SELECT count(*) FROM doomed) AS found,
       coalesce((SELECT jsonb_object_agg(chip, n)
                 FROM (SELECT chip, count(*) AS n FROM gone GROUP BY chip) c), '{}') AS chips
"""

# Rows past their end ($1: how long after it; a scan: these tables hold what is live plus
# a batch of what just ended, once pruning runs), $2 rows at most; ``found`` says whether
# more may be left. The age test is repeated on the row deleted.
_OTP_ENDED = (
    "greatest(expires_at, coalesce(locked_until, expires_at),"
    " window_start + interval '1 hour') < now() - $1::interval"
)
_EXPIRED = {
    "otp_codes": _OTP_ENDED,
    "shift_confirmations": "coalesce(answered_at, sent_at) < now() - $1::interval",
    "media_cache": "expires_at < now() - $1::interval",
}


def _expired_sql(table: str) -> str:
    ended = _EXPIRED[table]
    return f"""
WITH doomed AS MATERIALIZED (
    SELECT ctid FROM {table} WHERE {ended} LIMIT $2
), gone AS (
    DELETE FROM {table} WHERE ctid = ANY (ARRAY (SELECT ctid FROM doomed)) AND {ended}
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS n, (SELECT count(*) FROM doomed) AS found
"""


# A few rows per period and scope: a scan is cheaper than an index to keep.
_ALERTS = """
WITH doomed AS MATERIALIZED (
    SELECT ctid FROM budget_alerts WHERE at < now() - $1::interval LIMIT $2
), gone AS (
    DELETE FROM budget_alerts
    WHERE ctid = ANY (ARRAY (SELECT ctid FROM doomed)) AND at < now() - $1::interval
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS n, (SELECT count(*) FROM doomed) AS found
"""


class RetentionRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db
        self._history = HistoryRepository(db, PROGRESS_SQL)

    async def prune(
        self,
        keep: RetentionConfig,
        keep_going: Callable[[], bool] = always,
        configured: Collection[str] | None = None,
    ) -> Pruned:
        """Prune every table by ``keep``; stops between batches once ``keep_going()`` is
        false (``complete`` is then false: call again later to go on). ``configured``:
        the chips of the configuration, whose pending hand-offs are kept (None: keep
        every pending hand-off)."""
        days = dt.timedelta(days=1)
        batch = keep.batch_rows
        abandoned: dict[str, int] = {}
        if configured is not None:
            abandoned = await self.abandon_handoffs(
                keep.webhook_inbox_days * days, configured, batch
            )
        inbox = await self.prune_inbox(keep.webhook_inbox_days * days, batch, keep_going)
        handoff = await self.prune_handoffs(keep.webhook_handoff_days * days, batch, keep_going)
        seen = await self.prune_seen(keep.webhook_seen_days * days, batch, keep_going)
        alerts = await self.prune_alerts(keep.budget_alerts_days * days, batch, keep_going)
        history = await self._history.prune(keep.messages_days * days, batch, keep_going)
        expired = {
            table: await self.prune_expired(table, after, batch, keep_going)
            for table, after in (
                ("otp_codes", days),
                ("shift_confirmations", keep.messages_days * days),
                ("media_cache", 0 * days),
            )
        }
        return Pruned(
            rows={
                "webhook_inbox": inbox.rows,
                "webhook_orphans": inbox.orphans,
                "webhook_handoff": inbox.handoffs + handoff.rows + sum(abandoned.values()),
                "webhook_seen": seen.rows,
                "budget_alerts": alerts.rows,
                **history.rows,
                **{table: swept.rows for table, swept in expired.items()},
            },
            complete=history.complete
            and all(s.complete for s in (inbox, handoff, seen, alerts, *expired.values())),
            abandoned=abandoned,
        )

    async def abandon_handoffs(
        self, older_than: dt.timedelta, configured: Collection[str], batch_rows: int
    ) -> dict[str, int]:
        """Delete hand-offs pending for longer than ``older_than`` for chips not in
        ``configured``; returns how many went per chip."""
        chips: dict[str, int] = {}

        async def batch(_: Row | None) -> Row | None:
            row = await self._db.fetchrow(_ABANDONED, older_than, list(configured), batch_rows)
            if row is not None:
                for chip, n in row["chips"].items():
                    chips[chip] = chips.get(chip, 0) + int(n)
            return row

        await sweep(batch, add=(), last=lambda r: r["found"] < batch_rows)
        return chips

    async def prune_seen(
        self, older_than: dt.timedelta, batch_rows: int, keep_going: Callable[[], bool] = always
    ) -> Swept:
        """Delete webhook event keys recorded more than ``older_than`` ago."""
        sums, complete = await sweep(
            lambda prev: self._db.fetchrow(
                _SEEN, older_than, batch_rows, _EPOCH if prev is None else prev["newest"]
            ),
            add=("n",),
            last=lambda r: r["found"] < batch_rows,
            keep_going=keep_going,
        )
        return Swept(sums["n"], complete)

    async def prune_inbox(
        self, older_than: dt.timedelta, batch_rows: int, keep_going: Callable[[], bool] = always
    ) -> Swept:
        """Delete webhook bodies processed more than ``older_than`` ago (and refused ones
        received that long ago) with no pending hand-off, with their orphans and
        applied hand-offs. Unprocessed bodies are never touched."""
        sums, complete = await sweep(
            lambda prev: self._db.fetchrow(
                _INBOX, 0 if prev is None else prev["last_id"], older_than, batch_rows
            ),
            add=("n", "orphans", "handoffs"),
            last=lambda r: r["walked"] < batch_rows or r["recent"],
            keep_going=keep_going,
        )
        return Swept(sums["n"], complete, sums["orphans"], sums["handoffs"])

    async def prune_handoffs(
        self, older_than: dt.timedelta, batch_rows: int, keep_going: Callable[[], bool] = always
    ) -> Swept:
        """Delete hand-offs applied more than ``older_than`` ago; pending ones stay."""
        sums, complete = await sweep(
            lambda prev: self._db.fetchrow(
                _HANDOFF,
                0 if prev is None else prev["last_inbox_id"],
                "" if prev is None else prev["last_chip"],
                older_than,
                batch_rows,
            ),
            add=("n",),
            last=lambda r: r["walked"] < batch_rows or r["recent"],
            keep_going=keep_going,
        )
        return Swept(sums["n"], complete)

    async def prune_alerts(
        self, older_than: dt.timedelta, batch_rows: int, keep_going: Callable[[], bool] = always
    ) -> Swept:
        """Delete budget alert claims made more than ``older_than`` ago."""
        sums, complete = await sweep(
            lambda _: self._db.fetchrow(_ALERTS, older_than, batch_rows),
            add=("n",),
            last=lambda r: r["found"] < batch_rows,
            keep_going=keep_going,
        )
        return Swept(sums["n"], complete)

    async def prune_expired(
        self,
        table: str,
        older_than: dt.timedelta,
        batch_rows: int,
        keep_going: Callable[[], bool] = always,
    ) -> Swept:
        """Delete the rows of ``table`` (one of :data:`EXPIRED_TABLES`) that ended more
        than ``older_than`` ago."""
        sql = _expired_sql(table)
        sums, complete = await sweep(
            lambda _: self._db.fetchrow(sql, older_than, batch_rows),
            add=("n",),
            last=lambda r: r["found"] < batch_rows,
            keep_going=keep_going,
        )
        return Swept(sums["n"], complete)

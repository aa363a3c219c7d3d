"""``HistoryRepository``: prune the message history once nothing needs it.

Why: every message leaves an outbox row (its payload included), two or three budget
journal entries and, in a campaign, a recipient row. At a million messages a day that is
gigabytes a month, and nothing deleted any of it. What each row is for, and so when it
may go (``messages_days`` of ``[storage.retention]``, at least 45 days, see
:data:`config.model.MESSAGE_HISTORY_MIN_DAYS`):

* An outbox row carries a message through its states; its id travels in
  ``biz_opaque_callback_data`` so a status webhook finds it. Once the row is finished
  (``accepted``, ``sent``, ``delivered``, ``read``, ``failed`` or ``cancelled``) and has
  not changed for the retention, no webhook can still come for it (Meta retries for 7
  days), so only reports read it. Rows ``queued`` or ``sending`` are live work and rows
  ``in_doubt`` wait for the operator: those always stay.
* A budget journal entry is replayed at a start only after the last checkpoint (or
  from the oldest current period, at most 37 days back), and a settled message is
  recalled from the journal only for a later price, which comes within Meta's 7 days of
  retries; so entries older than the retention are never read by the budget. A message
  whose reservation is still open (its last entry is a reservation) keeps its row and
  entries, so a budget never forgets money it holds.
* A campaign's rows are what ``metad campaign status`` counts. A running or paused
  campaign keeps all of them. Once a campaign has been finished or cancelled for the
  retention, its figures are frozen into ``campaigns.summary`` (migration 0014), which
  status reads from then on, and then its recipients, outbox rows, their budget entries
  and the taps on its buttons (``events`` of kind ``campaign.tap``, counted in the
  summary) go. The campaign row stays: its name cannot be started again, and its totals
  remain. A campaign with a message in doubt, live or with an open reservation waits.

How: like :mod:`daemon.store.retention` (whose job runs this), every statement deletes at
most ``batch_rows`` messages with their entries and commits on its own, and ``keep_going``
is asked between batches. Messages outside campaigns are found by walking the outbox's
primary key in windows from the oldest (ids grow with time) until a window reaches rows
created after the cutoff; a row's entries go in the statement that deletes the row, and
only if it did (``RETURNING``), so a row a late status webhook touched meanwhile stays
whole. Budget entries of no outbox row go by age (the ``at`` index).

Several daemons: freezing a summary happens once (``summary IS NULL``), every delete is
by key and idempotent, and the counts come from ``RETURNING``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from daemon.store.sweep import always, sweep

if TYPE_CHECKING:
    from daemon.store.connection import Queries, Row

__all__ = ["FINISHED", "HISTORY_TABLES", "HistoryPruned", "HistoryRepository"]

FINISHED: Final = ("accepted", "sent", "delivered", "read", "failed", "cancelled")
"""Outbox states no send will change again (``in_doubt`` waits for the operator)."""

HISTORY_TABLES: Final = ("outbox", "budget_ledger", "campaign_recipients", "events")
"""The tables history pruning deletes from (the keys of :attr:`HistoryPruned.rows`);
of ``events``, a campaign's taps only."""

_FINISHED_SQL: Final = ", ".join(f"'{s}'" for s in FINISHED)

# A message whose reservation is open: its last budget entry is a reservation (a
# settlement or a release closes it; a re-send may reserve again). Never NULL.
_OPEN_RESERVATION: Final = """(
    (SELECT b.kind FROM budget_ledger b WHERE b.outbox_id = {o}.id ORDER BY b.id DESC LIMIT 1)
    IS NOT DISTINCT FROM 'reservation')"""

# The next $3 outbox rows by id; of those, finished messages outside campaigns unchanged
# since the cutoff and holding no budget go, and their budget entries with them, but
# only the entries of rows the delete took (its state and age are checked again on the
# row deleted, which a late webhook may have changed). ``recent``: the window reached
# rows created after the cutoff, and every row after it is younger still.
_MESSAGES = f"""
WITH win AS MATERIALIZED (
    SELECT id, created_at, updated_at, state, campaign_id FROM outbox
    WHERE id > $1 ORDER BY id LIMIT $3
), doomed AS MATERIALIZED (
    SELECT id FROM win
    WHERE campaign_id IS NULL AND state IN ({_FINISHED_SQL})
      AND updated_at < now() - $2::interval
      AND NOT {_OPEN_RESERVATION.format(o="win")}
), gone AS (
    DELETE FROM outbox
    WHERE id = ANY (ARRAY (SELECT id FROM doomed))
      AND state IN ({_FINISHED_SQL}) AND updated_at < now() - $2::interval
    RETURNING id
), entries AS (
    DELETE FROM budget_ledger WHERE outbox_id = ANY (ARRAY (SELECT id FROM gone))
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS outbox,
       (SELECT count(*) FROM entries) AS budget_ledger,
       0 AS campaign_recipients, 0 AS events,
       (SELECT count(*) FROM win) AS walked,
       (SELECT max(id) FROM win) AS last_id,
       coalesce((SELECT bool_or(created_at >= now() - $2::interval) FROM win), true)
           AS recent
"""

# Budget entries of no outbox row (a message the journal knew by reference only), by age.
_UNLINKED = """
WITH doomed AS MATERIALIZED (
    SELECT id FROM budget_ledger
    WHERE at < now() - $1::interval AND outbox_id IS NULL ORDER BY at LIMIT $2
), gone AS (
    DELETE FROM budget_ledger WHERE id = ANY (ARRAY (SELECT id FROM doomed)) RETURNING 1
)
SELECT 0 AS outbox, (SELECT count(*) FROM gone) AS budget_ledger, 0 AS campaign_recipients,
       0 AS events, (SELECT count(*) FROM doomed) AS found
"""

# Campaigns over for the retention whose rows are not all gone yet (a few rows: a scan),
# unless one of their messages is live, in doubt or holds budget.
_DUE_CAMPAIGNS = f"""
SELECT c.id FROM campaigns c
WHERE c.state IN ('finished', 'cancelled') AND c.finished_at < now() - $1::interval
  AND (c.summary IS NULL
       OR EXISTS (SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id)
       OR EXISTS (SELECT 1 FROM outbox o WHERE o.campaign_id = c.id)
       OR EXISTS (SELECT 1 FROM events e WHERE e.kind = 'campaign.tap' AND e.subject = c.id))
  AND NOT EXISTS (
      SELECT 1 FROM outbox o WHERE o.campaign_id = c.id
         AND (o.state NOT IN ({_FINISHED_SQL}) OR {_OPEN_RESERVATION.format(o="o")}))
ORDER BY c.finished_at
"""


# The CTEs that delete the outbox rows of the CTE ``messages`` and their budget entries
# (sibling deletes: the foreign keys are checked at the end of the statement), and what
# they count. A campaign over for the retention has no message a webhook still moves.
_DELETE_MESSAGES: Final = """gone AS (
    DELETE FROM outbox WHERE id = ANY (ARRAY (SELECT id FROM messages)) RETURNING 1
), entries AS (
    DELETE FROM budget_ledger WHERE outbox_id = ANY (ARRAY (SELECT id FROM messages))
    RETURNING 1
)"""
_COUNTED: Final = """(SELECT count(*) FROM gone) AS outbox,
       (SELECT count(*) FROM entries) AS budget_ledger, 0 AS events"""

# The next $2 recipients of campaign $1, their outbox rows and those rows' budget entries.
_CAMPAIGN_BATCH = f"""
WITH doomed AS MATERIALIZED (
    SELECT recipient_key FROM campaign_recipients WHERE campaign_id = $1 LIMIT $2
), messages AS MATERIALIZED (
    SELECT id FROM outbox
    WHERE campaign_id = $1 AND recipient_id = ANY (ARRAY (SELECT recipient_key FROM doomed))
), recipients AS (
    DELETE FROM campaign_recipients
    WHERE campaign_id = $1 AND recipient_key = ANY (ARRAY (SELECT recipient_key FROM doomed))
    RETURNING 1
), {_DELETE_MESSAGES}
SELECT (SELECT count(*) FROM recipients) AS campaign_recipients, {_COUNTED},
       (SELECT count(*) FROM doomed) AS found
"""

# Outbox rows of campaign $1 that no recipient named (none are expected: a row written
# by an older version, say), once its recipients are gone.
_CAMPAIGN_LEFTOVERS = f"""
WITH messages AS MATERIALIZED (
    SELECT id FROM outbox WHERE campaign_id = $1 LIMIT $2
), {_DELETE_MESSAGES}
SELECT 0 AS campaign_recipients, {_COUNTED}, (SELECT count(*) FROM messages) AS found
"""

# The next $2 taps on campaign $1's buttons (events of daemon/campaigns/taps.py): its
# frozen summary counts them, and nothing else reads them.
_CAMPAIGN_TAPS = """
WITH doomed AS MATERIALIZED (
    SELECT id FROM events WHERE kind = 'campaign.tap' AND subject = $1 LIMIT $2
), gone AS (
    DELETE FROM events WHERE id = ANY (ARRAY (SELECT id FROM doomed)) RETURNING 1
)
SELECT 0 AS campaign_recipients, 0 AS outbox, 0 AS budget_ledger,
       (SELECT count(*) FROM gone) AS events, (SELECT count(*) FROM doomed) AS found
"""


@dataclass(frozen=True, slots=True)
class HistoryPruned:
    """What one history pruning deleted, per table (:data:`HISTORY_TABLES`), and the
    campaigns whose figures it froze. ``complete``: nothing expired is known to be left
    (false when ``keep_going`` stopped it between batches)."""

    rows: dict[str, int]
    frozen: int
    complete: bool


class HistoryRepository:
    def __init__(self, db: Queries, progress_sql: str) -> None:
        """``progress_sql``: the query of one campaign's figures (``$1``: its id), the one
        ``metad campaign status`` runs, so a frozen summary holds the same figures."""
        self._db = db
        self._freeze = (
            "UPDATE campaigns c SET summary = to_jsonb(p)"
            f" FROM ({progress_sql}) p WHERE c.id = $1 AND c.summary IS NULL"
        )

    async def prune(
        self, older_than: dt.timedelta, batch_rows: int, keep_going: Callable[[], bool] = always
    ) -> HistoryPruned:
        rows = dict.fromkeys(HISTORY_TABLES, 0)

        def found_all(row: Row) -> bool:  # a batch found fewer rows than it may delete
            return bool(row["found"] < batch_rows)

        def walked_all(row: Row) -> bool:  # a walk by id reached its end or young rows
            return bool(row["walked"] < batch_rows or row["recent"])

        async def run(
            batch: Callable[[Row | None], Awaitable[Row | None]], last: Callable[[Row], bool]
        ) -> bool:
            """One sweep, its rows counted per table; False when ``keep_going`` stopped it."""
            sums, complete = await sweep(
                batch, add=HISTORY_TABLES, last=last, keep_going=keep_going
            )
            for table, n in sums.items():
                rows[table] += n
            return complete

        frozen = 0
        for due in await self._db.fetch(_DUE_CAMPAIGNS, older_than):
            campaign_id: str = due["id"]
            if not keep_going():
                return HistoryPruned(rows, frozen, complete=False)
            # Freeze first: once the summary is there, status reads it, so deleting the
            # rows in batches never shows a half-counted campaign.
            if await self._db.execute(self._freeze, campaign_id) == "UPDATE 1":
                frozen += 1
            for sql in (_CAMPAIGN_BATCH, _CAMPAIGN_LEFTOVERS, _CAMPAIGN_TAPS):
                if not await run(self._again(sql, campaign_id, batch_rows), found_all):
                    return HistoryPruned(rows, frozen, complete=False)
        done = await run(
            lambda prev: self._db.fetchrow(
                _MESSAGES, 0 if prev is None else prev["last_id"], older_than, batch_rows
            ),
            walked_all,
        )
        done = await run(self._again(_UNLINKED, older_than, batch_rows), found_all) and done
        return HistoryPruned(rows, frozen, done)

    def _again(self, sql: str, *args: object) -> Callable[[Row | None], Awaitable[Row | None]]:
        """A batch that runs the same statement each time (what it deleted is gone)."""
        return lambda _: self._db.fetchrow(sql, *args)

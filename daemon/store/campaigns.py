"""``CampaignRepository``: campaigns, their recipients, and where each one is.

Why the recipient's fate is read from the outbox rather than copied here: the outbox row
is what the chip journals before each step of a send and what status webhooks move; a
second copy could disagree after a crash. A recipient row only says whether it was
handed to a chip (and which), skipped, refused or dropped; a handed row whose outbox
row never got past ``queued`` (so never reached Meta) is put back by :meth:`recover`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from daemon.store.connection import transaction_of

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["CampaignRepository", "CampaignRow", "PendingRecipient", "RecipientInput", "Tap"]


@dataclass(frozen=True, slots=True)
class RecipientInput:
    key: str
    to: str
    fields: Mapping[str, str]
    seq: int
    part: int = 0
    state: str = "pending"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PendingRecipient:
    key: str
    to: str
    fields: dict[str, str]
    seq: int
    part: int


@dataclass(frozen=True, slots=True)
class Tap:
    """A contact's tap on a campaign's button or card (``daemon.campaigns.taps``)."""

    at: dt.datetime
    recipient: str | None
    """The recipient's key in the campaign (its audience's key column), when known."""
    wa_id: str | None
    ref: str
    """What was tapped: the card's listing id, or the button's reference."""
    text: str | None
    """The button's text as the contact saw it."""
    chip: str | None


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: str
    name: str
    state: str
    spec: dict[str, Any]
    file: str | None
    reason: str | None
    cap_usd: float | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


_COLUMNS = "id, name, state, spec, file, reason, cap_usd, created_at, started_at, finished_at"

# Per message (``ref``) of campaign $1, as the budget ledger counts it: spent is its
# latest price (a second price replaces the first), reserved is its reservation while
# that is its last entry (a settlement or a release closes it; a re-send may reserve
# again), booked is when its latest reservation was made (the period it counts in).
_PER_MESSAGE = """
    SELECT (array_agg(amount_usd ORDER BY id DESC) FILTER (WHERE kind = 'settlement'))[1]
               AS spent,
           CASE (array_agg(kind ORDER BY id DESC))[1]
               WHEN 'reservation' THEN (array_agg(amount_usd ORDER BY id DESC))[1]
           END AS reserved,
           (array_agg(at ORDER BY id DESC) FILTER (WHERE kind = 'reservation'))[1] AS booked
    FROM budget_ledger WHERE campaign_id = $1 GROUP BY ref"""

# Why ``pending``, ``refused`` and ``in_flight`` are derived rather than read: a
# recipient's mark is written in batches after the chip answers (the outbox row is the
# truth), so for a moment a recipient is both "pending" and journalled, or "handed" and
# not journalled yet (in a chip's mailbox); and one whose send Meta failed is marked
# "refused" while its outbox row counts it as sent (and failed). Counted apart, pending
# + sent + ... came to more (or less) than the total. Here a recipient with an outbox
# row (not cancelled) counts by that row whatever its mark says, and one without by its
# mark, a handed one as in flight; so pending + in_flight + sent + in_doubt + skipped +
# refused + dropped = total at every moment.
PROGRESS_SQL = f"""
WITH r AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE state = 'pending') AS pending_rows,
           count(*) FILTER (WHERE state = 'handed') AS handed,
           count(*) FILTER (WHERE state = 'skipped') AS skipped,
           count(*) FILTER (WHERE state = 'refused') AS refused_rows,
           count(*) FILTER (WHERE state = 'dropped') AS dropped
    FROM campaign_recipients WHERE campaign_id = $1
), o AS (
    SELECT count(*) FILTER (WHERE state IN ('accepted', 'sent', 'delivered', 'read', 'failed'))
               AS sent,
           count(*) FILTER (WHERE state IN ('delivered', 'read')) AS delivered,
           count(*) FILTER (WHERE state = 'read') AS read,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE state IN ('queued', 'sending')) AS queued,
           count(*) FILTER (WHERE state = 'in_doubt') AS in_doubt,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM windows w WHERE w.chip = outbox.chip AND w.wa_id = outbox.wa_id
                 AND w.kind = 'service' AND w.opened_at > outbox.created_at)) AS replied
    FROM outbox WHERE campaign_id = $1
), m AS ({_PER_MESSAGE}
), b AS (
    SELECT coalesce(sum(spent), 0)::float8 AS spent,
           coalesce(sum(reserved), 0)::float8 AS reserved
    FROM m
), j AS (
    -- Recipients with an outbox row, by their mark: counted by the row instead.
    SELECT count(*) FILTER (WHERE jr.state = 'pending') AS pending,
           count(*) FILTER (WHERE jr.state = 'handed') AS handed,
           count(*) FILTER (WHERE jr.state = 'refused') AS refused
    FROM outbox jo JOIN campaign_recipients jr
      ON jr.campaign_id = jo.campaign_id AND jr.recipient_key = jo.recipient_id
    WHERE jo.campaign_id = $1 AND jo.state <> 'cancelled'
), t AS (
    SELECT count(*) AS taps FROM events WHERE kind = 'campaign.tap' AND subject = $1
)
SELECT r.total, r.pending_rows - j.pending AS pending, r.skipped,
       r.refused_rows - j.refused AS refused, r.dropped, o.sent, o.delivered, o.read,
       o.failed, o.queued + r.handed - j.handed AS in_flight, o.in_doubt, o.replied,
       b.spent, b.reserved, t.taps
FROM r, o, b, j, t
"""


# The counts, and the summary frozen when the rows were pruned (which wins: pruning
# deletes the rows in batches after freezing it).
_PROGRESS_OR_FROZEN = f"""
SELECT (SELECT summary FROM campaigns WHERE id = $1) AS frozen, p.*
FROM ({PROGRESS_SQL}) p
"""

# What the campaign's messages booked before $2, as the ledger books them.
_SPENT_BEFORE_SQL = f"""
SELECT coalesce(sum(coalesce(spent, 0) + coalesce(reserved, 0)), 0)
FROM ({_PER_MESSAGE}
) m WHERE booked < $2
"""

_TAPS_SQL = """
SELECT e.at, coalesce(o.recipient_id, r.recipient_key) AS recipient,
       e.data ->> 'wa_id' AS wa_id, e.data ->> 'ref' AS ref, e.data ->> 'text' AS text,
       e.data ->> 'chip' AS chip
FROM events e
LEFT JOIN outbox o ON o.wamid = e.data ->> 'context' AND o.campaign_id = $1
LEFT JOIN (
    SELECT DISTINCT ON (wa_id) wa_id, recipient_key FROM campaign_recipients
    WHERE campaign_id = $1 ORDER BY wa_id, seq, part
) r ON r.wa_id = e.data ->> 'wa_id'
WHERE e.kind = 'campaign.tap' AND e.subject = $1
ORDER BY e.at, e.id
"""


_CLAIM = """
WITH c AS (
    SELECT recipient_key FROM campaign_recipients
     WHERE campaign_id = $1 AND state = 'pending'
     ORDER BY seq, part LIMIT $2 FOR UPDATE SKIP LOCKED
)
UPDATE campaign_recipients r SET state = 'handed', chip = NULL, updated_at = now()
  FROM c WHERE r.campaign_id = $1 AND r.recipient_key = c.recipient_key
RETURNING r.recipient_key, r.wa_id, r.variables, r.seq, r.part
"""

_NOT_JOURNALLED = """NOT EXISTS (
    SELECT 1 FROM outbox o WHERE o.campaign_id = r.campaign_id
       AND o.recipient_id = r.recipient_key AND o.state <> 'cancelled')"""

_RECLAIM = f"""
WITH c AS (
    SELECT recipient_key FROM campaign_recipients r
     WHERE campaign_id = $1 AND state = 'handed'
       AND updated_at < now() - make_interval(secs => $3) AND {_NOT_JOURNALLED}
     ORDER BY seq, part LIMIT $2 FOR UPDATE SKIP LOCKED
)
UPDATE campaign_recipients r SET updated_at = now()
  FROM c WHERE r.campaign_id = $1 AND r.recipient_key = c.recipient_key
RETURNING r.recipient_key, r.wa_id, r.variables, r.seq, r.part
"""

_HELD_BY_A_CHIP = """EXISTS (
    SELECT 1 FROM outbox o WHERE o.campaign_id = r.campaign_id
       AND o.recipient_id = r.recipient_key AND o.state IN ('queued', 'sending'))"""

_OUTSTANDING = f"""
SELECT count(*) FROM campaign_recipients r
 WHERE campaign_id = $1
   AND (state = 'pending'
        OR (state = 'handed' AND ({_NOT_JOURNALLED} OR {_HELD_BY_A_CHIP})))
"""


# The recipients' numbers once, then their windows and sent messages on these chips, the
# latest first. As joins, not a lookup per recipient: the planner probes the indexes for a
# small campaign and hashes a big one (200,000 recipients over 2 million messages: 2.3 s
# instead of 19 s, at every start and resume of the campaign).
_AFFINITY = """
WITH r AS MATERIALIZED (
    SELECT DISTINCT wa_id FROM campaign_recipients WHERE campaign_id = $1
), talk AS (
    SELECT w.wa_id, w.chip, w.opened_at AS at FROM windows w JOIN r USING (wa_id)
    WHERE w.chip = ANY ($2::text[])
    UNION ALL
    SELECT o.wa_id, o.chip, o.created_at FROM outbox o JOIN r USING (wa_id)
    WHERE o.chip = ANY ($2::text[]) AND o.state IN ('sent', 'delivered', 'read')
)
SELECT DISTINCT ON (wa_id) wa_id, chip FROM talk ORDER BY wa_id, at DESC
"""


class CampaignRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def create(
        self,
        *,
        campaign_id: str,
        spec: Mapping[str, Any],
        file: str | None,
        cap_usd: float | None,
        recipients: Sequence[RecipientInput],
    ) -> bool:
        """Store a new campaign with its recipients, in one transaction; False when a
        campaign with this id exists already (nothing is changed then)."""
        async with transaction_of(self._db, "create") as con:
            created = await con.fetchval(
                "INSERT INTO campaigns (id, name, spec, state, file, cap_usd)"
                " VALUES ($1, $1, $2, 'draft', $3, $4) ON CONFLICT (id) DO NOTHING"
                " RETURNING true",
                campaign_id,
                dict(spec),
                file,
                cap_usd,
            )
            if not created:
                return False
            await con.copy_records(
                "campaign_recipients",
                [
                    (
                        campaign_id,
                        r.key,
                        r.to,
                        dict(r.fields),
                        r.state,
                        r.seq,
                        r.part,
                        r.reason,
                    )
                    for r in recipients
                ],
                [
                    "campaign_id",
                    "recipient_key",
                    "wa_id",
                    "variables",
                    "state",
                    "seq",
                    "part",
                    "reason",
                ],
            )
        return True

    async def get(self, campaign_id: str) -> CampaignRow | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM campaigns WHERE id = $1", campaign_id
        )
        return _campaign(row) if row is not None else None

    async def all(self) -> list[CampaignRow]:
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM campaigns ORDER BY created_at, id")
        return [_campaign(r) for r in rows]

    async def set_state(self, campaign_id: str, state: str, reason: str | None = None) -> None:
        await self._db.execute(
            "UPDATE campaigns SET state = $2, reason = $3, updated_at = now(),"
            " started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now())"
            "                   ELSE started_at END,"
            " finished_at = CASE WHEN $2 IN ('finished', 'cancelled') THEN now()"
            "                    ELSE finished_at END"
            " WHERE id = $1",
            campaign_id,
            state,
            reason,
        )

    async def pending(
        self, campaign_id: str, *, after: tuple[int, int], limit: int
    ) -> list[PendingRecipient]:
        """The next pending recipients in file order (seq, then carousel part)."""
        rows = await self._db.fetch(
            "SELECT recipient_key, wa_id, variables, seq, part FROM campaign_recipients"
            " WHERE campaign_id = $1 AND state = 'pending' AND (seq, part) > ($2, $3)"
            " ORDER BY seq, part LIMIT $4",
            campaign_id,
            after[0],
            after[1],
            limit,
        )
        return [
            PendingRecipient(
                r["recipient_key"],
                r["wa_id"],
                dict(r["variables"]),
                r["seq"],
                r["part"],
            )
            for r in rows
        ]

    async def claim(
        self, campaign_id: str, *, limit: int, stale_s: float
    ) -> list[PendingRecipient]:
        """Several daemons on one campaign: take up to ``limit`` pending recipients for
        this daemon, in file order. ``FOR UPDATE SKIP LOCKED`` and the update to
        ``handed`` (no chip yet) are one statement, so two daemons never get the same
        recipient and none waits for another's rows. When nothing is pending, recipients
        handed over more than ``stale_s`` ago whose message never reached Meta (no
        outbox row, or a cancelled one: their daemon died) are taken instead. A second
        hand-over is still stopped by the outbox's unique (campaign, recipient) row."""
        rows = await self._db.fetch(_CLAIM, campaign_id, limit)
        if not rows:
            rows = await self._db.fetch(_RECLAIM, campaign_id, limit, stale_s)
        return sorted(
            (
                PendingRecipient(
                    r["recipient_key"], r["wa_id"], dict(r["variables"]), r["seq"], r["part"]
                )
                for r in rows
            ),
            key=lambda p: (p.seq, p.part),
        )

    async def outstanding(self, campaign_id: str) -> int:
        """Recipients whose message has not left a chip yet, on any daemon: pending,
        handed without a live outbox row (claimed by a daemon that has not journalled it
        yet, or that died), or journalled and still queued or being sent by a chip.

        Why the last ones: a daemon that finds nothing left to claim must not call the
        campaign finished while another daemon's chips still hold its messages. It did,
        and a daemon stopped at "finished" cancelled them (a finished campaign is not
        resumed: they were never sent)."""
        return int(await self._db.fetchval(_OUTSTANDING, campaign_id))

    async def mark(
        self,
        campaign_id: str,
        changes: Sequence[tuple[str, str, str | None, str | None]],
    ) -> None:
        """Set (key, state, reason, chip) for many recipients in one statement."""
        if not changes:
            return
        await self._db.execute(
            "UPDATE campaign_recipients r SET state = c.state, reason = c.reason,"
            " chip = coalesce(c.chip, r.chip), updated_at = now()"
            " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])"
            "   AS c(key, state, reason, chip)"
            " WHERE r.campaign_id = $1 AND r.recipient_key = c.key",
            campaign_id,
            [c[0] for c in changes],
            [c[1] for c in changes],
            [c[2] for c in changes],
            [c[3] for c in changes],
        )

    async def recover(self, campaign_id: str) -> int:
        """After a restart: recipients handed to a chip whose message never reached Meta
        (no outbox row, or one cancelled before its POST) are pending again."""
        status = await self._db.execute(
            "UPDATE campaign_recipients r SET state = 'pending', updated_at = now()"
            " WHERE r.campaign_id = $1 AND r.state = 'handed' AND NOT EXISTS ("
            "   SELECT 1 FROM outbox o WHERE o.campaign_id = r.campaign_id"
            "     AND o.recipient_id = r.recipient_key AND o.state <> 'cancelled')",
            campaign_id,
        )
        return int(status.split()[-1])

    async def progress(self, campaign_id: str) -> dict[str, Any]:
        """The campaign's figures: counted from its rows, or frozen in its summary once
        they were pruned (:mod:`daemon.store.history`), in one round trip."""
        row = await self._db.fetchrow(_PROGRESS_OR_FROZEN, campaign_id)
        assert row is not None
        frozen = row["frozen"]
        if frozen is not None:
            return {**frozen, "history_pruned": True}
        return {
            k: (float(v) if isinstance(v, float) else int(v))
            for k, v in row.items()
            if k != "frozen"
        }

    async def spent_before(self, campaign_id: str, before: dt.datetime) -> Decimal:
        """What the campaign's messages booked before ``before`` cost (their prices, or
        their reservations still open): what its ``budget_usd`` has left for the month
        that starts there is the rest (:class:`~actors.budget.values.Registered`)."""
        value = await self._db.fetchval(_SPENT_BEFORE_SQL, campaign_id, before)
        return Decimal(value)

    async def taps(self, campaign_id: str) -> list[Tap]:
        """Every tap on the campaign's buttons and cards, oldest first, with the recipient
        it answered: the message it replied to (its ``context``, a unique wamid), else
        the campaign's first recipient of that number."""
        rows = await self._db.fetch(_TAPS_SQL, campaign_id)
        return [
            Tap(r["at"], r["recipient"], r["wa_id"], r["ref"], r["text"], r["chip"]) for r in rows
        ]

    async def in_doubt(self, campaign_id: str, *, older_than: dt.datetime) -> list[dict[str, Any]]:
        """Messages a crash left unsettled for longer than the hold: for the operator."""
        rows = await self._db.fetch(
            "SELECT o.id, o.recipient_id, o.wa_id, o.chip, o.updated_at FROM outbox o"
            " WHERE o.campaign_id = $1 AND o.state = 'in_doubt' AND o.updated_at < $2"
            " ORDER BY o.id",
            campaign_id,
            older_than,
        )
        return [dict(r.items()) for r in rows]

    async def resolve_in_doubt(self, campaign_id: str, recipient: str, action: str) -> int | None:
        """The operator's answer for one in-doubt message: ``drop`` it (counted as
        dropped) or ``resend`` it (the old row is cancelled, the recipient pending).
        Returns the id of the outbox row cancelled, None when none was in doubt: its
        budget reservation is the caller's to have released (a resend books afresh)."""
        async with transaction_of(self._db, "resolve_in_doubt") as con:
            outbox_id = await con.fetchval(
                "UPDATE outbox SET state = 'cancelled', updated_at = now(),"
                " error = jsonb_build_object('operator', $3::text)"
                " WHERE campaign_id = $1 AND recipient_id = $2 AND state = 'in_doubt'"
                " RETURNING id",
                campaign_id,
                recipient,
                action,
            )
            if outbox_id is None:
                return None
            await con.execute(
                "UPDATE campaign_recipients SET state = $3, reason = $4, updated_at = now()"
                " WHERE campaign_id = $1 AND recipient_key = $2",
                campaign_id,
                recipient,
                "pending" if action == "resend" else "dropped",
                None if action == "resend" else "in doubt: dropped by the operator",
            )
        return int(outbox_id)

    async def affinity(self, campaign_id: str, chips: Sequence[str]) -> dict[str, str]:
        """Recipient number → the chip of ours that talked with it last (recent outbox
        rows and open windows), among ``chips``."""
        rows = await self._db.fetch(_AFFINITY, campaign_id, list(chips))
        return {r["wa_id"]: r["chip"] for r in rows}

    async def opted_out(self) -> frozenset[str]:
        rows = await self._db.fetch(
            "SELECT wa_id FROM contacts WHERE opted_out_marketing"
            " UNION SELECT a.alias FROM contact_aliases a JOIN contacts c USING (wa_id)"
            " WHERE c.opted_out_marketing"
        )
        return frozenset(r[0] for r in rows)


def _campaign(r: Any) -> CampaignRow:
    spec = dict(r["spec"])
    return CampaignRow(
        id=r["id"],
        name=r["name"],
        state=r["state"],
        spec=spec,
        file=r["file"],
        reason=r["reason"],
        cap_usd=float(r["cap_usd"]) if r["cap_usd"] is not None else None,
        created_at=r["created_at"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
    )

"""``ChipJournalRepository``: what a chip writes so a restart rebuilds it (``actors.ports``).

Why floats at this boundary: the chip's rules work in epoch seconds (cheap to compare a
million windows); PostgreSQL stores ``timestamptz``. Conversions happen here only.

Why the outbox writes are group-committed: every chip journals each message two or three
times before and after its POST, and one commit per write (a WAL flush and a bridge hop
each) capped the fleet at ~100 msg/s. ``outbox_new`` and ``outbox_set`` calls of all
chips that arrive while a batch is being written go together into the next one: one
statement (``unnest``), one commit. Each call still returns only once its row is
committed, with the same result the single-row statement would give; a batch that fails
is retried one operation at a time, so only the offending call fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from actors.ports import OutboxRow, RecentSend
from daemon.store.connection import json_text
from daemon.store.writer import GroupCommit

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["ChipJournalRepository", "RatingChangeRow"]

_WINDOW_HOURS = {"service": 24.0, "free_entry": 72.0}


def _ts(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json_text(dict(value))


_NEW_ONE = (
    "INSERT INTO outbox (chip, wa_id, kind, payload, decision, campaign_id, recipient_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (campaign_id, recipient_id) WHERE campaign_id IS NOT NULL DO UPDATE"
    " SET chip = EXCLUDED.chip, wa_id = EXCLUDED.wa_id, kind = EXCLUDED.kind,"
    " payload = EXCLUDED.payload, decision = EXCLUDED.decision, state = 'queued',"
    " error = NULL, updated_at = now() WHERE outbox.state = 'cancelled'"
    " RETURNING id"
)

_ALIAS_ONE = (
    "INSERT INTO contact_aliases (alias, wa_id, kind) VALUES ($1, $2,"
    " CASE WHEN $1 LIKE '%.%' THEN 'bsuid' ELSE 'wa_id' END)"
    " ON CONFLICT (alias) DO UPDATE SET wa_id = EXCLUDED.wa_id"
)

_SET_ONE = (
    "UPDATE outbox SET state = $2, wamid = coalesce($3, wamid),"
    " error = coalesce($4, error), updated_at = now(),"
    " attempts = attempts + (CASE WHEN $2 = 'sending' THEN 1 ELSE 0 END)"
    " WHERE id = $1 AND state IN ('queued', 'sending', 'in_doubt')"
)

# The batched forms of the two statements above. Ids of new rows are drawn from the
# outbox's identity sequence up front so each input row can be matched with its
# outcome: a fresh row has the id drawn for it, a cancelled row taken over keeps its
# own (matched by campaign and recipient), a live one returns nothing (None).
_SET_MANY = (
    "UPDATE outbox o SET state = u.state, wamid = coalesce(u.wamid, o.wamid),"
    " error = coalesce(u.error::jsonb, o.error), updated_at = now(),"
    " attempts = o.attempts + (CASE WHEN u.state = 'sending' THEN 1 ELSE 0 END)"
    " FROM unnest(${0}::bigint[], ${1}::text[], ${2}::text[], ${3}::text[])"
    "   AS u(id, state, wamid, error)"
    " WHERE o.id = u.id AND o.state IN ('queued', 'sending', 'in_doubt')"
)

_ALIASES_MANY = (
    "INSERT INTO contact_aliases (alias, wa_id, kind)"
    " SELECT a, w, CASE WHEN a LIKE '%.%' THEN 'bsuid' ELSE 'wa_id' END"
    " FROM unnest(${0}::text[], ${1}::text[]) AS u(a, w)"
    " ON CONFLICT (alias) DO UPDATE SET wa_id = EXCLUDED.wa_id"
)

_NEW_MANY = (
    "input AS ("
    "  SELECT nextval('outbox_id_seq'::regclass) AS nid, u.*"
    "  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    "              $6::text[], $7::text[]) WITH ORDINALITY"
    "    AS u(chip, wa_id, kind, payload, decision, campaign_id, recipient_id, ord)"
    "), ins AS ("
    "  INSERT INTO outbox (id, chip, wa_id, kind, payload, decision, campaign_id, recipient_id)"
    "  SELECT nid, chip, wa_id, kind, payload::jsonb, decision::jsonb, campaign_id,"
    "         recipient_id FROM input ORDER BY ord"
    "  ON CONFLICT (campaign_id, recipient_id) WHERE campaign_id IS NOT NULL DO UPDATE"
    "  SET chip = EXCLUDED.chip, wa_id = EXCLUDED.wa_id, kind = EXCLUDED.kind,"
    "  payload = EXCLUDED.payload, decision = EXCLUDED.decision, state = 'queued',"
    "  error = NULL, updated_at = now() WHERE outbox.state = 'cancelled'"
    "  RETURNING id, campaign_id, recipient_id"
    ")"
    " SELECT i.ord, coalesce(a.id, b.id) AS id FROM input i"
    " LEFT JOIN ins a ON a.id = i.nid"
    " LEFT JOIN ins b ON i.campaign_id IS NOT NULL"
    "   AND b.campaign_id = i.campaign_id AND b.recipient_id = i.recipient_id"
)


@dataclass(frozen=True, slots=True)
class _New:
    chip: str
    key: str
    kind: str
    payload: str
    decision: str
    campaign_id: str | None
    recipient_id: str | None


@dataclass(frozen=True, slots=True)
class _Set:
    outbox_id: int
    state: str
    wamid: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class _Aliases:
    pairs: tuple[tuple[str, str], ...]


_Op = _New | _Set | _Aliases


def _op_key(op: _Op) -> Hashable:
    if isinstance(op, _Set):
        return ("o", op.outbox_id)
    if isinstance(op, _Aliases) or op.campaign_id is None:
        return None  # conflicts with nothing (aliases: the latest of a batch wins)
    return ("r", op.campaign_id, op.recipient_id)


async def _outbox_many(
    target: Any, news: list[_New], sets: list[_Set], aliases: list[tuple[str, str]]
) -> dict[int, int | None]:
    """Loop side: one statement for the whole batch; ord (1-based) → outbox id."""
    params: list[Any] = []
    parts: list[str] = []
    if news:
        params += [
            [n.chip for n in news],
            [n.key for n in news],
            [n.kind for n in news],
            [n.payload for n in news],
            [n.decision for n in news],
            [n.campaign_id for n in news],
            [n.recipient_id for n in news],
        ]
    if sets:
        first = len(params) + 1
        parts.append(_SET_MANY.format(first, first + 1, first + 2, first + 3))
        params += [
            [s.outbox_id for s in sets],
            [s.state for s in sets],
            [s.wamid for s in sets],
            [s.error for s in sets],
        ]
    if aliases:
        last = dict(aliases)  # one row per alias (the latest), as executemany would leave
        first = len(params) + 1
        parts.append(_ALIASES_MANY.format(first, first + 1))
        params += [list(last), list(last.values())]
    if not news:
        if len(parts) == 1:
            await target.execute(parts[0], *params)
        else:
            await target.execute(_with(parts, "SELECT 1"), *params)
        return {}
    rows = await target.fetch(_with(parts, _NEW_MANY), *params)
    return {r["ord"]: r["id"] for r in rows}


def _with(writes: list[str], rest: str) -> str:
    """One statement: every write as a data-modifying CTE, then ``rest`` (more CTEs and
    the final SELECT, or just the SELECT)."""
    ctes = ", ".join(f"w{i} AS ({sql} RETURNING 1)" for i, sql in enumerate(writes))
    if rest.startswith("SELECT"):
        return f"WITH {ctes} {rest}"
    return f"WITH {ctes}, {rest}" if ctes else f"WITH {rest}"


ALIASES_SQL = (
    "SELECT alias, wa_id FROM contact_aliases WHERE wa_id IN ("
    " SELECT wa_id FROM windows WHERE chip = $1 UNION"
    " SELECT wa_id FROM outbox WHERE chip = $1 AND created_at > now() - interval '1 day')"
)
"""The aliases of the contacts one chip deals with (:meth:`ChipJournalRepository.
load_aliases`): those it has a window with, and those it sent to in the last day, found
by ``outbox_chip_wa_id_idx`` (chip, wa_id, created_at). By ``updated_at``, which no index
holds, every start of every chip read its whole message history."""


RECENT_SENDS_SQL = (
    "SELECT wa_id, extract(epoch FROM updated_at)::float8 AS at,"
    " coalesce((decision->>'business_initiated')::boolean, false) AS bi"
    " FROM outbox WHERE chip = $1 AND updated_at >= $2"
    " AND created_at >= $2 - interval '1 day'"
    " AND state IN ('accepted', 'sent', 'delivered', 'read', 'sending', 'in_doubt')"
    " ORDER BY updated_at"
)
"""A chip's sends since ``$2`` (its rate gate's day, rebuilt at a start). Bounded by
``created_at`` too, which ``outbox_chip_wa_id_idx`` holds, a day before ``$2``: a message
is sent soon after it is queued (a day covers a chip paused with messages queued), and
without the bound every start of every chip read its whole message history."""


@dataclass(frozen=True, slots=True)
class RatingChangeRow:
    chip: str
    at: float
    from_rating: str
    to_rating: str


_SETTLE_ABANDONED = """
WITH s AS (
    UPDATE outbox SET state = CASE state WHEN 'sending' THEN 'in_doubt' ELSE 'cancelled' END,
           updated_at = now()
    WHERE chip = $1 AND state IN ('queued', 'sending')
    RETURNING state, campaign_id, recipient_id
), r AS (
    UPDATE campaign_recipients cr SET state = 'pending', updated_at = now()
    FROM s
    WHERE s.state = 'cancelled' AND cr.campaign_id = s.campaign_id
      AND cr.recipient_key = s.recipient_id AND cr.state = 'handed'
)
SELECT count(*) FROM s
"""


class ChipJournalRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db
        self.outbox_writes: GroupCommit[_Op, int | None] = GroupCommit(
            self._write_outbox, key=_op_key
        )
        """The outbox's group commit (its ``batches``/``ops`` say how well it batches)."""

    async def load_windows(self, chip: str) -> list[tuple[str, str, float]]:
        rows = await self._db.fetch(
            "SELECT wa_id, kind, extract(epoch FROM expires_at)::float8 AS exp"
            " FROM windows WHERE chip = $1 AND expires_at > now()",
            chip,
        )
        return [(r["wa_id"], r["kind"], r["exp"]) for r in rows]

    async def save_windows(
        self, chip: str, changes: Sequence[tuple[str, str, float | None]]
    ) -> None:
        upserts = [
            (chip, key, kind, _ts(exp - _WINDOW_HOURS[kind] * 3600), _ts(exp))
            for key, kind, exp in changes
            if exp is not None
        ]
        deletes = [(chip, key, kind) for key, kind, exp in changes if exp is None]
        if deletes:
            await self._db.executemany(
                "DELETE FROM windows WHERE chip = $1 AND wa_id = $2 AND kind = $3", deletes
            )
        if upserts:
            # Never move an expiry backwards: webhooks arrive out of order.
            await self._db.executemany(
                "INSERT INTO windows (chip, wa_id, kind, opened_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chip, wa_id, kind) DO UPDATE"
                " SET opened_at = EXCLUDED.opened_at, expires_at = EXCLUDED.expires_at"
                " WHERE windows.expires_at < EXCLUDED.expires_at",
                upserts,
            )

    async def load_aliases(self, chip: str) -> list[tuple[str, str]]:
        # Only the contacts this chip deals with: the alias table is global and grows
        # with the whole fleet, each chip must not hold all of it.
        rows = await self._db.fetch(ALIASES_SQL, chip)
        return [(r["alias"], r["wa_id"]) for r in rows]

    async def save_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        if pairs:  # in the outbox's group commit: a chip learns one per new contact
            await self.outbox_writes.submit(_Aliases(tuple(pairs)))

    async def load_transitions(self, chip: str) -> list[dict[str, Any]]:
        rows = await self._db.fetch(
            "SELECT data FROM quality_transitions WHERE chip = $1 ORDER BY id", chip
        )
        return [dict(r["data"]) for r in rows]

    async def rating_changes(self, since: float) -> list[RatingChangeRow]:
        """Every chip's quality rating changes after ``since`` (epoch seconds), oldest
        first: the console's quality timeline before it connected."""
        rows = await self._db.fetch(
            "SELECT chip, extract(epoch FROM at)::float8 AS at, from_rating, to_rating"
            " FROM quality_transitions WHERE at > $1 AND from_rating <> to_rating"
            " ORDER BY at, id",
            _ts(since),
        )
        return [RatingChangeRow(r["chip"], r["at"], r["from_rating"], r["to_rating"]) for r in rows]

    async def save_transitions(self, chip: str, transitions: Sequence[dict[str, Any]]) -> None:
        await self._db.executemany(
            "INSERT INTO quality_transitions"
            " (chip, from_rating, to_rating, reason, at, cause, data)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (
                    chip,
                    str(t["from_rating"]),
                    str(t["to_rating"]),
                    t["reason"],
                    _ts(t["at"]),
                    t["cause"],
                    {k: (str(v) if k.endswith(("_rating", "_mode")) else v) for k, v in t.items()},
                )
                for t in transitions
            ],
        )

    async def recent_sends(self, chip: str, since: float) -> list[RecentSend]:
        rows = await self._db.fetch(RECENT_SENDS_SQL, chip, _ts(since))
        return [RecentSend(r["wa_id"], r["at"], r["bi"]) for r in rows]

    async def settle_abandoned(self, chip: str) -> int:
        """After a crash, or once a removed chip stopped: held messages are cancelled,
        those mid-POST are in doubt. Returns how many.

        A cancelled message's campaign recipient, handed to the chip, is pending again in
        the same statement: its message never reached Meta, and a runner only looks at
        pending recipients (it used to stay "handed", in flight for ever, until a runner
        started again: with several daemons, one that took a dead one's chips over)."""
        n = await self._db.fetchval(_SETTLE_ABANDONED, chip)
        return int(n)

    async def outbox_new(self, rows: Sequence[OutboxRow]) -> list[int | None]:
        # A campaign recipient has one outbox row, ever (a unique index): a second send
        # finds it and gets None, unless the row was cancelled before its POST — then
        # it never reached Meta and is taken over for this attempt.
        ops = [
            _New(
                r.chip,
                r.key,
                r.kind,
                json_text(dict(r.payload)),
                json_text(dict(r.decision)),
                r.campaign_id,
                r.recipient_id,
            )
            for r in rows
        ]
        return [o.unwrap() for o in await self.outbox_writes.submit_many(ops)]

    async def outbox_sending(self, outbox_ids: Sequence[int]) -> None:
        ops = [_Set(oid, "sending", None, None) for oid in outbox_ids]
        for o in await self.outbox_writes.submit_many(ops):
            o.unwrap()

    async def outbox_set(
        self,
        outbox_id: int,
        state: str,
        *,
        wamid: str | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        # A status webhook may have moved the row further already (it can beat the
        # send answer): only the send path's own states are overwritten.
        await self.outbox_writes.submit(_Set(outbox_id, state, wamid, _json(error)))

    async def _write_outbox(self, ops: list[_Op]) -> list[int | BaseException | None]:
        news = [op for op in ops if isinstance(op, _New)]
        sets = [op for op in ops if isinstance(op, _Set)]
        aliases = [pair for op in ops if isinstance(op, _Aliases) for pair in op.pairs]
        try:
            ids = await self._db._call(_outbox_many, news, sets, aliases)
        except Exception as exc:
            if len(ops) == 1:
                return [exc]  # what the single statement raised
            return [await self._isolated(op) for op in ops]
        results: list[int | BaseException | None] = []
        n = 0
        for op in ops:
            if isinstance(op, _New):
                n += 1
                results.append(ids.get(n))
            else:
                results.append(None)
        return results

    async def _isolated(self, op: _Op) -> int | BaseException | None:
        """One operation alone, after its batch failed: only a bad one fails."""
        try:
            if isinstance(op, _Aliases):
                await self._db.executemany(_ALIAS_ONE, op.pairs)
                return None
            if isinstance(op, _Set):
                await self._db.execute(
                    _SET_ONE,
                    op.outbox_id,
                    op.state,
                    op.wamid,
                    None if op.error is None else orjson.loads(op.error),
                )
                return None
            outbox_id: int | None = await self._db.fetchval(
                _NEW_ONE,
                op.chip,
                op.key,
                op.kind,
                orjson.loads(op.payload),
                orjson.loads(op.decision),
                op.campaign_id,
                op.recipient_id,
            )
        except Exception as exc:
            return exc
        return outbox_id

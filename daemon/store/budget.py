"""``BudgetJournalRepository``: the budget coordinator's journal in ``budget_ledger``.

Why the ledger table is the journal: every booking (reservation, settlement with Meta's
real price, release) is a row, so the money a period has used is a query, and a restart
replays the same rows into the same state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from actors.budget.reconcile import RowState
from daemon.store.connection import transaction_of

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["BudgetJournalRepository"]

_KINDS = {"reserve": "reservation", "settle": "settlement", "release": "release"}
_CHECKPOINTS_KEPT = 3
_OPS = {v: k for k, v in _KINDS.items()}


_ENTRY = (
    "kind, ref, amount_usd, extract(epoch FROM at)::float8 AS at, waba_id, campaign_id,"
    " prev_usd, extract(epoch FROM booked_at)::float8 AS booked_at"
)
"""The columns a journal entry is read back from (:func:`_entry`)."""


def _outbox_id(ref: str) -> int | None:
    prefix, _, number = ref.partition(":")
    return int(number) if prefix == "o" and number.isdigit() else None


class BudgetJournalRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def load_entries(self, since: float) -> list[dict[str, Any]]:
        rows = await self._db.fetch(
            f"SELECT {_ENTRY} FROM budget_ledger WHERE at >= $1 ORDER BY id",
            dt.datetime.fromtimestamp(since, dt.UTC),
        )
        return [_entry(r) for r in rows]

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]:
        """Like :meth:`load_entries`, with the highest entry id at that moment (one
        snapshot): where :meth:`serialized` goes on from."""
        rows = await self._db.fetch(
            "WITH m AS (SELECT coalesce(max(id), 0) AS hw FROM budget_ledger)"
            f" SELECT m.hw, b.* FROM m LEFT JOIN (SELECT id, {_ENTRY} FROM budget_ledger"
            " WHERE at >= $1) b ON true ORDER BY b.id",
            dt.datetime.fromtimestamp(since, dt.UTC),
        )
        hw = int(rows[0]["hw"]) if rows else 0
        return [_entry(r) for r in rows if r["kind"] is not None], hw

    async def outbox_states(self, outbox_ids: Sequence[int]) -> dict[int, RowState]:
        """The state of each outbox row that exists among ``outbox_ids``, and how long it
        has not changed by the database's clock (the budget's reconciliation)."""
        out: dict[int, RowState] = {}
        for start in range(0, len(outbox_ids), _STATES_CHUNK):
            rows = await self._db.fetch(_STATES, list(outbox_ids[start : start + _STATES_CHUNK]))
            out.update(_states(rows))
        return out

    async def reconciled(
        self,
        after_id: int,
        outbox_ids: Sequence[int],
        decide: Callable[[list[dict[str, Any]], dict[int, RowState]], list[dict[str, Any]]],
    ) -> int:
        """:meth:`serialized` for the budget's reconciliation: the outbox rows are read
        inside the locked transaction, after the lock is held. Why: a daemon whose send
        takes over a cancelled row and reuses its reservation first commits the row,
        then books under this lock; read here, the row is seen taken over whenever that
        booking came first, and when it comes after, it sees this release. Returns
        the new high-water id."""
        async with transaction_of(self._db, "reconciled") as con:
            await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            rows = await con.fetch(_SINCE, after_id)
            high = max([after_id, *(int(r["hw"]) for r in rows)])
            states: dict[int, RowState] = {}
            for start in range(0, len(outbox_ids), _STATES_CHUNK):
                chunk = list(outbox_ids[start : start + _STATES_CHUNK])
                states.update(_states(await con.fetch(_STATES, chunk)))
            entries = decide([_entry(r) for r in rows], states)
            if entries:
                ids = await con.fetch(_INSERT + " RETURNING id", *_columns(entries))
                high = max([high, *(int(r["id"]) for r in ids)])
        return high

    async def serialized(
        self,
        after_id: int,
        decide: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> int:
        """Several daemons: one transaction under the budget's advisory lock reads the
        entries other daemons wrote since ``after_id``, lets ``decide`` apply them and
        choose what to write (the reservations that still fit), and writes it. Returns
        the new high-water id. Every daemon books under the same lock, so ids follow
        commit order and no cap check ever misses another daemon's booking."""
        async with transaction_of(self._db, "serialized") as con:
            await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            rows = await con.fetch(_SINCE, after_id)
            high = max([after_id, *(int(r["hw"]) for r in rows)])
            entries = decide([_entry(r) for r in rows])
            if entries:
                ids = await con.fetch(_INSERT + " RETURNING id", *_columns(entries))
                high = max([high, *(int(r["id"]) for r in ids)])
        return high

    async def claim_alerts(
        self, keys: Sequence[tuple[str, str, Decimal]], node: str | None = None
    ) -> set[tuple[str, str, Decimal]]:
        """Claim budget alerts by (scope, period key, threshold); return those claimed
        now, i.e. announced by nobody before (not by another daemon, nor before a
        restart). One statement: two daemons claiming at once get one each."""
        if not keys:
            return set()
        rows = await self._db.fetch(
            "INSERT INTO budget_alerts (scope, period_key, threshold, node)"
            " SELECT s, p, t, $4 FROM unnest($1::text[], $2::text[], $3::numeric[]) AS k(s, p, t)"
            " ON CONFLICT DO NOTHING RETURNING scope, period_key, threshold",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            node,
        )
        return {(r["scope"], r["period_key"], Decimal(r["threshold"])) for r in rows}

    async def save_entry(self, entry: dict[str, Any]) -> None:
        await self.save_entries([entry])

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> int | None:
        """One statement, one commit, rows in the given order (ids follow it: replay
        reads them back ``ORDER BY id``). Returns the last id written: the position a
        checkpoint taken now stands for."""
        if not entries:
            return None
        last = await self._db.fetchval(
            f"WITH w AS ({_INSERT} RETURNING id) SELECT max(id) FROM w", *_columns(entries)
        )
        return int(last)

    async def save_checkpoint(self, position: int, data: dict[str, Any]) -> None:
        """Keep the ledger's checkpoint as of entry ``position``; the older ones but the
        last few go (a start only reads the newest)."""
        async with transaction_of(self._db, "save_checkpoint") as con:
            await con.execute(
                "INSERT INTO budget_checkpoints (position, data) VALUES ($1, $2)"
                " ON CONFLICT (position) DO UPDATE SET data = EXCLUDED.data, taken_at = now()",
                position,
                data,
            )
            await con.execute(
                "DELETE FROM budget_checkpoints WHERE position < (SELECT min(position) FROM"
                " (SELECT position FROM budget_checkpoints ORDER BY position DESC LIMIT $1) k)",
                _CHECKPOINTS_KEPT,
            )

    async def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        row = await self._db.fetchrow(
            "SELECT position, data FROM budget_checkpoints ORDER BY position DESC LIMIT 1"
        )
        return None if row is None else (int(row["position"]), dict(row["data"]))

    async def entries_after(self, position: int) -> tuple[list[dict[str, Any]], int]:
        """For a start from the checkpoint at ``position``: every entry after it, and the
        highest id (one snapshot)."""
        rows = await self._db.fetch(
            "WITH m AS (SELECT coalesce(max(id), 0) AS hw FROM budget_ledger)"
            f" SELECT m.hw, b.* FROM m LEFT JOIN (SELECT id, {_ENTRY} FROM budget_ledger"
            " WHERE id > $1) b ON true ORDER BY b.id",
            position,
        )
        hw = max(position, int(rows[0]["hw"])) if rows else position
        return [_entry(r) for r in rows if r["kind"] is not None], hw

    async def settled(
        self, outbox_ids: Sequence[int], upto: int | None = None
    ) -> list[dict[str, Any]]:
        """The messages among ``outbox_ids`` whose last entry (up to id ``upto``, or any)
        is a settlement: its price, and when and where the message was booked (the
        settlement's ``booked_at``; for rows older than it, the reservation's time, or
        the settlement's own when it had none). A budget that does not hold them
        recalls them before a later price (:meth:`Ledger.remember_settled`)."""
        rows = await self._db.fetch(_SETTLED, list(outbox_ids), upto)
        return [
            {
                "id": f"o:{r['outbox_id']}",
                "amount": str(r["amount_usd"]),
                "booked_at": r["booked_at"],
                "waba": r["waba_id"],
                "campaign": r["campaign_id"],
            }
            for r in rows
        ]

    async def last_message(self, upto: int | None = None) -> int:
        """The highest outbox id the journal has an entry of (up to id ``upto``): a
        message above it has none, so there is nothing to recall for it."""
        found = await self._db.fetchval(
            "SELECT coalesce(max(outbox_id), 0) FROM budget_ledger"
            " WHERE $1::bigint IS NULL OR id <= $1",
            upto,
        )
        return int(found)


_INSERT = (
    "INSERT INTO budget_ledger (kind, ref, outbox_id, amount_usd, at, waba_id, campaign_id,"
    " prev_usd, booked_at)"
    " SELECT e.kind, e.ref, o.id, e.amount, e.at, e.waba, e.campaign, e.prev, e.booked_at"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[],"
    "             $5::timestamptz[], $6::text[], $7::text[], $8::numeric[], $9::timestamptz[])"
    "      WITH ORDINALITY AS e(kind, ref, outbox_id, amount, at, waba, campaign, prev,"
    "                           booked_at, n)"
    " LEFT JOIN outbox o ON o.id = e.outbox_id"
    " ORDER BY e.n"
)

_SINCE = f"SELECT id AS hw, {_ENTRY} FROM budget_ledger WHERE id > $1 ORDER BY id"

# Per message, its last entry up to $2 when that is a settlement (by the outbox_id
# index: a few entries each), and the reservation before it for rows written before
# settlements carried their booking time (migration 0016).
_SETTLED = """
SELECT m.id AS outbox_id, s.amount_usd, s.waba_id, s.campaign_id,
       extract(epoch FROM coalesce(s.booked_at, r.at, s.at))::float8 AS booked_at
FROM unnest($1::bigint[]) AS m(id)
JOIN LATERAL (
    SELECT id, kind, amount_usd, waba_id, campaign_id, at, booked_at FROM budget_ledger
    WHERE outbox_id = m.id AND ($2::bigint IS NULL OR id <= $2) ORDER BY id DESC LIMIT 1
) s ON s.kind = 'settlement'
LEFT JOIN LATERAL (
    SELECT at FROM budget_ledger
    WHERE outbox_id = m.id AND kind = 'reservation' AND id < s.id ORDER BY id DESC LIMIT 1
) r ON s.booked_at IS NULL
"""

_STATES = (
    "SELECT id, state, extract(epoch FROM now() - updated_at)::float8 AS idle_s"
    " FROM outbox WHERE id = ANY($1::bigint[])"
)
_STATES_CHUNK = 10_000
"""Outbox ids read per statement (a reconciliation after a long outage may hold many)."""

# int.from_bytes(b"metadbud"): the budget's advisory transaction lock (several daemons).
_LOCK_KEY = int.from_bytes(b"metadbud", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _columns(entries: Sequence[dict[str, Any]]) -> tuple[list[Any], ...]:
    return (
        [_KINDS[str(e["op"])] for e in entries],
        [str(e["id"]) for e in entries],
        [_outbox_id(str(e["id"])) for e in entries],
        [Decimal(str(e["amount"])) for e in entries],
        [dt.datetime.fromtimestamp(float(e["at"]), dt.UTC) for e in entries],
        [e.get("waba") for e in entries],
        [e.get("campaign") for e in entries],
        [None if e.get("prev") is None else Decimal(str(e["prev"])) for e in entries],
        [
            None
            if e.get("booked_at") is None
            else dt.datetime.fromtimestamp(float(e["booked_at"]), dt.UTC)
            for e in entries
        ],
    )


def _states(rows: Sequence[Any]) -> dict[int, RowState]:
    return {int(r["id"]): RowState(str(r["state"]), float(r["idle_s"])) for r in rows}


def _entry(r: Any) -> dict[str, Any]:
    entry = {
        "op": _OPS[r["kind"]],
        "id": r["ref"],
        "amount": str(r["amount_usd"]),
        "at": r["at"],
        "waba": r["waba_id"],
        "campaign": r["campaign_id"],
    }
    if r["prev_usd"] is not None:
        entry["prev"] = str(r["prev_usd"])
    if r["booked_at"] is not None:
        entry["booked_at"] = r["booked_at"]
    return entry

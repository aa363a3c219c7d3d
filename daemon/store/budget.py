"""``BudgetJournalRepository``: the budget coordinator's journal in ``budget_ledger``.

Why the ledger table is the journal: every booking (reservation, settlement with Meta's
real price, release) is a row, so the money a period has used is a query, and a restart
replays the same rows into the same state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["BudgetJournalRepository"]

_KINDS = {"reserve": "reservation", "settle": "settlement", "release": "release"}
_OPS = {v: k for k, v in _KINDS.items()}


def _outbox_id(ref: str) -> int | None:
    prefix, _, number = ref.partition(":")
    return int(number) if prefix == "o" and number.isdigit() else None


class BudgetJournalRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def load_entries(self, since: float) -> list[dict[str, Any]]:
        rows = await self._db.fetch(
            "SELECT kind, ref, amount_usd, extract(epoch FROM at)::float8 AS at, waba_id,"
            " campaign_id FROM budget_ledger WHERE at >= $1 ORDER BY id",
            dt.datetime.fromtimestamp(since, dt.UTC),
        )
        return [
            {
                "op": _OPS[r["kind"]],
                "id": r["ref"],
                "amount": str(r["amount_usd"]),
                "at": r["at"],
                "waba": r["waba_id"],
                "campaign": r["campaign_id"],
            }
            for r in rows
        ]

    async def save_entry(self, entry: dict[str, Any]) -> None:
        await self.save_entries([entry])

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> None:
        """One statement, one commit, rows in the given order (ids follow it: replay
        reads them back ``ORDER BY id``)."""
        if not entries:
            return
        await self._db.execute(
            "INSERT INTO budget_ledger (kind, ref, outbox_id, amount_usd, at, waba_id, campaign_id)"
            " SELECT e.kind, e.ref, o.id, e.amount, e.at, e.waba, e.campaign"
            " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[],"
            "             $5::timestamptz[], $6::text[], $7::text[])"
            "      WITH ORDINALITY AS e(kind, ref, outbox_id, amount, at, waba, campaign, n)"
            " LEFT JOIN outbox o ON o.id = e.outbox_id"
            " ORDER BY e.n",
            [_KINDS[str(e["op"])] for e in entries],
            [str(e["id"]) for e in entries],
            [_outbox_id(str(e["id"])) for e in entries],
            [Decimal(str(e["amount"])) for e in entries],
            [dt.datetime.fromtimestamp(float(e["at"]), dt.UTC) for e in entries],
            [e.get("waba") for e in entries],
            [e.get("campaign") for e in entries],
        )

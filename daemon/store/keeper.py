"""``KeeperRepository``: the conversations marked for keeping and what was last sent.

Why the window comes from the ``windows`` journal: the chips write every window change
there before it counts, so it is the same expiry the chip will check when the follow-up
reaches it; the keeper only needs to find candidates, the chip still decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.store.connection import Queries, Row

__all__ = ["KeeperRepository", "Mark"]


@dataclass(frozen=True, slots=True)
class Mark:
    chip: str
    contact: str
    window_expiry: float | None
    last_kept: float | None
    last_result: str | None
    """``sent``, ``refused`` or ``uncertain`` as the chip answered; ``failed`` once Meta's
    status webhook failed the message it took."""
    last_error_code: int | None = None
    """Meta's code for a ``failed`` one (131047: the window had closed)."""


def _epoch(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _mark(row: Row) -> Mark:
    return Mark(
        chip=row["chip"],
        contact=row["contact"],
        window_expiry=_epoch(row["expires_at"]),
        last_kept=_epoch(row["last_kept"]),
        last_result=row["last_result"],
        last_error_code=row["last_error_code"],
    )


_SELECT = (
    "SELECT k.chip, k.contact, k.last_kept, w.expires_at,"
    " CASE WHEN o.state = 'failed' THEN 'failed' ELSE k.last_result END AS last_result,"
    " CASE WHEN o.state = 'failed' AND jsonb_typeof(o.error -> 'code') = 'number'"
    "      THEN (o.error ->> 'code')::integer END AS last_error_code"
    " FROM keeper_marks k LEFT JOIN windows w"
    " ON w.chip = k.chip AND w.wa_id = k.contact AND w.kind = 'service'"
    " LEFT JOIN outbox o ON o.id = k.last_outbox_id"
)


class KeeperRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def mark(self, chip: str, contact: str) -> None:
        await self._db.execute(
            "INSERT INTO keeper_marks (chip, contact) VALUES ($1, $2)"
            " ON CONFLICT (chip, contact) DO NOTHING",
            chip,
            contact,
        )

    async def unmark(self, chip: str, contact: str) -> bool:
        status = await self._db.execute(
            "DELETE FROM keeper_marks WHERE chip = $1 AND contact = $2", chip, contact
        )
        return status.endswith(" 1")

    async def get(self, chip: str, contact: str) -> Mark | None:
        row = await self._db.fetchrow(
            _SELECT + " WHERE k.chip = $1 AND k.contact = $2", chip, contact
        )
        return None if row is None else _mark(row)

    async def marks(self) -> list[Mark]:
        return [_mark(r) for r in await self._db.fetch(_SELECT + " ORDER BY k.chip, k.contact")]

    async def candidates(self, now: float, lead_s: float) -> list[Mark]:
        """Marks whose service window closes within ``lead_s`` (the rule decides the rest)."""
        rows = await self._db.fetch(
            _SELECT + " WHERE w.expires_at > $1 AND w.expires_at <= $2",
            dt.datetime.fromtimestamp(now, dt.UTC),
            dt.datetime.fromtimestamp(now + lead_s, dt.UTC),
        )
        return [_mark(r) for r in rows]

    async def kept(
        self, chip: str, contact: str, at: float, result: str, outbox_id: int | None = None
    ) -> None:
        await self._db.execute(
            "UPDATE keeper_marks SET last_kept = $3, last_result = $4, last_outbox_id = $5"
            " WHERE chip = $1 AND contact = $2",
            chip,
            contact,
            dt.datetime.fromtimestamp(at, dt.UTC),
            result,
            outbox_id,
        )

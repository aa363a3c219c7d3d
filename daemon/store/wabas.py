"""``WabaRepository``: the persisted basic state of each WABA (``actors.ports.WabaRepo``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from actors.ports import WabaRecord

if TYPE_CHECKING:
    from daemon.store.connection import Queries, Row

__all__ = ["WabaRepository"]

_COLUMNS = "waba_id, name, status, restricted, updated_at"

_UPSERT = f"""
INSERT INTO wabas ({_COLUMNS})
VALUES ($1, $2, $3, $4, coalesce($5, now()))
ON CONFLICT (waba_id) DO UPDATE SET
    name = EXCLUDED.name,
    status = EXCLUDED.status,
    restricted = EXCLUDED.restricted,
    updated_at = EXCLUDED.updated_at
"""


def _record(row: Row) -> WabaRecord:
    return WabaRecord(
        waba_id=row["waba_id"],
        name=row["name"],
        status=row["status"],
        restricted=row["restricted"],
        updated_at=row["updated_at"],
    )


class WabaRepository:
    """Load and upsert ``WabaRecord`` rows; works on a ``Store`` or a transaction."""

    def __init__(self, db: Queries) -> None:
        self._db = db

    async def load(self, waba_id: str) -> WabaRecord | None:
        row = await self._db.fetchrow(f"SELECT {_COLUMNS} FROM wabas WHERE waba_id = $1", waba_id)
        return None if row is None else _record(row)

    async def save(self, record: WabaRecord) -> None:
        """Insert or replace the row; ``updated_at=None`` stores the server's now()."""
        await self._db.execute(
            _UPSERT,
            record.waba_id,
            record.name,
            record.status,
            record.restricted,
            record.updated_at,
        )

    async def all(self) -> list[WabaRecord]:
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM wabas ORDER BY waba_id")
        return [_record(r) for r in rows]

    async def load_effects(self, waba_id: str) -> list[tuple[float, dict[str, Any]]]:
        """Kill-switch effects in the order they happened, to fold again on restart."""
        rows = await self._db.fetch(
            "SELECT extract(epoch FROM at)::float8 AS at, data FROM events"
            " WHERE kind = 'waba_effect' AND subject = $1 ORDER BY id",
            waba_id,
        )
        return [(r["at"], dict(r["data"])) for r in rows]

    async def save_effect(self, waba_id: str, at: float, effect: dict[str, Any]) -> None:
        await self._db.execute(
            "INSERT INTO events (at, kind, subject, data) VALUES ($1, 'waba_effect', $2, $3)",
            dt.datetime.fromtimestamp(at, dt.UTC),
            waba_id,
            effect,
        )

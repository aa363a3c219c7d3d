"""``ChipRepository``: the persisted basic state of each phone number (``actors.ports.ChipRepo``).

Why a repository and not SQL in the actor: actors stay pure and are unit-tested with
in-memory fakes of the same Protocol; this is the real implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.ports import ChipRecord

if TYPE_CHECKING:
    from daemon.store.connection import Queries, Row

__all__ = ["ChipRepository"]

_COLUMNS = (
    "phone_number_id, waba_id, display_number, status, quality_rating, "
    "messaging_limit_tier, throughput_mps, paused, pause_reason, updated_at"
)

# The WABA row is created as a stub if missing (same statement, so the foreign key
# holds): chip and WABA actors start concurrently and neither may depend on the
# other having saved first. The config already checks that a chip's WABA exists.
_UPSERT = f"""
WITH waba AS (
    INSERT INTO wabas (waba_id) VALUES ($2) ON CONFLICT (waba_id) DO NOTHING
)
INSERT INTO chips ({_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()))
ON CONFLICT (phone_number_id) DO UPDATE SET
    waba_id = EXCLUDED.waba_id,
    display_number = EXCLUDED.display_number,
    status = EXCLUDED.status,
    quality_rating = EXCLUDED.quality_rating,
    messaging_limit_tier = EXCLUDED.messaging_limit_tier,
    throughput_mps = EXCLUDED.throughput_mps,
    paused = EXCLUDED.paused,
    pause_reason = EXCLUDED.pause_reason,
    updated_at = EXCLUDED.updated_at
"""


def _record(row: Row) -> ChipRecord:
    return ChipRecord(
        phone_number_id=row["phone_number_id"],
        waba_id=row["waba_id"],
        display_number=row["display_number"],
        status=row["status"],
        quality_rating=row["quality_rating"],
        messaging_limit_tier=row["messaging_limit_tier"],
        throughput_mps=row["throughput_mps"],
        paused=row["paused"],
        pause_reason=row["pause_reason"],
        updated_at=row["updated_at"],
    )


class ChipRepository:
    """Load and upsert ``ChipRecord`` rows; works on a ``Store`` or a transaction."""

    def __init__(self, db: Queries) -> None:
        self._db = db

    async def load(self, phone_number_id: str) -> ChipRecord | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM chips WHERE phone_number_id = $1", phone_number_id
        )
        return None if row is None else _record(row)

    async def save(self, record: ChipRecord) -> None:
        """Insert or replace the row; ``updated_at=None`` stores the server's now()."""
        await self._db.execute(
            _UPSERT,
            record.phone_number_id,
            record.waba_id,
            record.display_number,
            record.status,
            record.quality_rating,
            record.messaging_limit_tier,
            record.throughput_mps,
            record.paused,
            record.pause_reason,
            record.updated_at,
        )

    async def all(self) -> list[ChipRecord]:
        """Every chip, ordered by id (for startup and the console snapshot)."""
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM chips ORDER BY phone_number_id")
        return [_record(r) for r in rows]

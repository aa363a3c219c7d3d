"""``ChipJournalRepository``: what a chip writes so a restart rebuilds it (``actors.ports``).

Why floats at this boundary: the chip's rules work in epoch seconds (cheap to compare a
million windows); PostgreSQL stores ``timestamptz``. Conversions happen here only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from actors.ports import RecentSend

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["ChipJournalRepository"]

_WINDOW_HOURS = {"service": 24.0, "free_entry": 72.0}


def _ts(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class ChipJournalRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

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
        rows = await self._db.fetch(
            "SELECT alias, wa_id FROM contact_aliases WHERE wa_id IN ("
            " SELECT wa_id FROM windows WHERE chip = $1 UNION"
            " SELECT wa_id FROM outbox WHERE chip = $1"
            " AND updated_at > now() - interval '1 day')",
            chip,
        )
        return [(r["alias"], r["wa_id"]) for r in rows]

    async def save_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        await self._db.executemany(
            "INSERT INTO contact_aliases (alias, wa_id, kind) VALUES ($1, $2,"
            " CASE WHEN $1 LIKE '%.%' THEN 'bsuid' ELSE 'wa_id' END)"
            " ON CONFLICT (alias) DO UPDATE SET wa_id = EXCLUDED.wa_id",
            pairs,
        )

    async def load_transitions(self, chip: str) -> list[dict[str, Any]]:
        rows = await self._db.fetch(
            "SELECT data FROM quality_transitions WHERE chip = $1 ORDER BY id", chip
        )
        return [dict(r["data"]) for r in rows]

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
        rows = await self._db.fetch(
            "SELECT wa_id, extract(epoch FROM updated_at)::float8 AS at,"
            " coalesce((decision->>'business_initiated')::boolean, false) AS bi"
            " FROM outbox WHERE chip = $1 AND updated_at >= $2"
            " AND state IN ('accepted', 'sent', 'delivered', 'read', 'sending', 'in_doubt')"
            " ORDER BY updated_at",
            chip,
            _ts(since),
        )
        return [RecentSend(r["wa_id"], r["at"], r["bi"]) for r in rows]

    async def settle_abandoned(self, chip: str) -> None:
        """After a crash: held messages are cancelled, those mid-POST are in doubt."""
        await self._db.execute(
            "UPDATE outbox SET state = CASE state WHEN 'sending' THEN 'in_doubt'"
            " ELSE 'cancelled' END, updated_at = now()"
            " WHERE chip = $1 AND state IN ('queued', 'sending')",
            chip,
        )

    async def outbox_new(
        self,
        *,
        chip: str,
        key: str,
        kind: str,
        payload: Mapping[str, Any],
        decision: Mapping[str, Any],
        campaign_id: str | None,
        recipient_id: str | None,
    ) -> int | None:
        # A campaign recipient has one outbox row, ever (a unique index): a second send
        # finds it and gets None, unless the row was cancelled before its POST — then
        # it never reached Meta and is taken over for this attempt.
        outbox_id: int | None = await self._db.fetchval(
            "INSERT INTO outbox (chip, wa_id, kind, payload, decision, campaign_id, recipient_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (campaign_id, recipient_id) WHERE campaign_id IS NOT NULL DO UPDATE"
            " SET chip = EXCLUDED.chip, wa_id = EXCLUDED.wa_id, kind = EXCLUDED.kind,"
            " payload = EXCLUDED.payload, decision = EXCLUDED.decision, state = 'queued',"
            " error = NULL, updated_at = now() WHERE outbox.state = 'cancelled'"
            " RETURNING id",
            chip,
            key,
            kind,
            dict(payload),
            dict(decision),
            campaign_id,
            recipient_id,
        )
        return outbox_id

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
        await self._db.execute(
            "UPDATE outbox SET state = $2, wamid = coalesce($3, wamid),"
            " error = coalesce($4, error), updated_at = now(),"
            " attempts = attempts + (CASE WHEN $2 = 'sending' THEN 1 ELSE 0 END)"
            " WHERE id = $1 AND state IN ('queued', 'sending', 'in_doubt')",
            outbox_id,
            state,
            wamid,
            dict(error) if error is not None else None,
        )

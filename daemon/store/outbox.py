"""``OutboxRepository``: the journal of every message metad decided to send.

Why statuses are applied here, in SQL: status webhooks come out of order and in
duplicate, possibly to several daemons at once. The update only moves a row forward in
:data:`OUTBOX_RANK`, inside one statement, so "keep the highest" holds whatever the
arrival order and concurrency — a late ``delivered`` never undoes a ``read``.

The outbox id travels to Meta in ``biz_opaque_callback_data`` (:func:`callback_data`),
so a row left ``sending``/``in_doubt`` by a crash, which never learnt its wamid, is
still settled by its status webhook.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.store.connection import json_text

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["OUTBOX_RANK", "OutboxRepository", "StatusChange", "callback_data", "outbox_id_from"]

OUTBOX_RANK: dict[str, int] = {
    "queued": 0,
    "sending": 1,
    "in_doubt": 1,
    "accepted": 2,
    "sent": 3,
    "delivered": 4,
    "failed": 5,  # after sent/delivered: the failure carries the error that matters
    "read": 6,  # the recipient's device saw it: no failure report undoes that
}
"""Outbox states a status webhook may set, in the only order they may move."""

_PREFIX = "metad:o:"
_CALLBACK = re.compile(r"^metad:o:(\d{1,18})(?:;|$)")


def callback_data(outbox_id: int, extra: str = "") -> str:
    """``biz_opaque_callback_data`` for an outbox row (Meta echoes it on statuses)."""
    return f"{_PREFIX}{outbox_id}" + (f";{extra}" if extra else "")


def outbox_id_from(data: str | None) -> int | None:
    if not data:
        return None
    match = _CALLBACK.match(data)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A status to apply: by outbox id when the callback data carried one, else by wamid."""

    wamid: str
    status: str
    outbox_id: int | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    outbox_id: int
    chip: str
    wa_id: str
    state: str


_RANK_SQL = "CASE o.state " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in OUTBOX_RANK.items())
_RANK_SQL += " ELSE 99 END"

_APPLY = f"""
UPDATE outbox o SET
    state = s.status,
    wamid = coalesce(o.wamid, s.wamid),
    error = coalesce(s.error_json::jsonb, o.error),
    updated_at = now()
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::text[])
    AS s(wamid, status, outbox_id, rank, error_json)
WHERE (o.id = s.outbox_id OR (s.outbox_id IS NULL AND o.wamid = s.wamid))
  AND {_RANK_SQL} < s.rank
RETURNING o.id, o.chip, o.wa_id, o.state
"""


class OutboxRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def apply_statuses(self, changes: Sequence[StatusChange]) -> list[Applied]:
        """Move rows forward; returns the rows that changed. One change per message."""
        usable = [c for c in changes if c.status in OUTBOX_RANK]
        if not usable:
            return []
        rows = await self._db.fetch(
            _APPLY,
            [c.wamid for c in usable],
            [c.status for c in usable],
            [c.outbox_id for c in usable],
            [OUTBOX_RANK[c.status] for c in usable],
            [json_text(c.error) if c.error is not None else None for c in usable],
        )
        return [Applied(r["id"], r["chip"], r["wa_id"], r["state"]) for r in rows]

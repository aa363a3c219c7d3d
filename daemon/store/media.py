"""``MediaRepository``: uploaded media ids and upload handles, by owner and content hash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.store.connection import Queries

__all__ = ["CachedMedia", "MediaRepository"]


@dataclass(frozen=True, slots=True)
class CachedMedia:
    media_id: str
    mime_type: str
    uploaded_at: float
    expires_at: float


def _ts(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class MediaRepository:
    def __init__(self, db: Queries) -> None:
        self._db = db

    async def get(self, owner: str, sha256: str, kind: str) -> CachedMedia | None:
        row = await self._db.fetchrow(
            "SELECT media_id, mime_type, uploaded_at, expires_at FROM media_cache"
            " WHERE owner = $1 AND sha256 = $2 AND kind = $3",
            owner,
            sha256,
            kind,
        )
        if row is None:
            return None
        return CachedMedia(
            row["media_id"],
            row["mime_type"],
            row["uploaded_at"].timestamp(),
            row["expires_at"].timestamp(),
        )

    async def put(self, owner: str, sha256: str, kind: str, media: CachedMedia) -> None:
        await self._db.execute(
            "INSERT INTO media_cache (owner, sha256, kind, media_id, mime_type, uploaded_at,"
            " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (owner, sha256, kind) DO UPDATE SET media_id = EXCLUDED.media_id,"
            " mime_type = EXCLUDED.mime_type, uploaded_at = EXCLUDED.uploaded_at,"
            " expires_at = EXCLUDED.expires_at",
            owner,
            sha256,
            kind,
            media.media_id,
            media.mime_type,
            _ts(media.uploaded_at),
            _ts(media.expires_at),
        )

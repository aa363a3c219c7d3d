"""``MediaCache``: the media id (or header handle) for some bytes, uploading only when
needed.

Why keyed by (owner, content hash): a media id belongs to the phone number that uploaded
it, and the same file sent to ten thousand contacts must be uploaded once, not ten
thousand times. Handles for template headers (resumable uploads) belong to the app.
Expiry follows :mod:`daemon.media.policy`; the clock is injected.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from config.model import MediaConfig
from daemon.graph import GraphClient
from daemon.media.policy import expiry, usable
from daemon.store.media import CachedMedia, MediaRepository

__all__ = ["MediaCache"]

log = logging.getLogger("metad.media")

DEFAULT_APP_ID = "900000000000001"
"""The simulator's app id when ``[media] app_id`` is empty (sandbox)."""


class MediaCache:
    def __init__(
        self,
        graph: GraphClient,
        repo: MediaRepository,
        cfg: MediaConfig,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._graph = graph
        self._repo = repo
        self._cfg = cfg
        self._now = now
        self.uploads = 0
        """Uploads made by this cache (the rest were served from storage)."""

    async def _cached(self, owner: str, digest: str, kind: str) -> CachedMedia | None:
        hit = await self._repo.get(owner, digest, kind)
        margin = self._cfg.refresh_margin_h * 3600.0
        if hit is not None and usable(hit.expires_at, self._now(), margin):
            return hit
        return None

    async def media_id(
        self, phone_number_id: str, content: bytes, mime_type: str, filename: str = "file"
    ) -> str:
        """A media id ``phone_number_id`` may send, uploading ``content`` if needed."""
        digest = hashlib.sha256(content).hexdigest()
        hit = await self._cached(phone_number_id, digest, "media")
        if hit is not None:
            return hit.media_id
        now = self._now()
        media_id = await self._graph.upload_media(phone_number_id, content, mime_type, filename)
        self.uploads += 1
        cached = CachedMedia(media_id, mime_type, now, expiry(now, self._cfg.ttl_days))
        await self._repo.put(phone_number_id, digest, "media", cached)
        log.info(
            "uploaded %s (%d bytes) for %s: %s", filename, len(content), phone_number_id, media_id
        )
        return media_id

    async def header_handle(
        self, waba_id: str, content: bytes, mime_type: str, filename: str = "file"
    ) -> str:
        """A resumable-upload handle for a template header example (token of ``waba_id``)."""
        app_id = self._cfg.app_id or DEFAULT_APP_ID
        digest = hashlib.sha256(content).hexdigest()
        hit = await self._cached(app_id, digest, "handle")
        if hit is not None:
            return hit.media_id
        now = self._now()
        handle = await self._graph.resumable_upload(
            app_id, content, owner=waba_id, file_name=filename, file_type=mime_type
        )
        self.uploads += 1
        cached = CachedMedia(handle, mime_type, now, expiry(now, self._cfg.ttl_days))
        await self._repo.put(app_id, digest, "handle", cached)
        return handle

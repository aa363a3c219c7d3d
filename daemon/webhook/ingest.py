"""The hot path's rules: what a webhook POST's body must be before Meta gets its 200.

Why a plain object and not an HTTP handler: every webhook POST reaches the port's front
door (:mod:`daemon.webhook.front`, in the daemon or in its ingest worker processes), whose
small HTTP/1.1 server (:mod:`daemon.webhook.http1`) has already framed, bounded (413) and
read the body. What is left is the same whoever serves the port, so it is written once
here: check the signature, check it is a JSON object, and commit it to the inbox (group
commit with its neighbours). Parsing and routing happen afterwards, from the inbox.

Answers (:data:`REASONS`): 200 stored; 400 not a JSON object; 401 signature missing or
wrong; 503 storage unavailable (Meta retries later, so nothing is lost). The 413 for a
body over ``max_body_bytes`` is the HTTP layer's, counted here in :class:`IngestCounters`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from daemon.webhook.signature import verify

__all__ = ["REASONS", "Inbox", "IngestCounters", "WebhookIngest"]

log = logging.getLogger("metad.webhook")


class Inbox(Protocol):
    async def append(self, body: bytes) -> None: ...

    async def reject(self) -> None: ...


@dataclass(slots=True)
class IngestCounters:
    """In-memory counts since start, for metrics; the store keeps the durable ones.

    ``by_status`` and ``too_large`` are counted by the front door, which sees every
    answer (the 413 included); the rest by :meth:`WebhookIngest.take`.
    """

    stored: int = 0
    bad_json: int = 0
    bad_signature: int = 0
    too_large: int = 0
    unavailable: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


REASONS = {
    200: b"OK",
    400: b"body is not a JSON object",
    401: b"missing or wrong X-Hub-Signature-256",
    413: b"body too large",
    503: b"storage unavailable, retry later",
}
"""The body of each answer a webhook POST can get."""


@dataclass(slots=True)
class WebhookIngest:
    path: str
    """The webhook path: the front door takes ``POST`` to it, and relays anything else."""
    app_secret: bytes
    max_body_bytes: int
    """The bound the front door's HTTP layer holds every request body to."""
    inbox: Inbox
    on_stored: Callable[[], None] = lambda: None
    counters: IngestCounters = field(default_factory=IngestCounters)

    async def take(self, body: bytes, signature: str | None) -> int:
        """Decide and store one complete body; the status to answer.

        ``signature`` is the ``X-Hub-Signature-256`` header as sent (``None`` when
        absent). It is checked first, so nothing about an unsigned body is trusted or
        parsed; a body is stored only when the answer is 200.
        """
        if not verify(self.app_secret, body, signature):
            self.counters.bad_signature += 1
            try:
                await self.inbox.reject()
            except Exception:  # counting a rejection must never turn 401 into 500
                log.warning("could not record a rejected webhook", exc_info=True)
            return 401
        try:
            doc = orjson.loads(body)
        except ValueError:  # orjson's: not JSON, not UTF-8, or nested deeper than 1,024
            doc = None
        if not isinstance(doc, dict):
            self.counters.bad_json += 1
            return 400
        try:
            await self.inbox.append(body)
        except Exception as exc:
            self.counters.unavailable += 1
            log.error("webhook not stored, answering 503 so Meta retries: %s", exc)
            return 503
        self.counters.stored += 1
        self.on_stored()
        return 200

"""The hot path: ``POST /webhook`` as a lean ASGI handler in front of the Quart app.

Why not a Quart route: every Meta event of the fleet comes through here and Quart's
request machinery costs ~40 % of the throughput on hypercorn's trio worker (measured,
stack-notes §3). The handler does only what must happen before the 200: bound the body,
check the signature, check it is a JSON object, and commit it to the inbox (group
commit with its neighbours). Parsing and routing happen afterwards, from the inbox.

Answers: 200 stored; 400 not a JSON object; 401 signature missing or wrong; 413 too
large; 503 storage unavailable (Meta retries later, so nothing is lost).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from daemon.webhook.signature import verify

__all__ = ["REASONS", "ASGIApp", "Inbox", "IngestCounters", "WebhookIngest"]

log = logging.getLogger("metad.webhook")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Inbox(Protocol):
    async def append(self, body: bytes) -> None: ...

    async def reject(self) -> None: ...


@dataclass(slots=True)
class IngestCounters:
    """In-memory counts since start, for metrics; the store keeps the durable ones."""

    stored: int = 0
    bad_json: int = 0
    bad_signature: int = 0
    too_large: int = 0
    unavailable: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
_CLOSE = [*_HEADERS, (b"connection", b"close")]
"""For a 413: the rest of the body is left unread, so the server drops the connection
after answering; saying so keeps a keep-alive client from sending its next webhook on a
dead connection (found by tests/reliability: the next delivery failed without answer)."""


class _TooLarge(Exception):
    pass


@dataclass(slots=True)
class WebhookIngest:
    path: str
    app_secret: bytes
    max_body_bytes: int
    inbox: Inbox
    fallback: ASGIApp
    on_stored: Callable[[], None] = lambda: None
    counters: IngestCounters = field(default_factory=IngestCounters)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            status = await self._post(scope, receive)
            self.counters.by_status[status] = self.counters.by_status.get(status, 0) + 1
            await _respond(send, status)
        else:
            await self.fallback(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive) -> int:
        signature: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-hub-signature-256":
                signature = value.decode("latin-1")
            elif name == b"content-length" and _length(value) > self.max_body_bytes:
                self.counters.too_large += 1
                return 413
        try:
            body = await self._read(receive)
        except _TooLarge:
            self.counters.too_large += 1
            return 413
        return await self.take(body, signature)

    async def take(self, body: bytes, signature: str | None) -> int:
        """Decide and store one complete body; the status to answer.

        Shared by this ASGI path and the front door (:mod:`daemon.webhook.front`, in
        the daemon or its ingest workers), which bounds and reads the body itself.
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

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                raise _TooLarge  # pragma: no cover - nothing to answer anyway
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _length(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        return 0  # hypercorn itself rejects a malformed length; the read bound still holds


REASONS = {
    200: b"OK",
    400: b"body is not a JSON object",
    401: b"missing or wrong X-Hub-Signature-256",
    413: b"body too large",
    503: b"storage unavailable, retry later",
}


async def _respond(send: Send, status: int) -> None:
    body = REASONS[status]
    headers = _CLOSE if status == 413 else _HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""``POST /flows/<flow_name>``: the encrypted WhatsApp Flows data-exchange endpoint.

Why a bare ASGI handler beside the webhook ingest: Meta's client waits on this answer
while the user looks at a spinner, and every step is ours to order precisely, in the
order that leaks least:

1. bound the body (413) and check ``X-Hub-Signature-256`` against the app secret in
   constant time (432) — before anything else, so an unsigned caller learns nothing,
   not even which flow names exist;
2. find the flow's handler (404 for a name we do not serve);
3. parse the envelope (400) and open it with the business private key (421, so Meta's
   client fetches the public key again and retries) — the key file's current key, or,
   for a while after ``metad flows keygen --force``, the one it replaced (see
   :mod:`~daemon.flows.keyring`);
4. ``ping`` / error notification / the handler (427 when it rejects the flow token);
5. seal the reply under the same AES key and the inverted IV: 200, base64 text.

Nothing decrypted is logged above debug level, and the private key never is. A handler
that raises is a bug: it is logged with its traceback and answered 500 (Meta shows the
user a generic error); no other path answers 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.flows.crypto import (
    Envelope,
    MalformedEnvelope,
    OpenedRequest,
    UndecryptableRequest,
    open_request,
    parse_envelope,
    seal_response,
)
from daemon.flows.keyring import KeyRing
from daemon.flows.protocol import (
    BadFlowRequest,
    FlowHandler,
    InvalidFlowToken,
    answer,
    parse_request,
)
from daemon.webhook.asgi import ASGIApp, Message, Receive, Scope, Send
from daemon.webhook.signature import verify

__all__ = ["PREFIX", "FlowsCounters", "FlowsEndpoint"]

log = logging.getLogger("metad.flows")

PREFIX = "/flows/"

_REASONS: dict[int, bytes] = {
    400: b"not a Flows data-exchange request",
    404: b"no such flow",
    405: b"POST only",
    413: b"body too large",
    421: b"cannot decrypt the request",
    427: b"invalid or expired flow token",
    432: b"missing or wrong X-Hub-Signature-256",
    500: b"the flow's handler failed",
}


class _TooLarge(Exception):
    pass


@dataclass(slots=True)
class FlowsCounters:
    """Answers since start, by status (for metrics and tests)."""

    by_status: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class FlowsEndpoint:
    app_secret: bytes = field(repr=False)
    private_key: rsa.RSAPrivateKey | KeyRing = field(repr=False)
    """A fixed key, or the ring that follows the key file (what the daemon uses)."""
    handlers: Mapping[str, FlowHandler]
    """Flow name → its handler."""
    max_body_bytes: int = 1 << 20
    counters: FlowsCounters = field(default_factory=FlowsCounters)

    def in_front_of(self, app: ASGIApp) -> ASGIApp:
        """An ASGI app that serves ``/flows/…`` here and everything else with ``app``."""

        async def route(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith(PREFIX):
                await self(scope, receive, send)
            else:
                await app(scope, receive, send)

        return route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body = await self._handle(scope, receive)
        self.counters.by_status[status] = self.counters.by_status.get(status, 0) + 1
        ctype = b"text/plain; charset=utf-8"
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        if scope["method"] != "POST":
            return 405, _REASONS[405]
        name = scope["path"][len(PREFIX) :].strip("/")
        signature: str | None = None
        for key, value in scope["headers"]:
            if key == b"x-hub-signature-256":
                signature = value.decode("latin-1")
        try:
            raw = await self._read(receive)
        except _TooLarge:
            return 413, _REASONS[413]
        if not verify(self.app_secret, raw, signature):
            return 432, _REASONS[432]
        handler = self.handlers.get(name)
        if handler is None:
            return 404, _REASONS[404]
        try:
            opened = self._open(parse_envelope(raw))
            request = parse_request(opened.payload, name)
        except MalformedEnvelope:
            return 400, _REASONS[400]
        except UndecryptableRequest as exc:
            log.info("flow %s: request not decrypted (%s); answering 421", name, exc)
            return 421, _REASONS[421]
        except BadFlowRequest as exc:
            log.info("flow %s: decrypted request refused: %s", name, exc)
            return 400, _REASONS[400]
        try:
            reply: dict[str, Any] = await answer(request, handler)
        except InvalidFlowToken as exc:
            log.info("flow %s: flow token refused: %s", name, exc)
            return 427, _REASONS[427]
        except Exception:
            log.exception("flow %s: handler failed on %s", name, request.action)
            return 500, _REASONS[500]
        log.debug(
            "flow %s: %s on %s → %s", name, request.action, request.screen, reply.get("screen")
        )
        return 200, seal_response(reply, opened.aes_key, opened.iv).encode("ascii")

    def _open(self, envelope: Envelope) -> OpenedRequest:
        """The request opened by the first key that opens it (newest first); the first
        key's failure when none does."""
        ring = self.private_key
        keys = ring.keys() if isinstance(ring, KeyRing) else [ring]
        failure: UndecryptableRequest | None = None
        for key in keys:
            try:
                return open_request(key, envelope)
            except UndecryptableRequest as exc:
                failure = failure or exc
        assert failure is not None
        raise failure

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":
                raise _TooLarge  # the client left: nothing will be answered anyway
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

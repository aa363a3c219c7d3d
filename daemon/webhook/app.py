"""The webhook HTTP app: the lean ingest path in front of a Quart app for the rest.

Why two layers: ``POST /webhook`` is the fleet's hot path and is served by
:class:`~daemon.webhook.ingest.WebhookIngest` directly; everything else (the GET
verification handshake, health, later the Flows endpoint and metrics) is ordinary
routing, which Quart does well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from daemon.webhook.ingest import ASGIApp, Inbox, WebhookIngest
from daemon.webhook.signature import verify_token_matches

__all__ = ["create_app"]


def create_quart_app(*, path: str, verify_token: str) -> QuartTrio:
    app = QuartTrio("metad.webhook")

    @app.get(path)
    async def handshake() -> Response:
        args = request.args
        if args.get("hub.mode") == "subscribe" and verify_token_matches(
            verify_token, args.get("hub.verify_token")
        ):
            return Response(args.get("hub.challenge", ""), status=200, mimetype="text/plain")
        return Response("verification failed", status=403, mimetype="text/plain")

    @app.get("/healthz")
    async def health() -> Response:
        return Response("ok", mimetype="text/plain")

    return app


def create_app(
    *,
    path: str,
    app_secret: str,
    verify_token: str,
    max_body_bytes: int,
    inbox: Inbox,
    on_stored: Callable[[], None] = lambda: None,
    flows: Callable[[ASGIApp], ASGIApp] | None = None,
) -> WebhookIngest:
    """``flows`` puts the Flows endpoint (``/flows/…``) in front of the Quart app."""
    quart_app: Any = create_quart_app(path=path, verify_token=verify_token)
    fallback: ASGIApp = quart_app if flows is None else flows(quart_app)
    return WebhookIngest(
        path=path,
        app_secret=app_secret.encode(),
        max_body_bytes=max_body_bytes,
        inbox=inbox,
        fallback=fallback,
        on_stored=on_stored,
    )
